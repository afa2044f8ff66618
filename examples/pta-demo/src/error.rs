//! [`DemoError`]: why the demo could not run.

use std::path::PathBuf;

/// Why the demo could not set itself up. Every variant means the demo stopped (what it had
/// started is stopped, its temporary directory removed); the binary exits with 2. No message
/// holds a password, a token or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// SIGINT and SIGTERM could not be watched.
    ///
    /// The host is unhealthy; check its limits.
    #[error("cannot watch signals")]
    Signals(#[source] std::io::Error),
    /// The temporary directory could not be created.
    ///
    /// Check `TMPDIR` and free space.
    #[error("cannot create a temporary directory")]
    TempDir(#[source] std::io::Error),
    /// The SQLite store in the temporary directory could not be opened.
    ///
    /// Check free space in the temporary directory.
    #[error("cannot open the store")]
    Store(#[source] pta_service::StoreError),
    /// The embedded service failed (start, tenant, token, agents); `what` says which step.
    ///
    /// Read the cause; run again.
    #[error("{what}")]
    Service {
        /// The step.
        what: &'static str,
        /// The cause.
        #[source]
        source: pta_service::ServiceError,
    },
    /// A listener could not be bound (`--api-port` in use?).
    ///
    /// Choose another port, or leave `--api-port` out.
    #[error(transparent)]
    Http(#[from] pta_service_http::HttpError),
    /// The operating system's random generator failed (the demo API key).
    ///
    /// The host is unhealthy.
    #[error("no randomness")]
    Random(#[source] getrandom::Error),
    /// The sample in-memory directory could not be built.
    ///
    /// A bug of the demo.
    #[error("sample directory")]
    SampleDirectory(#[source] pta_directory::DirectoryError),
    /// An agent could not be registered, configured or started; `what` says which step.
    ///
    /// With `--ldap-url`, check the LDAP options; otherwise read the cause.
    #[error("{what}")]
    Agent {
        /// The step (`agent registration failed`, `agent 1`, `LDAP options`, ...).
        what: String,
        /// The cause.
        #[source]
        source: pta_agent::Error,
    },
    /// A path given for the LDAP options is not UTF-8.
    ///
    /// Use a UTF-8 path.
    #[error("{} is not UTF-8", path.display())]
    NotUtf8 {
        /// The path.
        path: PathBuf,
    },
    /// The agents did not connect to the service within 30 s.
    ///
    /// Check the logs (`PTA_LOG=info`).
    #[error("the agents did not connect within 30 s")]
    AgentsNotConnected,
}

impl DemoError {
    /// The error and its causes on one line, `a: b: c`.
    pub fn report(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}
