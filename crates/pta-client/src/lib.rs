//! Client of a pass-through authentication service's sign-in API
//! (`POST /v1/tenants/{tenant}/sign-in`, docs/SERVICE.md): what a front end, `pta-signin` and
//! `pta-load` use to have a password checked.
//!
//! - [`Trust`]: the service's certificate is checked against a CA file (PEM or DER) or a CA
//!   pinned by its SHA-256 ([`CaPin`], through [`pta_cert::PinnedServerVerifier`]); TLS 1.3
//!   only. [`Trust::client_config`] gives the rustls configuration alone.
//! - [`Client`]: the request line, headers and TLS settings built once from a
//!   [`ClientConfig`]; [`Connection`]: one HTTP/1.1 keep-alive connection (hyper, tokio-rustls)
//!   that sends [`SignIn`]s one at a time and reopens itself after a failure, without
//!   allocating per request beyond the body, the headers and the parsed answer.
//! - Answers are typed: a [`SignInResponse`] (verdict name, warnings, [`DecidedBy`], agent,
//!   request id, HTTP status), or a [`ClientError`] (connection, TLS, pin mismatch, the
//!   service's error status with its [`ApiErrorBody`], a malformed answer, a timeout). Settings
//!   that cannot work are a [`ConfigError`], before any I/O.
//! - The password ([`Password`]) and the API key ([`ApiKey`]) live in redacting, zeroizing
//!   newtypes; the request body is built in a buffer wiped after sending.
//!
//! It does no I/O but the connections it is asked to make (and, with the `prompt` feature, the
//! terminal); it needs a tokio runtime with I/O and timers enabled. It does not retry: what to
//! do after an error is the caller's choice ([`ClientError`]'s variants say). It does not
//! depend on the service crate: the JSON field names of docs/SERVICE.md are the contract.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use pta_client::{ApiKey, CaPin, Client, ClientConfig, Password, PlainHttp, ServiceUrl, SignIn, Trust};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let service = ServiceUrl::parse("https://pta.example.com:8445", PlainHttp::Refuse)?;
//! let mut config = ClientConfig::new(service, "contoso", ApiKey::from_env("PTA_API_KEY")?);
//! config.trust = Some(Trust::CaSha256(CaPin::from_hex(
//!     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//! )?));
//! config.timeout = Duration::from_secs(10);
//! let client = Client::new(config)?;
//!
//! let password = Password::new("correct horse battery staple");
//! let request = SignIn::new("alice@contoso.com", &password, "198.51.100.4".parse()?);
//! // One keep-alive connection for many requests (or `client.sign_in` for one).
//! let mut connection = client.connection();
//! let answer = connection.sign_in(&request).await?;
//! println!("{answer}");
//! assert!(answer.is_success());
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `prompt` (off by default): `read_password`, a prompt without echo on a terminal (or the
//!   first line of standard input), for command-line tools.

#![forbid(unsafe_code)]

mod client;
mod config;
mod error;
#[cfg(feature = "prompt")]
mod prompt;
mod request;
mod response;
mod secret;
mod trust;

pub use client::{Client, Connection};
pub use config::{ClientConfig, PlainHttp, ServiceUrl};
pub use error::{ClientError, ConfigError, MalformedKind};
#[cfg(feature = "prompt")]
pub use prompt::read_password;
pub use request::SignIn;
pub use response::{ApiErrorBody, DecidedBy, SignInResponse, Warning, parse_answer};
pub use secret::{ApiKey, Password};
pub use trust::{CaPin, Trust};
