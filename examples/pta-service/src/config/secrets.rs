//! Secrets: the admin token and the front-end API keys (files or environment), and the lockout
//! secret (a file). Never read from the TOML itself; never shown in an error or in Debug.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use pta_lockout::LockoutSecret;
use pta_service_http::ApiAuth;
use zeroize::Zeroizing;

use super::{Config, ConfigError, MIN_SECRET_LEN};

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

/// Keys that would hold a secret in plain text: table, key, full name, environment variable.
pub(super) const PLAIN_SECRETS: &[(&str, &str, &str, &str)] = &[
    (
        "secrets",
        "admin_token",
        "secrets.admin_token",
        "PTA_ADMIN_TOKEN",
    ),
    ("secrets", "api_keys", "secrets.api_keys", "PTA_API_KEYS"),
    ("secrets", "api_key", "secrets.api_key", "PTA_API_KEYS"),
    ("store", "password", "store.password", "PTA_STORE_PASSWORD"),
    (
        "lockout",
        "redis_password",
        "lockout.redis_password",
        "PTA_LOCKOUT_REDIS_PASSWORD",
    ),
];

impl Config {
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
    /// Whether this node keeps its in-memory lockout state across restarts: the in-memory
    /// store and `lockout.persist` (default true).
    pub fn lockout_persists(&self) -> bool {
        self.lockout_backend() == super::LockoutBackend::Memory
            && self.lockout.persist.unwrap_or(true)
    }

    /// The lockout secret `serve` runs with: the one of `lockout.secret_file` when configured;
    /// else, for a node that [persists](Self::lockout_persists) its lockout state, the one in
    /// `data_dir/lockout.secret` (32 random bytes written 0600 at the first start, creating
    /// `data_dir`), so that a restart finds its lockout snapshot meaningful; else `None` (the
    /// service generates one per start and warns).
    ///
    /// # Errors
    ///
    /// As [`load_lockout_secret`](Self::load_lockout_secret); [`ConfigError::Invalid`] for
    /// `lockout.secret_file` with a Redis lockout store (every node sharing it needs the same
    /// secret, so it must come from a file); [`ConfigError::DataDir`] and
    /// [`ConfigError::SecretFile`] when the generated secret cannot be written or read.
    pub fn lockout_secret_for_serve(&self) -> Result<Option<Arc<LockoutSecret>>, ConfigError> {
        if let Some(secret) = self.load_lockout_secret()? {
            return Ok(Some(secret));
        }
        if self.lockout_backend() == super::LockoutBackend::Redis {
            return Err(ConfigError::Invalid {
                key: "lockout.secret_file",
                reason: "required with a Redis lockout store: every node sharing it must key \
                         users with the same secret",
            });
        }
        if !self.lockout_persists() {
            return Ok(None);
        }
        const KEY: &str = "lockout.secret_file";
        self.create_data_dir()?;
        let path = self.data_dir.join(super::LOCKOUT_SECRET_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => generate_secret_file(&path)?,
            Err(source) => {
                return Err(ConfigError::SecretFile {
                    key: KEY,
                    path,
                    source,
                });
            }
        };
        let secret =
            LockoutSecret::from_bytes(&bytes).map_err(|_| ConfigError::ShortSecretFile {
                key: KEY,
                path: path.clone(),
                len: bytes.len(),
                min: LockoutSecret::MIN_LEN,
            })?;
        Ok(Some(Arc::new(secret)))
    }

    /// Reads the lockout secret from `lockout.secret_file` (or the file
    /// `PTA_LOCKOUT_SECRET_FILE` names, applied by [`apply_env`](Self::apply_env)): the file's
    /// bytes as they are, no newline trimmed. `None` when no file is configured.
    ///
    /// # Errors
    ///
    /// [`ConfigError::SecretFile`] (unreadable), [`ConfigError::ShortSecretFile`] (fewer than
    /// [`LockoutSecret::MIN_LEN`] bytes); both name the key and the path, never the content.
    pub fn load_lockout_secret(&self) -> Result<Option<Arc<LockoutSecret>>, ConfigError> {
        const KEY: &str = "lockout.secret_file";
        let Some(path) = &self.lockout.secret_file else {
            return Ok(None);
        };
        let bytes = read_file(KEY, path)?;
        let short = |len| ConfigError::ShortSecretFile {
            key: KEY,
            path: path.clone(),
            len,
            min: LockoutSecret::MIN_LEN,
        };
        if bytes.len() < LockoutSecret::MIN_LEN {
            return Err(short(bytes.len()));
        }
        let secret = LockoutSecret::from_bytes(&bytes).map_err(|_| short(bytes.len()))?;
        Ok(Some(Arc::new(secret)))
    }
}

/// Writes 32 random bytes to `path` (mode 0600, refusing to replace a file) and returns them.
fn generate_secret_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    use std::io::Write;
    let failed = |source| ConfigError::SecretFile {
        key: "lockout.secret_file",
        path: path.to_owned(),
        source,
    };
    let mut bytes = Zeroizing::new(vec![0u8; LockoutSecret::MIN_LEN]);
    getrandom::fill(&mut bytes).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(&bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    tracing::info!(path = %path.display(), "lockout secret generated");
    Ok(bytes)
}

fn read_file(key: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| ConfigError::SecretFile {
            key,
            path: path.to_owned(),
            source,
        })
}

pub(super) fn read_secret_file(
    key: &'static str,
    path: &Path,
) -> Result<Zeroizing<String>, ConfigError> {
    let bytes = read_file(key, path)?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(Zeroizing::new(text.to_owned())),
        Err(_) => Err(ConfigError::BadSecret {
            which: key.to_owned(),
            reason: "the file is not UTF-8 text",
        }),
    }
}
