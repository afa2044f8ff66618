//! The service's configuration file (TOML), its environment overrides and its secrets.
//!
//! A [`Config`] is read by [`Config::load`] (a file) or [`Config::parse`] (text), each given
//! the environment as a map (the binary passes `std::env::vars()`; tests pass their own), and
//! then validated. Every key is optional; unknown keys are refused with an error naming the key
//! and its line. Durations are integers of seconds or strings with a unit: `"500ms"`, `"10s"`,
//! `"10m"`, `"1h"`, `"10d"`.
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
//! ```
//!
//! | environment variable | overrides |
//! | --- | --- |
//! | `PTA_DATA_DIR` | `data_dir` |
//! | `PTA_AGENT_LISTEN` | `agent.listen` |
//! | `PTA_REGISTRATION_LISTEN` | `registration.listen` |
//! | `PTA_API_LISTEN` | `api.listen` |
//! | `PTA_LOG` | `log.level` |
//! | `PTA_LOG_JSON` | `log.json` (`true`/`false`/`1`/`0`) |
//! | `PTA_ADMIN_TOKEN` | the admin token (instead of `secrets.admin_token_file`) |
//! | `PTA_API_KEYS` | the front-end API keys, comma separated (instead of `secrets.api_keys_file`) |
//!
//! Secrets (the admin token, the front-end API keys) are never accepted in the TOML itself:
//! [`Config::load_secrets`] reads them from the files or the environment into zeroizing
//! [`Secret`]s, each at least [`MIN_SECRET_LEN`] visible ASCII characters.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pta_cert::KeySize;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Visitor};
use zeroize::Zeroizing;

use crate::http::{ApiAuth, ApiOptions, RateLimit, RegistrationOptions};
use crate::{AuditRetention, Clock, Registrar, ServiceOptions, StatusPolicy};

/// Name of the SQLite file inside `data_dir`.
pub const DATABASE_FILE: &str = "pta.sqlite3";

/// Shortest admin token or API key accepted, in characters.
pub const MIN_SECRET_LEN: usize = 16;

/// Why a configuration could not be loaded. Messages name the key, the line, the variable or
/// the file; never a secret's value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    ///
    /// Check the path and its permissions.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse, or a key is unknown or of the wrong type.
    ///
    /// Fix the file at that line.
    #[error("configuration line {line}, column {column}: {message}")]
    Parse {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong (from the TOML parser; it names the key, never shows the line).
        message: String,
    },
    /// A secret was written into the TOML itself.
    ///
    /// Move it to a file named by `<key>_file`, or to its environment variable.
    #[error(
        "configuration line {line}: `{key}` is not accepted in the file: give a path with \
         `{key}_file` or set {env}"
    )]
    PlainSecret {
        /// The key (`secrets.admin_token`, ...).
        key: &'static str,
        /// Its environment variable.
        env: &'static str,
        /// 1-based line.
        line: usize,
    },
    /// A value is out of its range.
    ///
    /// Fix the named key.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The key.
        key: &'static str,
        /// What is allowed.
        reason: &'static str,
    },
    /// An environment variable holds a value that does not parse.
    ///
    /// Fix or unset the variable.
    #[error("invalid environment variable {var}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is expected.
        reason: &'static str,
    },
    /// A secret file could not be read.
    ///
    /// Check the path and its permissions.
    #[error("cannot read {key} {path}: {source}")]
    SecretFile {
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A secret is too short, empty, or holds characters an HTTP header cannot carry.
    ///
    /// Generate a new one (for example 32 random bytes, base64url).
    #[error("unusable {which}: {reason}")]
    BadSecret {
        /// Which secret (`admin token`, `API key 2`, ...).
        which: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The data directory could not be created.
    ///
    /// Check the path and the permissions of its parent.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The service's configuration. Every field has a default; see the module docs for the file
/// format.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Directory of the state (the SQLite file [`DATABASE_FILE`]); created 0700.
    pub data_dir: PathBuf,
    /// The agent listener.
    pub agent: AgentConfig,
    /// The registration endpoint.
    pub registration: RegistrationConfig,
    /// The API listener.
    pub api: ApiConfig,
    /// Sign-in settings.
    pub sign_in: SignInConfig,
    /// Settings of new tenants.
    pub tenants: TenantsConfig,
    /// Registration tokens.
    pub tokens: TokensConfig,
    /// Agent status policy.
    pub status: StatusConfig,
    /// Audit retention.
    pub audit: AuditConfig,
    /// Logging.
    pub log: LogConfig,
    /// Where the secrets are.
    pub secrets: SecretsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("/var/lib/pta-service"),
            agent: AgentConfig::default(),
            registration: RegistrationConfig::default(),
            api: ApiConfig::default(),
            sign_in: SignInConfig::default(),
            tenants: TenantsConfig::default(),
            tokens: TokensConfig::default(),
            status: StatusConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
            secrets: SecretsConfig::default(),
        }
    }
}

/// `[agent]`: the agents' mutual-TLS listener.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AgentConfig {
    /// Bind address (default `127.0.0.1:8443`).
    pub listen: SocketAddr,
    /// `host:port` addresses agents are told to connect to (default: the bound listener).
    pub endpoints: Vec<String>,
    /// DNS names and IP addresses in the service's TLS certificate (default `localhost`,
    /// `127.0.0.1`).
    pub server_names: Vec<String>,
    /// Most requests outstanding on one agent connection (default 256).
    pub max_in_flight: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            endpoints: Vec::new(),
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            max_in_flight: 256,
        }
    }
}

/// `[registration]`: the HTTPS registration endpoint.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RegistrationConfig {
    /// Bind address (default `127.0.0.1:8444`).
    pub listen: SocketAddr,
    /// Registrations per minute per source address (default 10).
    pub rate_limit_per_minute: u32,
    /// Registrations back to back per source address (default 5).
    pub rate_limit_burst: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8444)),
            rate_limit_per_minute: 10,
            rate_limit_burst: 5,
        }
    }
}

/// `[api]`: sign-in, admin, CRL, metrics and health.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ApiConfig {
    /// Bind address (default `127.0.0.1:8445`).
    pub listen: SocketAddr,
    /// Serve HTTPS with the service's certificate (default true); false only behind a
    /// TLS-terminating proxy (the binary logs a warning).
    pub tls: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8445)),
            tls: true,
        }
    }
}

/// `[sign_in]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SignInConfig {
    /// Time from the call to the verdict before the sign-in fails with a timeout (default
    /// 10 s, 100 ms to 5 min).
    #[serde(deserialize_with = "duration")]
    pub deadline: Duration,
}

impl Default for SignInConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(10),
        }
    }
}

/// `[tenants]`: settings of new tenants.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TenantsConfig {
    /// Agent limit of tenants created by the API and the CLI (default 40, at least 1).
    pub agent_limit: u32,
    /// RSA size of the tenant and service CA keys: 2048, 3072 (default) or 4096.
    #[serde(deserialize_with = "key_size")]
    pub ca_key_bits: KeySize,
    /// Lifetime of issued agent certificates (default 180 days, 1 day to 3 years).
    #[serde(deserialize_with = "duration")]
    pub agent_certificate_lifetime: Duration,
}

impl Default for TenantsConfig {
    fn default() -> Self {
        let registrar = Registrar::default();
        Self {
            agent_limit: crate::DEFAULT_AGENT_LIMIT,
            ca_key_bits: registrar.ca_key_size,
            agent_certificate_lifetime: registrar.agent_certificate_lifetime,
        }
    }
}

/// `[tokens]`: registration tokens.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TokensConfig {
    /// Lifetime of a token created without one (default 1 h, 1 min to 7 days).
    #[serde(deserialize_with = "duration")]
    pub lifetime: Duration,
}

impl Default for TokensConfig {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_millis(crate::DEFAULT_TOKEN_LIFETIME_MS),
        }
    }
}

/// `[status]`: when agents without a connection become inactive, then are purged.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StatusConfig {
    /// Default 10 minutes.
    #[serde(deserialize_with = "duration")]
    pub inactive_after: Duration,
    /// Default 10 days; longer than `inactive_after`.
    #[serde(deserialize_with = "duration")]
    pub purge_after: Duration,
}

impl Default for StatusConfig {
    fn default() -> Self {
        let policy = StatusPolicy::default();
        Self {
            inactive_after: Duration::from_millis(policy.inactive_after_ms),
            purge_after: Duration::from_millis(policy.purge_after_ms),
        }
    }
}

/// `[audit]`: retention of the audit log.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuditConfig {
    /// Events older than this are deleted (default 90 days).
    #[serde(deserialize_with = "duration")]
    pub max_age: Duration,
    /// At most this many events are kept (default 10 000 000, at least 1).
    pub max_rows: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        let retention = AuditRetention::default();
        Self {
            max_age: Duration::from_millis(retention.max_age_ms),
            max_rows: retention.max_rows,
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LogConfig {
    /// A tracing `EnvFilter` directive (default `info`).
    pub level: String,
    /// JSON lines instead of text (default false).
    pub json: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            json: false,
        }
    }
}

/// `[secrets]`: where the secrets are (never the secrets themselves).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct SecretsConfig {
    /// File holding the admin token (`PTA_ADMIN_TOKEN` wins over it).
    pub admin_token_file: Option<PathBuf>,
    /// File holding the front-end API keys, one per line (`PTA_API_KEYS` wins over it).
    pub api_keys_file: Option<PathBuf>,
}

/// A secret from a file or the environment: zeroized on drop, `[redacted]` in Debug, no
/// Display.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn check(text: &str, which: impl FnOnce() -> String) -> Result<Self, ConfigError> {
        let reason = if text.len() < MIN_SECRET_LEN {
            Some("shorter than 16 characters")
        } else if !text.bytes().all(|b| b.is_ascii_graphic()) {
            Some("only visible ASCII characters (no spaces) can be sent in a header")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ConfigError::BadSecret {
                which: which(),
                reason,
            }),
            None => Ok(Self(Zeroizing::new(text.to_owned()))),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The secrets the API listener authenticates with.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Secrets {
    /// The admin token, if configured (without it the admin endpoints answer 401).
    pub admin_token: Option<Secret>,
    /// The front-end API keys (without any the sign-in endpoint answers 401).
    pub api_keys: Vec<Secret>,
}

impl Secrets {
    /// Their SHA-256 hashes, for the API router.
    pub fn api_auth(&self) -> ApiAuth {
        ApiAuth::new(
            self.admin_token.as_ref().map(|s| s.expose().as_bytes()),
            self.api_keys.iter().map(|s| s.expose().as_bytes()),
        )
    }
}

/// The keys of the `[secrets]` table that would hold a secret in plain text.
const PLAIN_SECRETS: &[(&str, &str, &str)] = &[
    ("admin_token", "secrets.admin_token", "PTA_ADMIN_TOKEN"),
    ("api_keys", "secrets.api_keys", "PTA_API_KEYS"),
    ("api_key", "secrets.api_key", "PTA_API_KEYS"),
];

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
    /// [`ConfigError::PlainSecret`], [`ConfigError::Env`], [`ConfigError::Invalid`].
    pub fn parse(text: &str, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        if let Some(toml::Value::Table(secrets)) = table.get("secrets") {
            for (key, name, var) in PLAIN_SECRETS {
                if secrets.contains_key(*key) {
                    return Err(ConfigError::PlainSecret {
                        key: name,
                        env: var,
                        line: line_of_key(text, key),
                    });
                }
            }
        }
        let mut config: Self = toml::from_str(text).map_err(|e| parse_error(text, &e))?;
        config.apply_env(env)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the environment overrides (see the module docs).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Env`] for a value that does not parse.
    pub fn apply_env(&mut self, env: &HashMap<String, String>) -> Result<(), ConfigError> {
        if let Some(dir) = env.get("PTA_DATA_DIR") {
            if dir.is_empty() {
                return Err(ConfigError::Env {
                    var: "PTA_DATA_DIR",
                    reason: "empty",
                });
            }
            self.data_dir = PathBuf::from(dir);
        }
        let addr = |var: &'static str| -> Result<Option<SocketAddr>, ConfigError> {
            env.get(var)
                .map(|v| {
                    v.trim().parse().map_err(|_| ConfigError::Env {
                        var,
                        reason: "expected an address like 0.0.0.0:8443 or [::]:8443",
                    })
                })
                .transpose()
        };
        if let Some(a) = addr("PTA_AGENT_LISTEN")? {
            self.agent.listen = a;
        }
        if let Some(a) = addr("PTA_REGISTRATION_LISTEN")? {
            self.registration.listen = a;
        }
        if let Some(a) = addr("PTA_API_LISTEN")? {
            self.api.listen = a;
        }
        if let Some(level) = env.get("PTA_LOG") {
            self.log.level = level.clone();
        }
        if let Some(json) = env.get("PTA_LOG_JSON") {
            self.log.json = match json.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                _ => {
                    return Err(ConfigError::Env {
                        var: "PTA_LOG_JSON",
                        reason: "expected true or false",
                    });
                }
            };
        }
        Ok(())
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
            || self.tokens.lifetime > crate::http::MAX_TOKEN_LIFETIME
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
        Ok(())
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

    /// The runtime's settings.
    pub fn to_service_options(&self) -> ServiceOptions {
        let registrar = Registrar {
            ca_key_size: self.tenants.ca_key_bits,
            agent_certificate_lifetime: self.tenants.agent_certificate_lifetime,
        };
        let mut status = StatusPolicy::default();
        status.inactive_after_ms = millis(self.status.inactive_after);
        status.purge_after_ms = millis(self.status.purge_after);
        let mut audit_retention = AuditRetention::default();
        audit_retention.max_age_ms = millis(self.audit.max_age);
        audit_retention.max_rows = self.audit.max_rows;
        ServiceOptions {
            agent_listen: self.agent.listen,
            agent_endpoints: self.agent.endpoints.clone(),
            server_names: self.agent.server_names.clone(),
            sign_in_deadline: self.sign_in.deadline,
            max_in_flight_per_agent: self.agent.max_in_flight,
            wire: pta_wire::ServiceConfig::default(),
            status,
            audit_retention,
            registrar,
            service_key_size: self.tenants.ca_key_bits,
            ..ServiceOptions::default()
        }
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

    /// Reads the admin token and the front-end API keys: `PTA_ADMIN_TOKEN` or
    /// `secrets.admin_token_file` (whole file, surrounding white space trimmed);
    /// `PTA_API_KEYS` (comma separated) or `secrets.api_keys_file` (one per line, blank lines
    /// and `#` comments skipped). Missing ones are simply absent.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SecretFile`], [`ConfigError::BadSecret`].
    pub fn load_secrets(&self, env: &HashMap<String, String>) -> Result<Secrets, ConfigError> {
        let mut secrets = Secrets::default();
        let admin = match env.get("PTA_ADMIN_TOKEN").filter(|v| !v.is_empty()) {
            Some(value) => Some(Zeroizing::new(value.clone())),
            None => match &self.secrets.admin_token_file {
                Some(path) => Some(read_secret_file("secrets.admin_token_file", path)?),
                None => None,
            },
        };
        if let Some(admin) = admin {
            secrets.admin_token = Some(Secret::check(admin.trim(), || "admin token".into())?);
        }
        let (keys, separator) = match env.get("PTA_API_KEYS").filter(|v| !v.is_empty()) {
            Some(value) => (Some(Zeroizing::new(value.clone())), ','),
            None => match &self.secrets.api_keys_file {
                Some(path) => (Some(read_secret_file("secrets.api_keys_file", path)?), '\n'),
                None => (None, '\n'),
            },
        };
        if let Some(keys) = keys {
            for key in keys
                .split(separator)
                .map(str::trim)
                .filter(|k| !k.is_empty() && !k.starts_with('#'))
            {
                let n = secrets.api_keys.len() + 1;
                secrets
                    .api_keys
                    .push(Secret::check(key, || format!("API key {n}"))?);
            }
        }
        Ok(secrets)
    }
}

fn read_secret_file(key: &'static str, path: &Path) -> Result<Zeroizing<String>, ConfigError> {
    let bytes = Zeroizing::new(
        std::fs::read(path).map_err(|source| ConfigError::SecretFile {
            key,
            path: path.to_owned(),
            source,
        })?,
    );
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(ConfigError::BadSecret {
            which: key.to_owned(),
            reason: "the file is not UTF-8 text",
        }),
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

/// Parses `"10s"`-style durations (units `ms`, `s`, `m`, `h`, `d`); `None` if malformed.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms_per = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms_per).map(Duration::from_millis)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(r#"a duration: seconds, or a number with a unit like "500ms", "10s", "10m", "1h", "10d""#)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom("a duration must not be negative"))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Duration, E> {
            parse_duration(v).ok_or_else(|| {
                E::custom(r#"invalid duration: use seconds or a number with a unit ms, s, m, h or d, like "10s""#)
            })
        }
    }
    d.deserialize_any(V)
}

fn key_size<'de, D: Deserializer<'de>>(d: D) -> Result<KeySize, D::Error> {
    match u32::deserialize(d)? {
        2048 => Ok(KeySize::Rsa2048),
        3072 => Ok(KeySize::Rsa3072),
        4096 => Ok(KeySize::Rsa4096),
        _ => Err(D::Error::custom("ca_key_bits must be 2048, 3072 or 4096")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use pta_cert::KeySize;

    use super::{Config, ConfigError, parse_duration};

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, &HashMap::new())
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.sign_in.deadline, Duration::from_secs(10));
        assert_eq!(config.tokens.lifetime, Duration::from_secs(3600));
        assert_eq!(config.tenants.agent_limit, 40);
        assert_eq!(config.tenants.ca_key_bits, KeySize::Rsa3072);
        assert!(config.api.tls);
        assert!(config.secrets.admin_token_file.is_none());
        let options = config.to_service_options();
        assert_eq!(options.sign_in_deadline, Duration::from_secs(10));
        assert_eq!(options.max_in_flight_per_agent, 256);
        assert_eq!(options.status, crate::StatusPolicy::default());
        assert_eq!(options.audit_retention, crate::AuditRetention::default());
        assert_eq!(options.registrar, crate::Registrar::default());
        assert_eq!(
            config.database_path(),
            std::path::Path::new("/var/lib/pta-service/pta.sqlite3")
        );
    }

    #[test]
    fn the_documented_example_parses_to_its_values() {
        let text = include_str!("../../../examples/pta-service/pta-service.toml");
        let config = parse(text).unwrap();
        assert_eq!(config.agent.listen, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(
            config.agent.endpoints,
            vec!["pta.example.com:8443".to_owned()]
        );
        assert_eq!(config.registration.listen, "0.0.0.0:8444".parse().unwrap());
        assert_eq!(config.api.listen, "127.0.0.1:8445".parse().unwrap());
        assert_eq!(config.sign_in.deadline, Duration::from_secs(10));
        assert_eq!(config.status.purge_after, Duration::from_secs(10 * 86_400));
        assert_eq!(
            config.secrets.api_keys_file.as_deref(),
            Some(std::path::Path::new("/etc/pta/api-keys"))
        );
    }

    #[test]
    fn values_reach_the_service_options() {
        let config = parse(
            r#"
            data_dir = "/tmp/x"
            [agent]
            listen = "127.0.0.1:9000"
            endpoints = ["a.example:9000", "b.example:9001"]
            server_names = ["a.example"]
            max_in_flight = 7
            [sign_in]
            deadline = "1500ms"
            [tenants]
            ca_key_bits = 2048
            agent_certificate_lifetime = "30d"
            [status]
            inactive_after = 60
            purge_after = "2h"
            [audit]
            max_age = "1d"
            max_rows = 99
            "#,
        )
        .unwrap();
        let o = config.to_service_options();
        assert_eq!(o.agent_listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(o.agent_endpoints.len(), 2);
        assert_eq!(o.server_names, vec!["a.example".to_owned()]);
        assert_eq!(o.max_in_flight_per_agent, 7);
        assert_eq!(o.sign_in_deadline, Duration::from_millis(1500));
        assert_eq!(o.registrar.ca_key_size, KeySize::Rsa2048);
        assert_eq!(
            o.registrar.agent_certificate_lifetime,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(o.status.inactive_after_ms, 60_000);
        assert_eq!(o.status.purge_after_ms, 7_200_000);
        assert_eq!(o.audit_retention.max_age_ms, 86_400_000);
        assert_eq!(o.audit_retention.max_rows, 99);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("10d"), Some(Duration::from_secs(864_000)));
        for bad in [
            "",
            "10",
            "s",
            "10x",
            "-1s",
            "1.5s",
            "10 weeks",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let e = parse("[sign_in]\ndeadline = \"ten\"\n").unwrap_err();
        assert!(
            matches!(&e, ConfigError::Parse { line: 2, message, .. } if message.contains("invalid duration")),
            "{e}"
        );
        let e = parse("[sign_in]\n\ndeadline = -3\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 3, .. }), "{e}");
        let e = parse("[sign_in]\ndeadline = true\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let e = parse("data_dir = \"/x\"\n\n[api]\nlisten = \"127.0.0.1:1\"\ntsl = true\n")
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, ConfigError::Parse { line: 5, .. }), "{text}");
        assert!(text.contains("tsl") && text.contains("line 5"), "{text}");
        let e = parse("colour = 1\n").unwrap_err();
        assert!(
            e.to_string().contains("colour") && e.to_string().contains("line 1"),
            "{e}"
        );
        let e = parse("[nope]\n").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn syntax_and_type_errors_have_lines() {
        let e = parse("data_dir = \"/x\"\n[agent\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
        let e = parse("[agent]\nlisten = \"not an address\"\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
        let e = parse("[tenants]\nca_key_bits = 1024\n").unwrap_err();
        assert!(e.to_string().contains("2048, 3072 or 4096"), "{e}");
    }

    #[test]
    fn plain_secrets_are_refused_without_echo() {
        let e = parse("[secrets]\n\nadmin_token = \"hunter2hunter2hunter2\"\n").unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(
                e,
                ConfigError::PlainSecret {
                    key: "secrets.admin_token",
                    line: 3,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.contains("PTA_ADMIN_TOKEN") && !text.contains("hunter2"),
            "{text}"
        );
        let e = parse("[secrets]\napi_keys = [\"k-0123456789abcdef\"]\n").unwrap_err();
        assert!(e.to_string().contains("PTA_API_KEYS") && !e.to_string().contains("k-0123"));
    }

    #[test]
    fn environment_overrides() {
        let e = env(&[
            ("PTA_DATA_DIR", "/srv/pta"),
            ("PTA_AGENT_LISTEN", "127.0.0.1:1001"),
            ("PTA_REGISTRATION_LISTEN", "[::1]:1002"),
            ("PTA_API_LISTEN", "127.0.0.1:1003"),
            ("PTA_LOG", "debug,hyper=warn"),
            ("PTA_LOG_JSON", "true"),
            ("UNRELATED", "x"),
        ]);
        let config = Config::parse("data_dir = \"/x\"\n[log]\njson = false\n", &e).unwrap();
        assert_eq!(config.data_dir, std::path::Path::new("/srv/pta"));
        assert_eq!(config.agent.listen, "127.0.0.1:1001".parse().unwrap());
        assert_eq!(config.registration.listen, "[::1]:1002".parse().unwrap());
        assert_eq!(config.api.listen, "127.0.0.1:1003".parse().unwrap());
        assert_eq!(config.log.level, "debug,hyper=warn");
        assert!(config.log.json);
        let config = Config::parse("", &env(&[("PTA_LOG_JSON", "0")])).unwrap();
        assert!(!config.log.json);
    }

    #[test]
    fn bad_environment_values_are_named() {
        for (var, value) in [
            ("PTA_AGENT_LISTEN", "localhost"),
            ("PTA_REGISTRATION_LISTEN", "1.2.3.4"),
            ("PTA_API_LISTEN", ""),
            ("PTA_LOG_JSON", "maybe"),
            ("PTA_DATA_DIR", ""),
        ] {
            let e = Config::parse("", &env(&[(var, value)])).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Env { var: v, .. } if *v == var),
                "{e}"
            );
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn out_of_range_values_are_named() {
        for (text, key) in [
            ("data_dir = \"\"", "data_dir"),
            ("[agent]\nserver_names = []", "agent.server_names"),
            ("[agent]\nserver_names = [\" \"]", "agent.server_names"),
            ("[agent]\nendpoints = [\"nohost\"]", "agent.endpoints"),
            ("[agent]\nendpoints = [\"h:0\"]", "agent.endpoints"),
            ("[agent]\nmax_in_flight = 0", "agent.max_in_flight"),
            (
                "[registration]\nrate_limit_per_minute = 0",
                "registration.rate_limit_per_minute",
            ),
            (
                "[registration]\nrate_limit_burst = 0",
                "registration.rate_limit_burst",
            ),
            ("[sign_in]\ndeadline = \"50ms\"", "sign_in.deadline"),
            ("[sign_in]\ndeadline = \"6m\"", "sign_in.deadline"),
            ("[tenants]\nagent_limit = 0", "tenants.agent_limit"),
            (
                "[tenants]\nagent_certificate_lifetime = \"1h\"",
                "tenants.agent_certificate_lifetime",
            ),
            ("[tokens]\nlifetime = \"8d\"", "tokens.lifetime"),
            ("[tokens]\nlifetime = 10", "tokens.lifetime"),
            ("[status]\ninactive_after = 0", "status.inactive_after"),
            (
                "[status]\ninactive_after = \"1h\"\npurge_after = \"1h\"",
                "status.purge_after",
            ),
            ("[audit]\nmax_age = 0", "audit.max_age"),
            ("[audit]\nmax_rows = 0", "audit.max_rows"),
            ("[log]\nlevel = \"\"", "log.level"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
                "{text}: {e}"
            );
            assert!(e.to_string().contains(key));
        }
    }

    #[test]
    fn secrets_from_files_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        let keys = dir.path().join("keys");
        std::fs::write(&admin, "admin-token-0123456789\n").unwrap();
        std::fs::write(
            &keys,
            "# front ends\nkey-one-0123456789\n\n  key-two-0123456789  \n",
        )
        .unwrap();
        let text = format!(
            "[secrets]\nadmin_token_file = {:?}\napi_keys_file = {:?}\n",
            admin.display().to_string(),
            keys.display().to_string()
        );
        let config = parse(&text).unwrap();
        let secrets = config.load_secrets(&HashMap::new()).unwrap();
        assert_eq!(
            secrets.admin_token.as_ref().unwrap().expose(),
            "admin-token-0123456789"
        );
        let got: Vec<_> = secrets.api_keys.iter().map(|k| k.expose()).collect();
        assert_eq!(got, ["key-one-0123456789", "key-two-0123456789"]);
        let debug = format!("{secrets:?}");
        assert!(
            !debug.contains("0123456789") && debug.contains("[redacted]"),
            "{debug}"
        );
        let auth = secrets.api_auth();
        assert!(auth.has_admin_token());
        assert_eq!(auth.api_key_count(), 2);

        // The environment wins over the files.
        let e = env(&[
            ("PTA_ADMIN_TOKEN", "env-admin-0123456789"),
            ("PTA_API_KEYS", "env-key-a-0123456789, env-key-b-0123456789"),
        ]);
        let secrets = config.load_secrets(&e).unwrap();
        assert_eq!(
            secrets.admin_token.unwrap().expose(),
            "env-admin-0123456789"
        );
        let got: Vec<_> = secrets.api_keys.iter().map(|k| k.expose()).collect();
        assert_eq!(got, ["env-key-a-0123456789", "env-key-b-0123456789"]);

        // Nothing configured: nothing loaded.
        let none = Config::default().load_secrets(&HashMap::new()).unwrap();
        assert!(none.admin_token.is_none() && none.api_keys.is_empty());
    }

    #[test]
    fn bad_secrets_are_refused_without_echo() {
        let config = Config::default();
        let e = config
            .load_secrets(&env(&[("PTA_ADMIN_TOKEN", "short-secret")]))
            .unwrap_err();
        assert!(matches!(&e, ConfigError::BadSecret { .. }), "{e}");
        assert!(e.to_string().contains("admin token") && !e.to_string().contains("short-secret"));
        let e = config
            .load_secrets(&env(&[(
                "PTA_API_KEYS",
                "good-key-0123456789,bad key with blanks!!",
            )]))
            .unwrap_err();
        assert!(
            e.to_string().contains("API key 2") && !e.to_string().contains("blanks"),
            "{e}"
        );

        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.secrets.admin_token_file = Some(dir.path().join("missing"));
        let e = config.load_secrets(&HashMap::new()).unwrap_err();
        assert!(matches!(
            &e,
            ConfigError::SecretFile {
                key: "secrets.admin_token_file",
                ..
            }
        ));
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
        config.secrets.admin_token_file = Some(binary);
        let e = config.load_secrets(&HashMap::new()).unwrap_err();
        assert!(matches!(&e, ConfigError::BadSecret { .. }), "{e}");
    }

    #[test]
    fn missing_file_is_named() {
        let e = Config::load(
            std::path::Path::new("/nonexistent/pta.toml"),
            &HashMap::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/pta.toml"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn data_dir_is_created_0700() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().join("a").join("state"),
            ..Config::default()
        };
        let db = config.create_data_dir().unwrap();
        assert_eq!(db, config.data_dir.join("pta.sqlite3"));
        let mode = std::fs::metadata(&config.data_dir)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        // Again: an existing directory is fine.
        config.create_data_dir().unwrap();
        // A file in the way is an error naming the path.
        config.data_dir = dir.path().join("file");
        std::fs::write(&config.data_dir, b"x").unwrap();
        let e = config.create_data_dir().unwrap_err();
        assert!(matches!(e, ConfigError::DataDir { .. }), "{e}");
    }
}
