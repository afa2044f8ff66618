use std::path::PathBuf;
use std::process::ExitStatus;

/// Why a fixture could not be started.
///
/// Every variant means the test cannot run against a real server: tests should fail with it
/// (`.expect("...")`), never skip. The message carries the server's own last log lines where
/// there are any.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program the fixture runs is not installed. Run `scripts/install-deps.sh` as root.
    #[error("{program} not found: run scripts/install-deps.sh as root to install {package}")]
    MissingProgram {
        /// The program that was looked for.
        program: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A file-system operation failed. Check permissions and free space at `path`.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A set-up command (openssl, slapadd, samba-tool, ...) failed. The output says why.
    #[error("{command} failed ({status}):\n{output}")]
    Command {
        /// The command line, without secrets.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// The end of its standard output and error.
        output: String,
    },
    /// The server process exited during start-up. The log says why.
    #[error("{server} exited during start-up ({status}); log {}:\n{log}", log_path.display())]
    Exited {
        /// Which server.
        server: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// Where its full log is.
        log_path: PathBuf,
        /// The end of its log.
        log: String,
    },
    /// The server did not accept connections in time. The log says why.
    #[error("{server} did not listen on {ports:?} within {seconds} s; log {}:\n{log}", log_path.display())]
    StartTimeout {
        /// Which server.
        server: &'static str,
        /// The ports waited for.
        ports: Vec<u16>,
        /// How long was waited.
        seconds: u64,
        /// Where its full log is.
        log_path: PathBuf,
        /// The end of its log.
        log: String,
    },
    /// A fixed port is taken by a process the fixture did not start. Stop that process.
    #[error("port {port} on 127.0.0.1 is in use by another program; stop it and retry")]
    PortBusy {
        /// The port.
        port: u16,
    },
    /// Another fixture held the Samba lock for too long (a hung test binary?).
    #[error("timed out after {seconds} s waiting for the Samba fixture lock {}", path.display())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long was waited.
        seconds: u64,
    },
    /// A name given to a fixture is not a plain identifier. Use lowercase letters, digits and
    /// `_` only (at most 63 bytes).
    #[error("{name:?} is not a plain identifier (lowercase letters, digits, _)")]
    InvalidName {
        /// The name refused.
        name: String,
    },
}

/// Result alias for fixture start-up.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
