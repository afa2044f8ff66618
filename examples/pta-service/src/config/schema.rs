//! The file's schema: [`Config`] and one struct per table, with their defaults, and how
//! durations and key sizes are read.

use std::collections::BTreeMap;
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
    /// Where lockout state lives, its policy and its secret.
    pub lockout: LockoutConfig,
    /// Where the service's state lives (SQLite in `data_dir` unless `store.url` says otherwise).
    pub store: StoreConfig,
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
            store: StoreConfig::default(),
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

/// `[store]`: where the service's state lives. Without `url` and `path`: the SQLite file
/// [`DATABASE_FILE`](super::DATABASE_FILE) in `data_dir`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `postgres://role@host:port/database` (or `postgresql://`) for PostgreSQL, shared by
    /// every node; `sqlite:///path/to/file` for a SQLite file. Never with a password: a URL
    /// that holds one is refused ([`ConfigError::PasswordInUrl`](super::ConfigError::PasswordInUrl)).
    pub url: Option<String>,
    /// An explicit SQLite file (instead of `data_dir/pta.sqlite3`); not with `url`.
    pub path: Option<PathBuf>,
    /// File holding the PostgreSQL password (whole file, surrounding white space trimmed);
    /// `PTA_STORE_PASSWORD_FILE` wins over it, `PTA_STORE_PASSWORD` over both.
    pub password_file: Option<PathBuf>,
    /// PostgreSQL connections kept by this node (default 16, 1 to 1024).
    pub pool_size: usize,
    /// How long opening a PostgreSQL connection, or waiting for a free one, may take (default
    /// 5 s, 100 ms to 5 min).
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            path: None,
            password_file: None,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// `lockout.store`: which lockout store the node uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LockoutBackend {
    /// In this process only: a restart forgets it, other nodes do not see it.
    Memory,
    /// Redis at `lockout.redis_url`, shared by every node.
    Redis,
}

/// `[lockout]`: where smart-lockout state lives, the secret that keys its user keys and
/// password tags, and its policy (every knob optional: [`pta_lockout::Policy::default`]
/// otherwise), with per-tenant overrides in `[lockout.tenants."<tenant name>"]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LockoutConfig {
    /// File holding the lockout secret: its bytes as they are (no newline is trimmed), at
    /// least [`pta_lockout::LockoutSecret::MIN_LEN`] of them (`PTA_LOCKOUT_SECRET_FILE` wins
    /// over it). Required with a Redis lockout store (every node sharing it needs the same
    /// secret). Without it, a node on the in-memory store keeps a generated secret in
    /// `data_dir/lockout.secret` (with `persist`, the default) or generates one per start.
    pub secret_file: Option<PathBuf>,
    /// `memory` or `redis`; default `redis` when `redis_url` is set, else `memory`.
    pub store: Option<LockoutBackend>,
    /// `redis://[user@]host:port[/db]`, never with a password (`redis_password_file`).
    pub redis_url: Option<String>,
    /// File holding the Redis password (surrounding white space trimmed);
    /// `PTA_LOCKOUT_REDIS_PASSWORD_FILE` wins over it, `PTA_LOCKOUT_REDIS_PASSWORD` over both.
    pub redis_password_file: Option<PathBuf>,
    /// Prefix of every Redis key (default `pta:lockout:`); a tenant with its own policy gets
    /// `<prefix>t:<tenant name in hex>:`.
    pub key_prefix: Option<String>,
    /// Bound on every Redis call (default 1 s).
    #[serde(deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// Global policy: counted failures that lock (1 to 255, default 10).
    pub threshold: Option<u8>,
    /// Global policy: first lockout (default 60 s).
    #[serde(deserialize_with = "opt_duration")]
    pub lockout_duration: Option<Duration>,
    /// Global policy: cap of the doubling (default 1 h).
    #[serde(deserialize_with = "opt_duration")]
    pub max_lockout_duration: Option<Duration>,
    /// Global policy: quiet period (default 1 h).
    #[serde(deserialize_with = "opt_duration")]
    pub quiet_period: Option<Duration>,
    /// Global policy: familiar window (default 30 days).
    #[serde(deserialize_with = "opt_duration")]
    pub familiar_window: Option<Duration>,
    /// Global policy: repeat window (default 5 min, `"off"`: `Some(None)`).
    #[serde(deserialize_with = "opt_window")]
    pub repeat_window: Option<Option<Duration>>,
    /// Global policy: spray threshold (1 to 1024, default 30).
    pub spray_threshold: Option<u16>,
    /// Global policy: spray window (default 10 min).
    #[serde(deserialize_with = "opt_duration")]
    pub spray_window: Option<Duration>,
    /// Global policy: spray block duration (default 30 min).
    #[serde(deserialize_with = "opt_duration")]
    pub spray_block_duration: Option<Duration>,
    /// Per-tenant policies, by tenant name: each knob given replaces the global one.
    pub tenants: BTreeMap<String, PolicyConfig>,
    /// With the in-memory store, keep lockout state across restarts (default true): the
    /// records go to [`LOCKOUT_SNAPSHOT_FILE`](super::LOCKOUT_SNAPSHOT_FILE) in `data_dir`
    /// every `snapshot_interval` and at shutdown, and without `secret_file` the secret is kept
    /// in [`LOCKOUT_SECRET_FILE`](super::LOCKOUT_SECRET_FILE) there (created at the first
    /// start). Ignored with a Redis store, which keeps its own state.
    pub persist: Option<bool>,
    /// How often the lockout snapshot is written (default 10 s): what a crash can lose.
    #[serde(deserialize_with = "opt_duration")]
    pub snapshot_interval: Option<Duration>,
}

/// Smart-lockout policy knobs, each optional (missing ones inherit). Durations as everywhere;
/// `repeat_window` also takes `"off"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct PolicyConfig {
    /// Counted failures that lock (1 to 255, default 10).
    pub threshold: Option<u8>,
    /// First lockout (default 60 s); doubles with each further lockout.
    #[serde(deserialize_with = "opt_duration")]
    pub lockout_duration: Option<Duration>,
    /// Cap of the doubling (default 1 h).
    #[serde(deserialize_with = "opt_duration")]
    pub max_lockout_duration: Option<Duration>,
    /// Quiet time after which counts reset and the level steps down (default 1 h).
    #[serde(deserialize_with = "opt_duration")]
    pub quiet_period: Option<Duration>,
    /// How long a success keeps its location familiar (default 30 days).
    #[serde(deserialize_with = "opt_duration")]
    pub familiar_window: Option<Duration>,
    /// Window for rejecting a repeated bad password without the directory (default 5 min;
    /// `"off"` turns it off): `Some(None)` is off.
    #[serde(deserialize_with = "opt_window")]
    pub repeat_window: Option<Option<Duration>>,
    /// Distinct accounts a source may fail against within `spray_window` (1 to 1024,
    /// default 30).
    pub spray_threshold: Option<u16>,
    /// Spray detection window (default 10 min).
    #[serde(deserialize_with = "opt_duration")]
    pub spray_window: Option<Duration>,
    /// How long a spraying source is refused (default 30 min).
    #[serde(deserialize_with = "opt_duration")]
    pub spray_block_duration: Option<Duration>,
}

impl LockoutConfig {
    /// The global policy knobs of the table.
    pub fn global_knobs(&self) -> PolicyConfig {
        PolicyConfig {
            threshold: self.threshold,
            lockout_duration: self.lockout_duration,
            max_lockout_duration: self.max_lockout_duration,
            quiet_period: self.quiet_period,
            familiar_window: self.familiar_window,
            repeat_window: self.repeat_window,
            spray_threshold: self.spray_threshold,
            spray_window: self.spray_window,
            spray_block_duration: self.spray_block_duration,
        }
    }
}

impl PolicyConfig {
    /// `base` with every knob given here replacing its value.
    pub fn apply(&self, base: &pta_lockout::Policy) -> pta_lockout::Policy {
        let mut p = base.clone();
        if let Some(v) = self.threshold {
            p.threshold = v;
        }
        if let Some(v) = self.lockout_duration {
            p.lockout_duration = v;
        }
        if let Some(v) = self.max_lockout_duration {
            p.max_lockout_duration = v;
        }
        if let Some(v) = self.quiet_period {
            p.quiet_period = v;
        }
        if let Some(v) = self.familiar_window {
            p.familiar_window = v;
        }
        if let Some(v) = self.repeat_window {
            p.repeat_window = v;
        }
        if let Some(v) = self.spray_threshold {
            p.spray_threshold = v;
        }
        if let Some(v) = self.spray_window {
            p.spray_window = v;
        }
        if let Some(v) = self.spray_block_duration {
            p.spray_block_duration = v;
        }
        p
    }
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

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

fn opt_window<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Duration>>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(r#"a duration like "5m", or "off""#)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Option<Duration>, E> {
            u64::try_from(v)
                .map(|s| Some(Duration::from_secs(s)))
                .map_err(|_| E::custom("a duration must not be negative"))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Option<Duration>, E> {
            Ok(Some(Duration::from_secs(v)))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<Duration>, E> {
            if v.trim() == "off" {
                return Ok(None);
            }
            parse_duration(v).map(Some).ok_or_else(|| {
                E::custom(r#"invalid duration: use numbers with units like "5m", or "off""#)
            })
        }
    }
    d.deserialize_any(V).map(Some)
}

fn key_size<'de, D: Deserializer<'de>>(d: D) -> Result<KeySize, D::Error> {
    match u32::deserialize(d)? {
        2048 => Ok(KeySize::Rsa2048),
        3072 => Ok(KeySize::Rsa3072),
        4096 => Ok(KeySize::Rsa4096),
        _ => Err(D::Error::custom("ca_key_bits must be 2048, 3072 or 4096")),
    }
}
