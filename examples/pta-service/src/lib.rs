//! The library of the `pta-service` binary: the service's configuration file (TOML), its
//! `PTA_*` environment overrides and its secrets, and the commands the binary runs (`serve`,
//! and the offline admin commands acting directly on the store: the SQLite file, or the
//! PostgreSQL database of `store.url`).
//!
//! - [`config`]: [`Config`] (every key, its default and range, the environment overrides,
//!   the secrets), [`ConfigError`].
//! - [`commands`]: what each subcommand does, failing with a [`CliError`] that gives the line
//!   to print and the exit code.
//!
//! The binary's `main.rs` only parses the command line, loads the [`Config`], calls one of
//! the [`commands`] and maps a [`CliError`] to its exit code; this library does the rest.
//!
//! # What it does not do
//!
//! No service logic (the `pta-service` crate), no HTTP (the `pta-service-http` crate, which
//! [`commands::serve`] starts), no signal handling (the binary watches SIGINT and SIGTERM with
//! `pta-signal` and stops what `serve` returned). Reading the configuration file, the secret
//! files and the environment map given to it is the only I/O of [`Config`]; the commands open
//! the configured store ([`commands::open_store`]) and, for `serve`, the lockout store.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use pta_service_cli::Config;
//!
//! let env: HashMap<String, String> = [("PTA_API_LISTEN".to_owned(), "127.0.0.1:9445".to_owned())]
//!     .into_iter()
//!     .collect();
//! let config = Config::parse(
//!     "data_dir = \"/var/lib/pta-service\"\n[sign_in]\ndeadline = \"1500ms\"\n[status]\npurge_after = \"1w 3d\"\n",
//!     &env,
//! )?;
//! assert_eq!(config.api.listen.port(), 9445);
//! assert_eq!(config.status.purge_after, Duration::from_secs(10 * 86_400));
//! let options = config.to_service_options();
//! assert_eq!(options.sign_in_deadline, Duration::from_millis(1500));
//! assert!(options.lockout_secret.is_none()); // no [lockout] secret_file
//! # Ok::<(), pta_service_cli::ConfigError>(())
//! ```
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod commands;
pub mod config;
mod error;

pub use config::{Config, ConfigError};
pub use error::CliError;
