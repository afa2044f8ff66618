//! [`ConfigError`]: why a configuration could not be loaded.

use std::path::PathBuf;

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
    /// A connection URL holds a password. Passwords never go into the configuration file
    /// (nor a command line): the URL is refused, and not repeated.
    ///
    /// Remove the password from the URL and put it into the file named by `file_key` (or the
    /// file named by the environment variable `env`).
    #[error(
        "invalid configuration: {key} holds a password: remove it from the URL and put it in \
         the file named by {file_key} (or by {env})"
    )]
    PasswordInUrl {
        /// The key (`store.url`, `lockout.redis_url`).
        key: &'static str,
        /// The key naming the password file.
        file_key: &'static str,
        /// The environment variable naming the password file.
        env: &'static str,
    },
    /// A lockout policy knob is out of range (as [`pta_lockout::Policy::validate`] says), or a
    /// `[lockout.tenants."<name>"]` table names no possible tenant.
    ///
    /// Fix the named key.
    #[error("invalid configuration: {key}: {reason}")]
    LockoutPolicy {
        /// The key, like `lockout.threshold` or `lockout.tenants."contoso".spray_window`.
        key: String,
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
    /// A secret file holds fewer bytes than that secret needs (the lockout secret: at least
    /// [`pta_lockout::LockoutSecret::MIN_LEN`] bytes). The message names the key and the file,
    /// never the content.
    ///
    /// Write a new secret into the file, for example `head -c 32 /dev/urandom > FILE`; every
    /// node sharing a lockout store needs the same file.
    #[error("{key} {path}: the file holds {len} bytes, at least {min} are needed")]
    ShortSecretFile {
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Its length, bytes.
        len: usize,
        /// The shortest length accepted, bytes.
        min: usize,
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
