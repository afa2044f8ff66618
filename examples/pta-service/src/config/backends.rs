//! The backends: the state store (`[store]`: SQLite or PostgreSQL) and the lockout store and
//! policy (`[lockout]`: memory or Redis, global and per-tenant knobs), with their passwords
//! read from files or the environment and put into the connection settings, never taken from
//! the TOML or a URL.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use pta_lockout::{LockoutError, Policy};
use pta_lockout_redis::RedisLockoutConfig;
use pta_store_postgres::PostgresConfig;
use zeroize::Zeroizing;

use super::schema::LockoutBackend;
use super::secrets::read_secret_file;
use super::{Config, ConfigError};

/// Where the state lives, as the configuration says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreTarget {
    /// A SQLite file (`data_dir/pta.sqlite3` by default).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by every node.
    Postgres {
        /// `store.url` as written (it holds no password).
        url: String,
        /// `host:port` of the server(s), for messages.
        endpoint: String,
    },
}

/// A password for a backend (PostgreSQL, Redis), read from a file or the environment:
/// zeroized on drop, `[redacted]` in Debug, no Display.
pub struct BackendPassword(Zeroizing<String>);

impl std::fmt::Debug for BackendPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The default Redis key prefix (as `pta_lockout_redis`'s).
const DEFAULT_KEY_PREFIX: &str = "pta:lockout:";

impl Config {
    /// Where the state lives: `store.url` (`postgres://`, `postgresql://` or `sqlite://`),
    /// else `store.path`, else `data_dir/pta.sqlite3`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] (a URL of another scheme, a PostgreSQL URL that does not parse
    /// or names no role, `url` beside `path`), [`ConfigError::PasswordInUrl`].
    pub fn store_target(&self) -> Result<StoreTarget, ConfigError> {
        let invalid = |reason| {
            Err(ConfigError::Invalid {
                key: "store.url",
                reason,
            })
        };
        let Some(url) = &self.store.url else {
            return Ok(StoreTarget::Sqlite(
                self.store
                    .path
                    .clone()
                    .unwrap_or_else(|| self.database_path()),
            ));
        };
        if self.store.path.is_some() {
            return Err(ConfigError::Invalid {
                key: "store.path",
                reason: "give either store.url or store.path, not both",
            });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return invalid("sqlite:// needs a file, like sqlite:///var/lib/pta/pta.sqlite3");
            }
            return Ok(StoreTarget::Sqlite(PathBuf::from(path)));
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return invalid("expected postgres://role@host:port/database or sqlite:///path");
        }
        // The driver's own parser; its error could quote the URL, so only the key is named.
        let Ok(pg) = url.parse::<tokio_postgres::Config>() else {
            return invalid("does not parse as postgres://role@host:port/database");
        };
        if pg.get_password().is_some() {
            return Err(ConfigError::PasswordInUrl {
                key: "store.url",
                file_key: "store.password_file",
                env: "PTA_STORE_PASSWORD_FILE",
            });
        }
        if pg.get_user().is_none_or(str::is_empty) {
            return invalid("must name the role: postgres://role@host:port/database");
        }
        if pg.get_hosts().is_empty() {
            return invalid("must name the host: postgres://role@host:port/database");
        }
        Ok(StoreTarget::Postgres {
            url: url.clone(),
            endpoint: endpoint(&pg),
        })
    }

    /// The PostgreSQL password: `PTA_STORE_PASSWORD`, else the file `PTA_STORE_PASSWORD_FILE`
    /// or `store.password_file` names (surrounding white space trimmed); `None` without any.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SecretFile`], [`ConfigError::BadSecret`] (not UTF-8, empty).
    pub fn load_store_password(
        &self,
        env: &HashMap<String, String>,
    ) -> Result<Option<BackendPassword>, ConfigError> {
        load_password(
            env,
            "PTA_STORE_PASSWORD",
            "store.password_file",
            self.store.password_file.as_ref(),
        )
    }

    /// The PostgreSQL settings when `store.url` is a PostgreSQL URL: the URL with the
    /// password of [`load_store_password`](Self::load_store_password) put in, the pool size
    /// and the connect timeout. `None` for SQLite.
    ///
    /// # Errors
    ///
    /// Those of [`store_target`](Self::store_target) and
    /// [`load_store_password`](Self::load_store_password).
    pub fn postgres_config(
        &self,
        env: &HashMap<String, String>,
    ) -> Result<Option<PostgresConfig>, ConfigError> {
        let StoreTarget::Postgres { url, .. } = self.store_target()? else {
            return Ok(None);
        };
        let url = match self.load_store_password(env)? {
            Some(password) => with_password(&url, &password.0),
            None => Zeroizing::new(url),
        };
        let mut config = PostgresConfig::new(url.as_str());
        config.pool_size = self.store.pool_size;
        config.connect_timeout = self.store.connect_timeout;
        Ok(Some(config))
    }

    /// Which lockout store: `lockout.store`, else `redis` when `lockout.redis_url` is set.
    pub fn lockout_backend(&self) -> LockoutBackend {
        match (self.lockout.store, &self.lockout.redis_url) {
            (Some(backend), _) => backend,
            (None, Some(_)) => LockoutBackend::Redis,
            (None, None) => LockoutBackend::Memory,
        }
    }

    /// The global lockout policy (the table's knobs over [`Policy::default`]) and each
    /// overridden tenant's (its knobs over the global policy), by tenant name.
    ///
    /// # Errors
    ///
    /// [`ConfigError::LockoutPolicy`] naming the first knob [`Policy::validate`] refuses, or
    /// a tenant name that cannot be one.
    pub fn lockout_policies(&self) -> Result<(Policy, BTreeMap<String, Policy>), ConfigError> {
        let global = self.lockout.global_knobs().apply(&Policy::default());
        global
            .validate()
            .map_err(|e| policy_error(&e, "lockout."))?;
        let mut tenants = BTreeMap::new();
        for (name, knobs) in &self.lockout.tenants {
            if !pta_service_http::is_valid_tenant_name(name) {
                return Err(ConfigError::LockoutPolicy {
                    key: format!("lockout.tenants.{name:?}"),
                    reason: "not a tenant name (1 to 128 bytes, no control characters, not an id)",
                });
            }
            let policy = knobs.apply(&global);
            policy
                .validate()
                .map_err(|e| policy_error(&e, &format!("lockout.tenants.{name:?}.")))?;
            tenants.insert(name.clone(), policy);
        }
        Ok((global, tenants))
    }

    /// The Redis settings of the default lockout store when `lockout.store` is `redis`: the
    /// URL with the password put in, the key prefix and the timeout. A tenant with its own
    /// policy gets the same with its prefix from [`tenant_key_prefix`](Self::tenant_key_prefix).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`], [`ConfigError::PasswordInUrl`], and those of reading the
    /// password ([`ConfigError::SecretFile`], [`ConfigError::BadSecret`]).
    pub fn redis_config(
        &self,
        env: &HashMap<String, String>,
    ) -> Result<Option<RedisLockoutConfig>, ConfigError> {
        if self.lockout_backend() != LockoutBackend::Redis {
            return Ok(None);
        }
        let url = self.checked_redis_url()?;
        let password = load_password(
            env,
            "PTA_LOCKOUT_REDIS_PASSWORD",
            "lockout.redis_password_file",
            self.lockout.redis_password_file.as_ref(),
        )?;
        let url = match password {
            Some(password) => with_password(url, &password.0),
            None => Zeroizing::new(url.to_owned()),
        };
        let mut config = RedisLockoutConfig::new(url.as_str());
        config.key_prefix = self.key_prefix().to_owned();
        if let Some(timeout) = self.lockout.timeout {
            config.timeout = timeout;
        }
        Ok(Some(config))
    }

    /// The Redis key prefix of the tenant named `name` when it has its own policy:
    /// `<prefix>t:<name, hex>:`, so that its records never mix with those of another policy.
    pub fn tenant_key_prefix(&self, name: &str) -> String {
        let mut prefix = format!("{}t:", self.key_prefix());
        for b in name.bytes() {
            prefix.push_str(&format!("{b:02x}"));
        }
        prefix.push(':');
        prefix
    }

    fn key_prefix(&self) -> &str {
        self.lockout
            .key_prefix
            .as_deref()
            .unwrap_or(DEFAULT_KEY_PREFIX)
    }

    fn checked_redis_url(&self) -> Result<&str, ConfigError> {
        let invalid = |key, reason| Err(ConfigError::Invalid { key, reason });
        let Some(url) = self.lockout.redis_url.as_deref() else {
            return invalid(
                "lockout.redis_url",
                "lockout.store = \"redis\" needs redis_url",
            );
        };
        let Some(rest) = url.strip_prefix("redis://") else {
            return invalid(
                "lockout.redis_url",
                "expected redis://[user@]host:port[/db]",
            );
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            return Err(ConfigError::PasswordInUrl {
                key: "lockout.redis_url",
                file_key: "lockout.redis_password_file",
                env: "PTA_LOCKOUT_REDIS_PASSWORD_FILE",
            });
        }
        Ok(url)
    }

    /// Checks `[store]` and `[lockout]` (called by [`validate`](Self::validate)).
    pub(super) fn validate_backends(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason| Err(ConfigError::Invalid { key, reason });
        self.store_target()?;
        if self.store.pool_size == 0 || self.store.pool_size > 1024 {
            return invalid("store.pool_size", "must be between 1 and 1024");
        }
        if self.store.connect_timeout < Duration::from_millis(100)
            || self.store.connect_timeout > Duration::from_secs(300)
        {
            return invalid("store.connect_timeout", "must be between 100ms and 5m");
        }
        match self.lockout_backend() {
            LockoutBackend::Redis => {
                self.checked_redis_url()?;
                if self.lockout.key_prefix.as_deref() == Some("") {
                    return invalid("lockout.key_prefix", "must not be empty");
                }
                if self.lockout.timeout.is_some_and(|t| t.is_zero()) {
                    return invalid("lockout.timeout", "must be above zero");
                }
            }
            _ => {
                if self.lockout.redis_url.is_some() {
                    return invalid(
                        "lockout.redis_url",
                        "set only with lockout.store = \"redis\"",
                    );
                }
            }
        }
        self.lockout_policies()?;
        Ok(())
    }
}

/// `host:port[, host:port ...]` of a PostgreSQL configuration, without role or password.
fn endpoint(pg: &tokio_postgres::Config) -> String {
    let ports = pg.get_ports();
    pg.get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
                tokio_postgres::config::Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `env_var`, else the file `<env_var>_FILE` or `file` names, trimmed.
fn load_password(
    env: &HashMap<String, String>,
    env_var: &'static str,
    key: &'static str,
    file: Option<&PathBuf>,
) -> Result<Option<BackendPassword>, ConfigError> {
    let text = match env.get(env_var).filter(|v| !v.is_empty()) {
        Some(value) => Zeroizing::new(value.clone()),
        None => {
            let from_env = env
                .get(&format!("{env_var}_FILE"))
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
            match from_env.as_ref().or(file) {
                Some(path) => read_secret_file(key, path)?,
                None => return Ok(None),
            }
        }
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::BadSecret {
            which: key.to_owned(),
            reason: "the password is empty",
        });
    }
    Ok(Some(BackendPassword(Zeroizing::new(trimmed.to_owned()))))
}

/// `scheme://[user]@host...` with `:<password, percent-encoded>` after the user.
fn with_password(url: &str, password: &str) -> Zeroizing<String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (user, host),
        None => ("", authority),
    };
    let mut out = Zeroizing::new(String::with_capacity(url.len() + password.len() * 3 + 2));
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(user);
    out.push(':');
    for b in password.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out.push('@');
    out.push_str(host);
    out.push_str(tail);
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn policy_error(e: &LockoutError, prefix: &str) -> ConfigError {
    let (field, reason) = match e {
        LockoutError::InvalidConfig { field } => (*field, policy_reason(field)),
        _ => ("", "is not a valid lockout policy"),
    };
    ConfigError::LockoutPolicy {
        key: format!("{prefix}{field}"),
        reason,
    }
}

fn policy_reason(field: &str) -> &'static str {
    match field {
        "threshold" => "must be between 1 and 255",
        "max_lockout_duration" => "must be at least lockout_duration",
        "spray_threshold" => "must be between 1 and 1024",
        "repeat_window" => "must be above zero, or \"off\"",
        _ => "must be above zero",
    }
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn the_password_goes_after_the_user_percent_encoded() {
        assert_eq!(
            with_password("postgres://pta@db:5432/pta?connect_timeout=3", "p@ss:w/rd").as_str(),
            "postgres://pta:p%40ss%3Aw%2Frd@db:5432/pta?connect_timeout=3"
        );
        assert_eq!(
            with_password("redis://127.0.0.1:6379/0", "s3cret").as_str(),
            "redis://:s3cret@127.0.0.1:6379/0"
        );
        assert_eq!(
            with_password("redis://u@h", "x y").as_str(),
            "redis://u:x%20y@h"
        );
    }
}
