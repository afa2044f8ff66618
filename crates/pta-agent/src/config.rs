//! The agent's configuration file (TOML). See `docs/AGENT.md` and
//! `examples/pta-agent/pta-agent.toml` for every key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pta_cert::KeySize;
use pta_directory::{
    Dialect, Directory, LdapConfig, LdapDirectory, LoginResolution, MemoryDirectory, MemoryUser,
    Password, ServiceAccount, SuffixRouter,
};
use serde::Deserialize;

use crate::proxy::ProxySettings;
use crate::secret::SecretString;
use crate::{ConfigError, ConfigReason, Error};

/// The whole configuration. Every section has defaults; `build_directory` needs a directory
/// section. `Debug` lists only the names of the [`Config::env`] variables, never their values.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct Config {
    /// Where the service is.
    pub service: ServiceSection,
    /// The directory the agent checks passwords against.
    pub directory: DirectorySection,
    /// Outbound HTTP CONNECT proxy.
    pub proxy: Option<ProxySection>,
    /// Limits.
    pub limits: LimitsSection,
    /// Timeouts.
    pub timeouts: TimeoutsSection,
    /// Reconnection back-off.
    pub reconnect: ReconnectSection,
    /// Certificate renewal.
    pub renewal: RenewalSection,
    /// The optional Prometheus metrics listener.
    pub metrics: Option<MetricsSection>,
    /// Logging (used by the binary).
    pub log: LogSection,
    /// A snapshot of the process environment for `*_env` settings and the `HTTPS_PROXY` /
    /// `NO_PROXY` defaults. Not read from the file; the binary fills it, tests pass a map.
    #[serde(skip)]
    pub env: HashMap<String, String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut env: Vec<&String> = self.env.keys().collect();
        env.sort();
        f.debug_struct("Config")
            .field("service", &self.service)
            .field("directory", &self.directory)
            .field("proxy", &self.proxy)
            .field("limits", &self.limits)
            .field("timeouts", &self.timeouts)
            .field("reconnect", &self.reconnect)
            .field("renewal", &self.renewal)
            .field("metrics", &self.metrics)
            .field("log", &self.log)
            .field("env (names only)", &env)
            .finish()
    }
}

impl Config {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] with the TOML error (line and column) or the I/O error.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::ConfigSyntax(e) => Error::Config {
                path: path.to_owned(),
                detail: e.to_string(),
            },
            other => other,
        })
    }

    /// What the `pta-agent` binary runs with: the file at `path` (defaults without one), and
    /// the process environment in [`Config::env`].
    ///
    /// # Errors
    ///
    /// As [`Config::from_file`].
    pub fn load(path: Option<&Path>) -> Result<Self, Error> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None => Self::default(),
        };
        config.env = std::env::vars().collect();
        Ok(config)
    }

    /// Parses configuration text.
    ///
    /// # Errors
    ///
    /// [`Error::ConfigSyntax`] with the TOML error (line and column).
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| Error::ConfigSyntax(Box::new(e)))
    }

    /// The proxy to use: the `[proxy]` section, else `HTTPS_PROXY` / `NO_PROXY` from
    /// [`Config::env`], else none.
    ///
    /// # Errors
    ///
    /// A bad proxy URL, or an unreadable password source.
    pub fn proxy_settings(&self) -> Result<Option<ProxySettings>, Error> {
        match &self.proxy {
            Some(section) => {
                let password = match (&section.password_file, &section.password_env) {
                    (None, None) => None,
                    (file, env) => Some(read_secret(file.as_deref(), env.as_deref(), &self.env)?),
                };
                let mut p = ProxySettings::parse(&section.url)?;
                if let Some(user) = &section.username {
                    p.credentials = Some((
                        user.clone(),
                        password.unwrap_or_else(|| SecretString::new("")),
                    ));
                }
                p.no_proxy = section.no_proxy.clone();
                Ok(Some(p))
            }
            None => ProxySettings::from_env(&self.env),
        }
    }

    /// Builds the directory backend (with the suffix router when routes are configured).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a missing, doubled or empty section, [`Error::Directory`] when the
    /// backend refuses the settings, [`Error::SecretSource`] for an unreadable password.
    pub fn build_directory(&self) -> Result<Arc<dyn Directory>, Error> {
        let d = &self.directory;
        let default = match (&d.ldap, &d.memory) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new("directory", ConfigReason::BothBackends).into());
            }
            (Some(l), None) => Some(l.build(&self.env)?),
            (None, Some(m)) => Some(m.build()?),
            (None, None) => None,
        };
        if d.route.is_empty() {
            return default
                .ok_or_else(|| ConfigError::new("directory", ConfigReason::NoBackend).into());
        }
        let mut router = SuffixRouter::new();
        for r in &d.route {
            let backend = match (&r.ldap, &r.memory) {
                (Some(l), None) => l.build(&self.env)?,
                (None, Some(m)) => m.build()?,
                _ => {
                    let suffix = r.suffix.clone();
                    let reason = ConfigReason::RouteBackend { suffix };
                    return Err(ConfigError::new("directory.route", reason).into());
                }
            };
            router = router.route(&r.suffix, backend);
        }
        if let Some(default) = default {
            router = router.default_directory(default);
        }
        Ok(Arc::new(router))
    }
}

fn read_secret(
    file: Option<&Path>,
    env_name: Option<&str>,
    env: &HashMap<String, String>,
) -> Result<SecretString, Error> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|_| Error::SecretSource(format!("file {}", path.display())))?;
        let trimmed = text.trim_end_matches(['\r', '\n']);
        return Ok(SecretString::new(trimmed));
    }
    if let Some(name) = env_name {
        return env
            .get(name)
            .map(|v| SecretString::new(v.as_str()))
            .ok_or_else(|| Error::SecretSource(format!("environment variable {name}")));
    }
    Err(Error::SecretSource(
        "nowhere (set password_file or password_env)".into(),
    ))
}

/// `[service]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServiceSection {
    /// Agent listener endpoints (`host:port`), tried in order; overrides the ones received at
    /// registration when not empty.
    pub endpoints: Vec<String>,
}

/// `[directory]`: one default backend (`[directory.ldap]` or `[directory.memory]`) and/or
/// `[[directory.route]]` entries choosing a backend by the login's UPN suffix.
///
/// Without routes the default backend gets every login. With routes, a login with a UPN
/// suffix goes to its route (an unrouted suffix is invalid credentials without any directory
/// request) and the default backend serves logins without a suffix (`DOMAIN\user`, a bare
/// uid, a DN), as `pta_directory::SuffixRouter` does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct DirectorySection {
    /// The default LDAP / Active Directory backend.
    pub ldap: Option<LdapSection>,
    /// The default in-memory backend.
    pub memory: Option<MemorySection>,
    /// Backends by UPN suffix.
    pub route: Vec<RouteSection>,
}

/// `[[directory.route]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RouteSection {
    /// The UPN suffix (`example.com` for `user@example.com`).
    pub suffix: String,
    /// An LDAP backend for it.
    pub ldap: Option<LdapSection>,
    /// An in-memory backend for it.
    pub memory: Option<MemorySection>,
}

/// Transport security towards the directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LdapTls {
    /// LDAPS for `ldaps://` URLs, StartTLS for `ldap://` URLs (default).
    #[default]
    Auto,
    /// Plain LDAP without TLS: passwords cross the network in clear. Lab use only.
    None,
}

/// Directory server software.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DialectSetting {
    /// Read the root DSE (default).
    #[default]
    Detect,
    /// Active Directory or Samba AD.
    Ad,
    /// OpenLDAP with ppolicy.
    Openldap,
}

/// How logins become bind names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ResolutionSetting {
    /// The DN template when one is set; else search when a service account is configured;
    /// else direct bind (default).
    #[default]
    Auto,
    /// Bind with the login as typed.
    Direct,
    /// Search for the entry, then bind as its DN.
    Search,
    /// Bind as `dn_template` with the login in place of `{login}`.
    Template,
}

/// An LDAP / Active Directory backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LdapSection {
    /// `ldaps://host:port` or `ldap://host:port`, tried in order.
    pub urls: Vec<String>,
    /// Search base; default from the root DSE.
    pub base_dn: Option<String>,
    /// Transport security.
    pub tls: LdapTls,
    /// PEM file with the CA that issued the directory servers' certificates.
    pub ca_file: Option<PathBuf>,
    /// Server software.
    pub dialect: DialectSetting,
    /// Login resolution.
    pub resolution: ResolutionSetting,
    /// Service (search) account bind name.
    pub bind_dn: Option<String>,
    /// File holding the service account's password (first line).
    pub bind_password_file: Option<PathBuf>,
    /// Environment variable holding the service account's password.
    pub bind_password_env: Option<String>,
    /// Bind DN with one `{login}`, for template resolution.
    pub dn_template: Option<String>,
    /// Attributes a login may equal in search-then-bind.
    pub login_attributes: Vec<String>,
    /// TCP + TLS connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout of one LDAP operation.
    #[serde(with = "humantime_serde")]
    pub operation_timeout: Duration,
    /// Bind connections per server.
    pub bind_pool_size: usize,
    /// First back-off after a server failed.
    #[serde(with = "humantime_serde")]
    pub server_backoff: Duration,
}

impl Default for LdapSection {
    fn default() -> Self {
        let d = LdapConfig::default();
        Self {
            urls: Vec::new(),
            base_dn: None,
            tls: LdapTls::Auto,
            ca_file: None,
            dialect: DialectSetting::Detect,
            resolution: ResolutionSetting::Auto,
            bind_dn: None,
            bind_password_file: None,
            bind_password_env: None,
            dn_template: None,
            login_attributes: Vec::new(),
            connect_timeout: d.connect_timeout,
            operation_timeout: d.operation_timeout,
            bind_pool_size: d.bind_pool_size,
            server_backoff: d.backoff_initial,
        }
    }
}

impl LdapSection {
    /// The backend.
    ///
    /// # Errors
    ///
    /// As [`Config::build_directory`].
    pub fn build(&self, env: &HashMap<String, String>) -> Result<Arc<dyn Directory>, Error> {
        if self.urls.is_empty() {
            return Err(ConfigError::new("directory.ldap.urls", ConfigReason::Empty).into());
        }
        let mut c = LdapConfig::new(self.urls.iter().cloned());
        if let Some(path) = &self.ca_file {
            c.ca_pem = Some(std::fs::read_to_string(path).map_err(|e| Error::Config {
                path: path.clone(),
                detail: e.to_string(),
            })?);
        }
        if self.tls == LdapTls::None {
            c.starttls = false;
            c.allow_insecure = true;
        }
        c.dialect = match self.dialect {
            DialectSetting::Detect => Dialect::Detect,
            DialectSetting::Ad => Dialect::ActiveDirectory,
            DialectSetting::Openldap => Dialect::OpenLdap,
        };
        c.resolution = match self.resolution {
            ResolutionSetting::Auto => LoginResolution::Auto,
            ResolutionSetting::Direct => LoginResolution::Direct,
            ResolutionSetting::Search => LoginResolution::Search,
            ResolutionSetting::Template => LoginResolution::Template,
        };
        if let Some(dn) = &self.bind_dn {
            let secret = read_secret(
                self.bind_password_file.as_deref(),
                self.bind_password_env.as_deref(),
                env,
            )?;
            c.service_account = Some(ServiceAccount {
                bind_name: dn.clone(),
                password: Password::new(secret.expose()),
            });
        }
        c.base_dn = self.base_dn.clone();
        c.dn_template = self.dn_template.clone();
        c.login_attributes = self.login_attributes.clone();
        c.connect_timeout = self.connect_timeout;
        c.operation_timeout = self.operation_timeout;
        c.bind_pool_size = self.bind_pool_size.max(1);
        c.backoff_initial = self.server_backoff;
        Ok(Arc::new(LdapDirectory::new(c)?))
    }
}

/// An in-memory backend (demos and tests): users inline and/or from a users file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MemorySection {
    /// A users file in `pta-directory`'s format (`[[user]]` tables).
    pub users_file: Option<PathBuf>,
    /// Users given inline, same fields as the users file (`login`, `password` as an Argon2id
    /// PHC string, `locked`, `disabled`, ...).
    pub user: Vec<MemoryUser>,
}

impl MemorySection {
    /// The backend.
    ///
    /// # Errors
    ///
    /// [`Error::Directory`] for a bad users file or user.
    pub fn build(&self) -> Result<Arc<dyn Directory>, Error> {
        let mut users = self.user.clone();
        if let Some(path) = &self.users_file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct File {
                #[serde(default)]
                user: Vec<MemoryUser>,
            }
            let file: File = toml::from_str(&text).map_err(|e| Error::Config {
                path: path.clone(),
                detail: e.to_string(),
            })?;
            users.extend(file.user);
        }
        // Argon2id is CPU work: off the runtime's thread (see `offload`).
        Ok(Arc::new(crate::offload::OnBlockingPool::new(
            MemoryDirectory::from_users(users)?,
        )))
    }
}

/// `[proxy]`: an HTTP proxy reached with CONNECT.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ProxySection {
    /// `http://host:port`.
    pub url: String,
    /// Basic-auth user name.
    pub username: Option<String>,
    /// File holding the basic-auth password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the basic-auth password.
    pub password_env: Option<String>,
    /// Hosts reached directly (exact names, `.suffix` / `suffix` for subdomains, `*` for all).
    pub no_proxy: Vec<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LimitsSection {
    /// Most requests processed concurrently (announced in Hello; default 64).
    pub max_in_flight: u32,
    /// Key size for registration and renewal: 2048, 3072 (default) or 4096.
    pub key_bits: u32,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            key_bits: 3072,
        }
    }
}

impl LimitsSection {
    /// The key size.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a size other than 2048, 3072 or 4096.
    pub fn key_size(&self) -> Result<KeySize, Error> {
        match self.key_bits {
            2048 => Ok(KeySize::Rsa2048),
            3072 => Ok(KeySize::Rsa3072),
            4096 => Ok(KeySize::Rsa4096),
            n => Err(ConfigError::new("limits.key_bits", ConfigReason::KeyBits(n)).into()),
        }
    }
}

/// `[timeouts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TimeoutsSection {
    /// TCP connect (and proxy CONNECT) timeout (default 10 s).
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// TLS handshake timeout (default 10 s).
    #[serde(with = "humantime_serde")]
    pub tls_handshake: Duration,
    /// How long a shutdown waits for in-flight requests (default 10 s).
    #[serde(with = "humantime_serde")]
    pub drain: Duration,
    /// The whole registration exchange (default 60 s).
    #[serde(with = "humantime_serde")]
    pub registration: Duration,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            tls_handshake: Duration::from_secs(10),
            drain: Duration::from_secs(10),
            registration: Duration::from_secs(60),
        }
    }
}

/// `[reconnect]`: jittered exponential back-off between connection attempts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ReconnectSection {
    /// First delay (default 1 s); doubles per failed attempt.
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// Largest delay (default 30 s).
    #[serde(with = "humantime_serde")]
    pub max: Duration,
    /// A session that lasted longer than this resets the delay (default 60 s).
    #[serde(with = "humantime_serde")]
    pub reset_after: Duration,
}

impl Default for ReconnectSection {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// `[renewal]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RenewalSection {
    /// How often the certificate is checked (default 6 h; also once per start).
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// Largest random delay past the renewal threshold (default 7 days, capped by the
    /// certificate's remaining life).
    #[serde(with = "humantime_serde")]
    pub max_jitter: Duration,
    /// Retry delay after a failed or refused renewal (default 10 min).
    #[serde(with = "humantime_serde")]
    pub retry: Duration,
}

impl Default for RenewalSection {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(6 * 3600),
            max_jitter: Duration::from_secs(7 * 24 * 3600),
            retry: Duration::from_secs(600),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MetricsSection {
    /// Address of the Prometheus text listener (keep it on loopback).
    pub listen: SocketAddr,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct LogSection {
    /// `error`, `warn`, `info` (default), `debug` or `trace`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_refuses_unknown_keys() {
        let c = Config::from_toml(
            r#"
            [service]
            endpoints = ["127.0.0.1:4443"]
            [directory.ldap]
            urls = ["ldaps://dc1:636"]
            operation_timeout = "250ms"
            [reconnect]
            initial = "100ms"
            max = "2s"
            [metrics]
            listen = "127.0.0.1:9100"
            "#,
        )
        .unwrap();
        assert_eq!(c.reconnect.initial, Duration::from_millis(100));
        assert_eq!(
            c.directory.ldap.as_ref().unwrap().operation_timeout,
            Duration::from_millis(250)
        );
        assert_eq!(c.service.endpoints, vec!["127.0.0.1:4443".to_string()]);
        let err = Config::from_toml("[service]\nendpoint = []\n").unwrap_err();
        let Error::ConfigSyntax(toml) = &err else {
            panic!("expected a syntax error, got {err:?}");
        };
        assert!(toml.span().is_some(), "{err}");
    }

    #[test]
    fn dn_template_is_read_and_checked() {
        let text = |template: &str| {
            format!(
                "[directory.ldap]\nurls = [\"ldaps://dc1:636\"]\nresolution = \"template\"\n\
                 dn_template = \"{template}\"\n"
            )
        };
        let c = Config::from_toml(&text("uid={login},ou=people,dc=example,dc=org")).unwrap();
        let ldap = c.directory.ldap.as_ref().unwrap();
        assert_eq!(ldap.resolution, ResolutionSetting::Template);
        assert_eq!(
            ldap.dn_template.as_deref(),
            Some("uid={login},ou=people,dc=example,dc=org")
        );
        // The CA file is missing here, so building fails later; a bad template fails first.
        for bad in ["uid=alice,dc=org", "uid={login}{login}", "{login},dc=org"] {
            let err = Config::from_toml(&text(bad))
                .unwrap()
                .build_directory()
                .err()
                .unwrap();
            assert!(
                matches!(
                    err,
                    Error::Directory(pta_directory::DirectoryError::Misconfigured(
                        pta_directory::Misconfiguration::BadDnTemplate
                    ))
                ),
                "{bad}: {err}"
            );
            assert!(err.to_string().contains("{login}"), "{err}");
        }
        let err = Config::from_toml(
            "[directory.ldap]\nurls = [\"ldaps://dc1:636\"]\nresolution = \"template\"\n",
        )
        .unwrap()
        .build_directory()
        .err()
        .unwrap();
        assert!(err.to_string().contains("template"), "{err}");
    }

    #[test]
    fn secret_from_env_map_and_missing() {
        let mut env = HashMap::new();
        env.insert("PW".to_string(), "s3cret".to_string());
        assert_eq!(
            read_secret(None, Some("PW"), &env).unwrap().expose(),
            "s3cret"
        );
        let err = read_secret(None, Some("NOPE"), &env).unwrap_err();
        assert!(matches!(err, Error::SecretSource(_)));
        assert!(!err.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn routes_choose_a_directory_by_upn_suffix() {
        let hash = |p: &str| MemoryDirectory::hash_password(&Password::new(p)).unwrap();
        let text = format!(
            r#"
            [directory.memory]
            [[directory.memory.user]]
            login = "carol"
            password = "{}"
            [[directory.route]]
            suffix = "corp.test"
            [directory.route.memory]
            [[directory.route.memory.user]]
            login = "bob@corp.test"
            password = "{}"
            "#,
            hash("alice-pw"),
            hash("bob-pw")
        );
        let d = Config::from_toml(&text).unwrap().build_directory().unwrap();
        let v = |o: pta_directory::Outcome| o.verdict;
        let ok = pta_directory::Verdict::Success;
        assert_eq!(
            v(d.authenticate("bob@corp.test", &"bob-pw".into())
                .await
                .unwrap()),
            ok
        );
        assert_eq!(
            v(d.authenticate("carol", &"alice-pw".into()).await.unwrap()),
            ok
        );
        // With routes, a suffix that is not routed is refused without asking any directory.
        assert_eq!(
            v(d.authenticate("carol@elsewhere.test", &"alice-pw".into())
                .await
                .unwrap()),
            pta_directory::Verdict::InvalidCredentials
        );
        let err = Config::from_toml("[[directory.route]]\nsuffix = \"x\"\n")
            .unwrap()
            .build_directory()
            .err()
            .unwrap();
        let Error::InvalidConfig(err) = err else {
            panic!("expected a configuration error, got {err:?}");
        };
        assert_eq!(err.field, "directory.route");
        assert_eq!(
            err.reason,
            ConfigReason::RouteBackend { suffix: "x".into() }
        );
    }

    #[test]
    fn invalid_values_name_the_setting_and_the_reason() {
        let invalid = |text: &str| match Config::from_toml(text).unwrap().build_directory() {
            Err(Error::InvalidConfig(e)) => (e.field, e.reason),
            other => panic!(
                "{text}: expected a configuration error, got {:?}",
                other.err()
            ),
        };
        assert_eq!(invalid(""), ("directory", ConfigReason::NoBackend));
        assert_eq!(
            invalid("[directory.ldap]\nurls = [\"ldaps://dc1\"]\n[directory.memory]\n"),
            ("directory", ConfigReason::BothBackends)
        );
        assert_eq!(
            invalid("[directory.ldap]\n"),
            ("directory.ldap.urls", ConfigReason::Empty)
        );
        let limits = LimitsSection {
            key_bits: 1024,
            ..LimitsSection::default()
        };
        match limits.key_size() {
            Err(Error::InvalidConfig(e)) => {
                assert_eq!(
                    (e.field, e.reason),
                    ("limits.key_bits", ConfigReason::KeyBits(1024))
                )
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        let mut c = Config::default();
        c.env
            .insert("HTTPS_PROXY".into(), "socks5://proxy:1080".into());
        match c.proxy_settings() {
            Err(Error::InvalidConfig(e)) => {
                assert_eq!((e.field, e.reason), ("HTTPS_PROXY", ConfigReason::ProxyUrl))
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        c.proxy = Some(ProxySection {
            url: "http://proxy:port".into(),
            ..ProxySection::default()
        });
        match c.proxy_settings() {
            Err(Error::InvalidConfig(e)) => {
                assert_eq!((e.field, e.reason), ("proxy.url", ConfigReason::ProxyUrl))
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn debug_hides_environment_values() {
        let mut c = Config::default();
        c.env
            .insert("PTA_BIND_PASSWORD".into(), "s3cret-value".into());
        let text = format!("{c:?}");
        assert!(text.contains("PTA_BIND_PASSWORD"));
        assert!(!text.contains("s3cret-value"));
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../examples/pta-agent/pta-agent.toml");
        Config::from_toml(text).unwrap();
    }
}
