//! Secret newtypes: the user's password and the front end's API key. Zeroized on drop, `Debug`
//! prints `[redacted]`, no `Display`.

use std::path::Path;

use zeroize::Zeroizing;

use crate::ConfigError;

/// The password to check: zeroized when dropped, printed as `[redacted]`, never displayed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password (the `String` is moved, not copied).
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password text, for the request body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<Zeroizing<String>> for Password {
    fn from(s: Zeroizing<String>) -> Self {
        Self(s)
    }
}

/// A front-end API key (sent as `Authorization: Bearer <key>`): non-empty visible ASCII,
/// zeroized when dropped, printed as `[redacted]`, never displayed.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    /// Checks and wraps a key: [`ConfigError::ApiKeyInvalid`] unless non-empty visible ASCII.
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key = Zeroizing::new(key.into());
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::ApiKeyInvalid);
        }
        Ok(Self(key))
    }

    /// The first line of a file, white space trimmed.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            ConfigError::ApiKeyFile {
                path: path.to_owned(),
                source,
            }
        })?);
        Self::new(text.lines().next().unwrap_or_default().trim())
    }

    /// An environment variable, white space trimmed: [`ConfigError::ApiKeyMissing`] when it is
    /// unset or not Unicode.
    pub fn from_env(variable: &str) -> Result<Self, ConfigError> {
        let value =
            Zeroizing::new(
                std::env::var(variable).map_err(|_| ConfigError::ApiKeyMissing {
                    variable: variable.to_owned(),
                })?,
            );
        Self::new(value.trim())
    }

    /// The key, for the `Authorization` header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "[redacted]");
        let k = ApiKey::new("key-0123456789").unwrap();
        assert_eq!(format!("{:?}", Some(&k)), "Some([redacted])");
    }

    #[test]
    fn api_keys_are_visible_ascii() {
        assert!(matches!(ApiKey::new(""), Err(ConfigError::ApiKeyInvalid)));
        assert!(matches!(
            ApiKey::new("a b"),
            Err(ConfigError::ApiKeyInvalid)
        ));
        assert!(matches!(
            ApiKey::new("clé"),
            Err(ConfigError::ApiKeyInvalid)
        ));
        assert_eq!(ApiKey::new("k-1").unwrap().expose(), "k-1");
    }

    #[test]
    fn an_api_key_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "  key-1 \nsecond\n").unwrap();
        assert_eq!(ApiKey::from_file(&path).unwrap().expose(), "key-1");
        assert!(matches!(
            ApiKey::from_file(&dir.path().join("none")),
            Err(ConfigError::ApiKeyFile { .. })
        ));
    }
}
