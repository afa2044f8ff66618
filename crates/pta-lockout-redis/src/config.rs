//! The store's configuration.

use std::time::Duration;

/// Where the store's Redis is and how it uses it.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `url` | `redis://127.0.0.1:6379` | `redis://[user:password@]host:port[/db]` |
/// | `key_prefix` | `pta:lockout:` | prepended to every key (`<prefix>u:<hex user key>`, `<prefix>s:<hex source>`) |
/// | `timeout` | 1 s | bound on every call (connecting, and each check, record, unlock, status) |
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisLockoutConfig {
    /// The Redis URL. May carry a password: it is never printed (not even by `Debug`).
    pub url: String,
    /// Prefix of every key this store writes. Several deployments may share one Redis with
    /// different prefixes.
    pub key_prefix: String,
    /// Longest a call may take before it fails with
    /// [`RedisLockoutError::Timeout`](crate::RedisLockoutError::Timeout).
    pub timeout: Duration,
}

impl RedisLockoutConfig {
    /// The default configuration for the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

impl Default for RedisLockoutConfig {
    fn default() -> Self {
        Self {
            url: String::from("redis://127.0.0.1:6379"),
            key_prefix: String::from("pta:lockout:"),
            timeout: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for RedisLockoutConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLockoutConfig")
            .field("url", &"[redacted]")
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}
