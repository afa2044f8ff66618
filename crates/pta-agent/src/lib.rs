//! The on-premises agent of the pass-through-authentication toolkit.
//!
//! An agent holds an outbound mutual-TLS connection to the cloud service (directly or through
//! an HTTP `CONNECT` proxy), opens the password envelopes the service seals for it, checks the
//! passwords against the customer's directory (Active Directory, OpenLDAP, or an in-memory
//! directory for demos) and answers with MAC-authenticated verdicts. This crate has:
//!
//! - [`register`]: one-time registration over HTTPS with a [`JoinToken`] (PROTOCOL.md
//!   section 13, read from a [`TokenSource`]), pinning the service by the token's CA hash;
//! - [`Agent::run`]: the runtime (tokio): connection loop with fail-over and jittered back-off,
//!   the `pta_wire::AgentSession` driver, concurrent request processing, certificate renewal
//!   over the session, drain on shutdown;
//! - [`status`]: what the state directory and a running agent report;
//! - [`Config`]: the TOML configuration (directory, proxy, limits, timeouts, metrics), with
//!   the process environment ([`Config::load`]); invalid values are a [`ConfigError`] naming
//!   the setting and a [`ConfigReason`].
//!
//! # State directory
//!
//! ```text
//! <state-dir>/             0700
//!   key.pem                0600  agent private key (pta-cert StateStore)
//!   chain.pem              0600  agent certificate, then the tenant CA
//!   service-ca.pem         0600  the pinned service CA (trusted for the agent listener)
//!   previous-key.pem       0600  after a renewal, until the new certificate connected once
//!   previous-chain.pem     0600
//!   agent.json             0600  agent id, tenant, endpoints, registered_at
//!   status.json            0600  connection state written by the running agent
//!   agent.lock             0600  flock held by the running agent (one per directory)
//! ```
//!
//! # Run loop
//!
//! ```text
//!  start: lock state dir, load key/chain/CA, refuse an expired certificate (exit code 3)
//!    |
//!    v
//!  [connect] -- endpoint 1, 2, ... in order (TCP, proxy CONNECT, TLS 1.3 + ALPN pta/1)
//!    |  all failed                           | connected
//!    v                                       v
//!  [back-off] 1 s doubling to 30 s,     [session] Hello/Welcome, requests, Ping/Pong,
//!   jittered; reset after a session       renewal when due (start, then every 6 h)
//!   that lasted > 60 s                       |  lost / closed          | shutdown signal
//!    ^-------------------------------------- +                         v
//!                                                         [draining] Drain, in-flight finish
//!                                                          (bounded), Close -> return Ok
//! ```
//!
//! Each request: deadline check (the service's deadline mapped to the local clock with
//! Welcome's time), replay window, envelope opened with the binding rebuilt from the request
//! and the agent's own certificate (tenant, key id), `Directory::authenticate`, verdict and
//! warnings MAC'ed with the request's reply key. Nothing secret (password, token, key) is
//! logged or put in an error.
//!
//! # Example
//!
//! ```no_run
//! use pta_agent::{Agent, Config, JoinToken, RegisterOptions, TokenSource};
//!
//! # async fn demo() -> Result<(), pta_agent::Error> {
//! // Once: register with the administrator's join token (never log it).
//! let token = JoinToken::read(TokenSource::File("/etc/pta-agent/token".into()))?;
//! let mut options = RegisterOptions::new("https://pta.example.com", token, "/var/lib/pta-agent");
//! let config = Config::load(Some("/etc/pta-agent/pta-agent.toml".as_ref()))?;
//! options.apply_config(&config)?; // key size, proxy, timeout
//! let info = pta_agent::register(&options).await?;
//! println!("registered as {} for {}", info.agent_id, info.tenant);
//!
//! // Then: run until the shutdown future completes (the binary uses SIGINT/SIGTERM),
//! // draining in-flight requests on the way out.
//! let agent = Agent::new("/var/lib/pta-agent", config)?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! agent.run(async { let _ = stopped.await; }).await
//! # }
//! ```
//!
//! # Feature flags
//!
//! None. Unix only (the state store and the lock file use Unix permissions and `flock`).
#![forbid(unsafe_code)]

mod cert;
mod config;
mod error;
mod metrics;
mod offload;
mod proxy;
mod register;
mod runtime;
mod secret;
mod state;
mod status;
mod token;

pub use config::{
    Config, DialectSetting, DirectorySection, LdapSection, LdapTls, LimitsSection, LogSection,
    MemorySection, MetricsSection, ProxySection, ReconnectSection, RenewalSection,
    ResolutionSetting, RouteSection, ServiceSection, TimeoutsSection,
};
pub use error::{ConfigError, ConfigReason, Error, Refusal, TokenError};
pub use metrics::Metrics;
pub use proxy::{ProxySettings, connect_tcp};
pub use register::{RegisterOptions, register};
pub use runtime::Agent;
pub use secret::SecretString;
pub use state::{AgentInfo, ConnectionStatus, StateLock};
pub use status::{AgentStatus, status};
pub use token::{JoinToken, TokenSource};
