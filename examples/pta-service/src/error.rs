//! [`CliError`]: why a command failed, with its exit code.

use pta_service::{AgentId, ServiceError, StoreError};
use pta_service_http::HttpError;

use crate::ConfigError;

/// Why a command failed. [`report`](Self::report) is the one line to print, and
/// [`exit_code`](Self::exit_code) the code to exit with: 2 for usage and configuration, 1 for
/// anything else. No message holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// No `--config FILE` was given.
    ///
    /// Give one (exit code 2).
    #[error("--config FILE is required (see pta-service --help)")]
    ConfigRequired,
    /// The configuration could not be loaded; the inner error names the key, the line, the
    /// variable or the file.
    ///
    /// Fix it (exit code 2).
    #[error("{0}")]
    Config(ConfigError),
    /// `log.level` (or `PTA_LOG`) is not a tracing `EnvFilter` directive.
    ///
    /// Fix it (exit code 2).
    #[error("invalid configuration: log.level {level:?}")]
    LogLevel {
        /// The directive given.
        level: String,
        /// What the filter parser says.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A tenant name given on the command line is empty, too long, holds control characters,
    /// or is itself a tenant id.
    ///
    /// Choose another name (exit code 2).
    #[error(
        "the tenant name must be 1 to 128 bytes without control characters, and not a tenant id"
    )]
    BadTenantName,
    /// `--lifetime` is not a duration, or is zero or longer than 7 days.
    ///
    /// Give a duration like `30m`, `1h` or `2d` (exit code 2).
    #[error("--lifetime {text:?}: expected a duration like 30m, 1h or 2d, at most 7d")]
    BadLifetime {
        /// What was given.
        text: String,
    },
    /// An agent id given on the command line does not parse.
    ///
    /// Copy it from `agents list` (exit code 2).
    #[error("{text:?} is not an agent id")]
    BadAgentId {
        /// What was given.
        text: String,
    },
    /// Logging could not be set up (a global subscriber was already installed).
    ///
    /// A bug of the binary (exit code 1).
    #[error("cannot set up logging")]
    Logging(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// SIGINT and SIGTERM could not be watched: the service could not stop cleanly.
    ///
    /// The host is unhealthy; check its limits (exit code 1).
    #[error("cannot watch signals")]
    Signals(#[source] std::io::Error),
    /// No tenant has this name or id.
    ///
    /// Check the name (`tenant create` makes one) (exit code 1).
    #[error("no tenant named or with id {key:?}")]
    NoSuchTenant {
        /// The name or id given.
        key: String,
    },
    /// A tenant with this name exists already.
    ///
    /// Use it, or choose another name (exit code 1).
    #[error("tenant {name:?} already exists")]
    TenantExists {
        /// The name.
        name: String,
    },
    /// No agent has this id.
    ///
    /// Check the id with `agents list` (exit code 1).
    #[error("no agent with id {agent}")]
    NoSuchAgent {
        /// The id.
        agent: AgentId,
    },
    /// The state store (PostgreSQL) could not be reached or refused the connection; the
    /// message names `host:port`, never the password.
    ///
    /// Check that the database runs there, the role, the password file and `pg_hba.conf`
    /// (exit code 1).
    #[error("cannot open the state store at {endpoint}")]
    StoreConnect {
        /// `host:port` of the database.
        endpoint: String,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// The lockout store (Redis) could not be reached or refused the connection; the inner
    /// error names `host:port`, never the password.
    ///
    /// Check that Redis runs there, the URL and the password file (exit code 1).
    #[error("cannot open the lockout store")]
    LockoutStore(#[source] pta_lockout_redis::RedisLockoutError),
    /// A listener could not be bound.
    ///
    /// Free the address or configure another one (exit code 1).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The service or its store failed; the inner error says how.
    ///
    /// Act on the inner error; a store backend failure is temporary (exit code 1).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

impl CliError {
    /// The exit code: 2 for usage and configuration errors, 1 for the others.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::ConfigRequired
            | Self::Config(_)
            | Self::LogLevel { .. }
            | Self::BadTenantName
            | Self::BadLifetime { .. }
            | Self::BadAgentId { .. } => 2,
            _ => 1,
        }
    }

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
