//! The service's configuration file (TOML), its environment overrides and its secrets.
//!
//! A [`Config`] is read by [`Config::load`] (a file) or [`Config::parse`] (text), each given
//! the environment as a map (the binary passes `std::env::vars()`; tests pass their own), and
//! then validated. Every key is optional; unknown keys are refused with an error naming the key
//! and its line. Durations are integers of seconds or strings in humantime's form, the one
//! every `pta` configuration uses: `"500ms"`, `"10s"`, `"10m"`, `"1h"`, `"10d"`, `"2w"`,
//! `"1h 30m"` (see [`parse_duration`]).
//!
//! ```toml
//! data_dir = "/var/lib/pta-service"     # holds pta.sqlite3; created 0700
//!
//! [agent]                               # the agents' mutual-TLS listener
//! listen = "0.0.0.0:8443"
//! endpoints = ["pta.example.com:8443"]  # told to agents at registration (default: listen)
//! server_names = ["pta.example.com"]    # DNS names / IPs in the service's TLS certificate
//! max_in_flight = 256                   # requests outstanding on one agent connection
//!
//! [registration]                        # the HTTPS registration endpoint
//! listen = "0.0.0.0:8444"
//! rate_limit_per_minute = 10            # per source address
//! rate_limit_burst = 5
//!
//! [api]                                 # sign-in, admin, CRL, metrics, health
//! listen = "127.0.0.1:8445"
//! tls = true                            # false only behind a TLS-terminating proxy
//!
//! [sign_in]
//! deadline = "10s"
//!
//! [tenants]
//! agent_limit = 40                      # set on tenants created by the API and the CLI
//! ca_key_bits = 3072                    # 2048, 3072 or 4096: tenant and service CA keys
//! agent_certificate_lifetime = "180d"
//!
//! [tokens]
//! lifetime = "1h"                       # registration tokens, when not given per token
//!
//! [status]
//! inactive_after = "10m"
//! purge_after = "10d"
//!
//! [audit]
//! max_age = "90d"
//! max_rows = 10000000
//!
//! [log]
//! level = "info"                        # a tracing EnvFilter directive
//! json = false
//!
//! [secrets]                             # never the secrets themselves
//! admin_token_file = "/etc/pta/admin-token"
//! api_keys_file = "/etc/pta/api-keys"   # one key per line, '#' comments
//!
//! [lockout]
//! secret_file = "/etc/pta/lockout.key"  # at least 32 bytes, read as they are
//! store = "redis"                       # or "memory" (default without redis_url)
//! redis_url = "redis://10.0.0.9:6379"   # never with a password
//! redis_password_file = "/etc/pta/redis-password"
//! key_prefix = "pta:lockout:"
//! timeout = "1s"
//! persist = true                        # memory store: state kept in data_dir across restarts
//! snapshot_interval = "10s"
//! threshold = 10                        # and the other policy knobs of PolicyConfig
//! repeat_window = "off"                 # a duration, or "off"
//!
//! [lockout.tenants."contoso"]           # per-tenant policy: any subset of the knobs
//! threshold = 3
//!
//! [store]                               # default: SQLite file data_dir/pta.sqlite3
//! url = "postgres://pta@10.0.0.8:5432/pta"   # never with a password
//! password_file = "/etc/pta/postgres-password"
//! pool_size = 16
//! connect_timeout = "5s"
//! ```
//!
//! | environment variable | overrides |
//! | --- | --- |
//! | `PTA_DATA_DIR` | `data_dir` |
//! | `PTA_AGENT_LISTEN` | `agent.listen` |
//! | `PTA_REGISTRATION_LISTEN` | `registration.listen` |
//! | `PTA_API_LISTEN` | `api.listen` |
//! | `PTA_LOCKOUT_SECRET_FILE` | `lockout.secret_file` |
//! | `PTA_STORE_PASSWORD_FILE`, `PTA_STORE_PASSWORD` | `store.password_file`; the password itself |
//! | `PTA_LOCKOUT_REDIS_PASSWORD_FILE`, `PTA_LOCKOUT_REDIS_PASSWORD` | `lockout.redis_password_file`; the password itself |
//! | `PTA_LOG` | `log.level` |
//! | `PTA_LOG_JSON` | `log.json` (`true`/`false`/`1`/`0`) |
//! | `PTA_ADMIN_TOKEN` | the admin token (instead of `secrets.admin_token_file`) |
//! | `PTA_API_KEYS` | the front-end API keys, comma separated (instead of `secrets.api_keys_file`) |
//!
//! Secrets (the admin token, the front-end API keys) are never accepted in the TOML itself:
//! [`Config::load_secrets`] reads them from the files or the environment into zeroizing
//! [`Secret`]s, each at least [`MIN_SECRET_LEN`] visible ASCII characters. The lockout secret
//! is the content of a file too: [`Config::load_lockout_secret`] reads its bytes as they are
//! (no newline trimmed: random bytes may end in one), at least
//! [`LockoutSecret::MIN_LEN`](pta_lockout::LockoutSecret::MIN_LEN) of them. The PostgreSQL and
//! Redis passwords come from files or the environment too, never from a URL (a URL holding a
//! password is refused with [`ConfigError::PasswordInUrl`]): [`Config::postgres_config`] and
//! [`Config::redis_config`] put them into the connection settings.

mod backends;
mod env;
mod error;
mod schema;
mod secrets;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pta_service::{AuditRetention, Clock, Registrar, ServiceOptions, StatusPolicy};
use pta_service_http::{ApiOptions, RateLimit, RegistrationOptions};

pub use backends::{BackendPassword, StoreTarget};
pub use error::ConfigError;
pub use schema::{
    AgentConfig, ApiConfig, AuditConfig, Config, LockoutBackend, LockoutConfig, LogConfig,
    PolicyConfig, RegistrationConfig, SecretsConfig, SignInConfig, StatusConfig, StoreConfig,
    TenantsConfig, TokensConfig, parse_duration,
};
pub use secrets::{Secret, Secrets};

use secrets::PLAIN_SECRETS;

/// Name of the SQLite file inside `data_dir`.
pub const DATABASE_FILE: &str = "pta.sqlite3";

/// Name of the lockout snapshot inside `data_dir` (in-memory lockout store, `persist`).
pub const LOCKOUT_SNAPSHOT_FILE: &str = "lockout.snapshot";

/// Name of the generated lockout secret inside `data_dir` (in-memory lockout store, `persist`,
/// no `secret_file`).
pub const LOCKOUT_SECRET_FILE: &str = "lockout.secret";

/// Shortest admin token or API key accepted, in characters.
pub const MIN_SECRET_LEN: usize = 16;

impl Config {
    /// Reads, parses and validates the file at `path`, then applies `env`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`], and those of [`parse`](Self::parse).
    pub fn load(path: &Path, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, env)
    }

    /// Parses TOML text, applies the environment overrides in `env`, and validates.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`] (syntax, unknown key, wrong type, bad duration),
    /// [`ConfigError::PlainSecret`], [`ConfigError::Env`], [`ConfigError::Invalid`],
    /// [`ConfigError::PasswordInUrl`], [`ConfigError::LockoutPolicy`].
    pub fn parse(text: &str, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        for (table_name, key, name, var) in PLAIN_SECRETS {
            if let Some(toml::Value::Table(t)) = table.get(*table_name)
                && t.contains_key(*key)
            {
                return Err(ConfigError::PlainSecret {
                    key: name,
                    env: var,
                    line: line_of_key(text, key),
                });
            }
        }
        let mut config: Self = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value's range.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the first key out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason| Err(ConfigError::Invalid { key, reason });
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data_dir", "must not be empty");
        }
        if self.agent.server_names.is_empty() {
            return invalid("agent.server_names", "needs at least one name");
        }
        if self.agent.server_names.iter().any(|n| n.trim().is_empty()) {
            return invalid("agent.server_names", "names must not be empty");
        }
        if self.agent.endpoints.iter().any(|e| !is_host_port(e)) {
            return invalid("agent.endpoints", "each must be host:port");
        }
        if self.agent.max_in_flight == 0 {
            return invalid("agent.max_in_flight", "must be at least 1");
        }
        if self.registration.rate_limit_per_minute == 0 {
            return invalid("registration.rate_limit_per_minute", "must be at least 1");
        }
        if self.registration.rate_limit_burst == 0 {
            return invalid("registration.rate_limit_burst", "must be at least 1");
        }
        if self.sign_in.deadline < Duration::from_millis(100)
            || self.sign_in.deadline > Duration::from_secs(300)
        {
            return invalid("sign_in.deadline", "must be between 100ms and 5m");
        }
        if self.tenants.agent_limit == 0 {
            return invalid("tenants.agent_limit", "must be at least 1");
        }
        if self.tenants.agent_certificate_lifetime < Duration::from_secs(86_400)
            || self.tenants.agent_certificate_lifetime > Duration::from_secs(3 * 366 * 86_400)
        {
            return invalid(
                "tenants.agent_certificate_lifetime",
                "must be between 1d and 3 years",
            );
        }
        if self.tokens.lifetime < Duration::from_secs(60)
            || self.tokens.lifetime > pta_service_http::MAX_TOKEN_LIFETIME
        {
            return invalid("tokens.lifetime", "must be between 1m and 7d");
        }
        if self.status.inactive_after.is_zero() {
            return invalid("status.inactive_after", "must be above zero");
        }
        if self.status.purge_after <= self.status.inactive_after {
            return invalid("status.purge_after", "must be longer than inactive_after");
        }
        if self.audit.max_age.is_zero() {
            return invalid("audit.max_age", "must be above zero");
        }
        if self.audit.max_rows == 0 {
            return invalid("audit.max_rows", "must be at least 1");
        }
        if self.log.level.trim().is_empty() {
            return invalid("log.level", "must not be empty");
        }
        self.validate_backends()
    }

    /// The SQLite file: `data_dir/pta.sqlite3`.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }

    /// Creates `data_dir` (mode 0700 on Unix, parents as needed) if it does not exist, and
    /// returns [`database_path`](Self::database_path). An existing directory is left as it is.
    ///
    /// # Errors
    ///
    /// [`ConfigError::DataDir`].
    pub fn create_data_dir(&self) -> Result<PathBuf, ConfigError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.data_dir)
            .map_err(|source| ConfigError::DataDir {
                path: self.data_dir.clone(),
                source,
            })?;
        Ok(self.database_path())
    }

    /// The runtime's settings. The lockout secret is not among them: `serve` sets
    /// [`ServiceOptions::lockout_secret`] from
    /// [`lockout_secret_for_serve`](Self::lockout_secret_for_serve).
    pub fn to_service_options(&self) -> ServiceOptions {
        let mut registrar = Registrar::default();
        registrar.ca_key_size = self.tenants.ca_key_bits;
        registrar.agent_certificate_lifetime = self.tenants.agent_certificate_lifetime;
        let mut status = StatusPolicy::default();
        status.inactive_after_ms = millis(self.status.inactive_after);
        status.purge_after_ms = millis(self.status.purge_after);
        let mut audit_retention = AuditRetention::default();
        audit_retention.max_age_ms = millis(self.audit.max_age);
        audit_retention.max_rows = self.audit.max_rows;
        let mut options = ServiceOptions::default();
        options.agent_listen = self.agent.listen;
        options.agent_endpoints = self.agent.endpoints.clone();
        options.server_names = self.agent.server_names.clone();
        options.sign_in_deadline = self.sign_in.deadline;
        options.max_in_flight_per_agent = self.agent.max_in_flight;
        options.wire = pta_wire::ServiceConfig::default();
        options.status = status;
        options.audit_retention = audit_retention;
        options.registrar = registrar;
        options.service_key_size = self.tenants.ca_key_bits;
        // Validated when the configuration was parsed; defaults if a caller changed it since.
        if let Ok((global, tenants)) = self.lockout_policies() {
            options.lockout = global;
            if self.lockout_backend() == LockoutBackend::Memory {
                options.lockout_tenant_policies = tenants.into_iter().collect();
            }
        }
        if self.lockout_persists() {
            options.lockout_snapshot = Some(self.data_dir.join(LOCKOUT_SNAPSHOT_FILE));
        }
        if let Some(every) = self.lockout.snapshot_interval {
            options.lockout_snapshot_interval = every;
        }
        options
    }

    /// The registration router's settings.
    pub fn registration_options(&self) -> RegistrationOptions {
        RegistrationOptions::new(RateLimit::new(
            self.registration.rate_limit_per_minute,
            self.registration.rate_limit_burst,
        ))
    }

    /// The API router's settings, with `secrets` and `clock`.
    pub fn api_options(&self, secrets: &Secrets, clock: Arc<dyn Clock>) -> ApiOptions {
        let mut options = ApiOptions::new(secrets.api_auth());
        options.token_lifetime = Some(self.tokens.lifetime);
        options.agent_limit = Some(self.tenants.agent_limit);
        options.clock = clock;
        options
    }

    /// Token lifetime in milliseconds (for offline token creation).
    pub fn token_lifetime_ms(&self) -> u64 {
        millis(self.tokens.lifetime)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

fn parse_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let (line, column) = match e.span() {
        Some(span) => line_column(text, span.start),
        None => (0, 0),
    };
    ConfigError::Parse {
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// The line of the first line that starts with `key` (for errors found on the table).
fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(0, |i| i + 1)
}
