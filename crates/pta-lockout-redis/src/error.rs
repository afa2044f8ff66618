//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong in this crate.
///
/// [`RedisLockoutStore::connect`](crate::RedisLockoutStore::connect) returns the first five
/// variants. At run time the store's [`LockoutStore`](pta_lockout::LockoutStore) methods
/// return [`pta_lockout::LockoutError::Backend`] wrapping one of the last four: never a
/// decision, never a counted failure. No message carries a password from the URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisLockoutError {
    /// A [`RedisLockoutConfig`](crate::RedisLockoutConfig) field is unusable (a zero timeout,
    /// an empty key prefix). Fix the named field; nothing was built.
    #[error("invalid Redis lockout configuration: {field}")]
    InvalidConfig {
        /// Name of the offending field.
        field: &'static str,
    },

    /// The lockout policy does not validate. Fix the field the inner error names.
    #[error("invalid lockout policy")]
    Policy(#[source] pta_lockout::LockoutError),

    /// The URL is not a Redis URL (`redis://[user:password@]host:port[/db]`,
    /// `rediss://...` needs TLS support, which this build does not have). Fix the URL; it is
    /// not repeated here because it may hold a password.
    #[error("the Redis URL does not parse")]
    InvalidUrl(#[source] redis::RedisError),

    /// Redis at `host:port` refused the connection, the handshake or the authentication.
    /// Check that the server runs and the address, user and password are right.
    #[error("cannot connect to Redis at {host}:{port}")]
    Connect {
        /// Host from the URL (a socket path for a Unix socket).
        host: String,
        /// Port from the URL (0 for a Unix socket).
        port: u16,
        /// What failed.
        #[source]
        source: redis::RedisError,
    },

    /// Redis at `host:port` did not answer within the configured timeout while connecting.
    /// Check the address and the network, or raise the timeout.
    #[error("no answer from Redis at {host}:{port} within {timeout:?}")]
    ConnectTimeout {
        /// Host from the URL (a socket path for a Unix socket).
        host: String,
        /// Port from the URL (0 for a Unix socket).
        port: u16,
        /// The timeout that ran out.
        timeout: Duration,
    },

    /// A Redis command failed (connection lost, server error). The store reconnects by itself;
    /// the caller treats the attempt as undecided (fail closed or open, never as wrong
    /// credentials) and may retry.
    #[error("Redis command failed")]
    Command(#[source] redis::RedisError),

    /// A call did not complete within the configured timeout (Redis slow or unreachable).
    /// Nothing is known to have been recorded; treat the attempt as undecided.
    #[error("Redis lockout call timed out after {timeout:?}")]
    Timeout {
        /// The timeout that ran out.
        timeout: Duration,
    },

    /// A stored record does not decode: it is corrupt, or was written by a newer build.
    /// Delete the key (an administrator's unlock or unblock of that account or source does not
    /// help: it must read the record first), or upgrade this node.
    #[error("stored {record} record does not decode")]
    Corrupt {
        /// `"account"` or `"source"`.
        record: &'static str,
        /// The decode error, with offset.
        #[source]
        source: pta_lockout::LockoutError,
    },

    /// A record kept changing under this node's compare-and-set for `attempts` rounds (very
    /// heavy contention on one account or source). Nothing was recorded; retry the call.
    #[error("lockout record changed under {attempts} compare-and-set attempts")]
    Contention {
        /// Rounds tried.
        attempts: u32,
    },
}

impl From<RedisLockoutError> for pta_lockout::LockoutError {
    fn from(e: RedisLockoutError) -> Self {
        pta_lockout::LockoutError::Backend(Box::new(e))
    }
}
