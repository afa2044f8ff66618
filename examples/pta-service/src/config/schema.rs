//! The file's schema: [`Config`] and one struct per table, with their defaults, and how
//! durations and key sizes are read.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pta_cert::KeySize;
use pta_service::{AuditRetention, Registrar, StatusPolicy};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Visitor};

/// The service's configuration. Every field has a default; see the module docs for the file
/// format.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Directory of the state (the SQLite file [`DATABASE_FILE`](super::DATABASE_FILE)); created 0700.
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
    /// The lockout secret.
    pub lockout: LockoutConfig,
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
            lockout: LockoutConfig::default(),
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
            agent_limit: pta_service::DEFAULT_AGENT_LIMIT,
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
            lifetime: Duration::from_millis(pta_service::DEFAULT_TOKEN_LIFETIME_MS),
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

/// `[lockout]`: the secret that keys smart lockout's user keys and password tags.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LockoutConfig {
    /// File holding the lockout secret: its bytes as they are (no newline is trimmed), at
    /// least [`pta_lockout::LockoutSecret::MIN_LEN`] of them (`PTA_LOCKOUT_SECRET_FILE` wins
    /// over it). Without it the service generates a random secret at each start and logs a
    /// warning: fine for one node, wrong for several sharing a lockout store.
    pub secret_file: Option<PathBuf>,
}

/// Parses a duration the way every `pta` configuration does (humantime): a number with a unit,
/// like `"500ms"`, `"10s"`, `"10m"`, `"1h"`, `"10d"`, `"2w"`, or several of them, like
/// `"1h 30m"`; `None` if malformed, without a unit, or too large.
pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime_serde::re::humantime::parse_duration(text.trim()).ok()
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(r#"a duration: seconds, or numbers with units like "500ms", "10s", "10m", "1h 30m", "10d""#)
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
                E::custom(r#"invalid duration: use seconds or numbers with units (ms, s, m, h, d, w), like "10s" or "1h 30m""#)
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
