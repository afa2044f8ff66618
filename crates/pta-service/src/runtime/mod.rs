//! The running service: agent listener, agent registry, dispatcher and the sign-in pipeline.
//!
//! [`Service::start`] loads (or creates) the service CA, issues the service's TLS server
//! certificate, loads every tenant's CA and CRL, binds the agent listener and starts the
//! background tasks (audit writer, the store's change feed for revocations and tenants made by
//! other processes, the leased status sweep and audit pruning). The HTTP layer calls the methods of [`Service`].
//!
//! One concern per module:
//!
//! - `service`: [`Service`] and the state its tasks share, start-up, maintenance, shutdown;
//! - `options`, `clock`, `sign_in`: the public settings, clocks and sign-in types;
//! - `registry`: trust set, admission, live connections and the pick, store sync, status;
//! - `conn`: the agent listener and one session task per connection;
//! - `pipeline`: the sign-in pipeline; `renewal`: certificate renewal over a session;
//! - `lockout`: the lockout store seam and the lockout secret; `lockout_snapshot`: the
//!   in-memory lockout state kept across a restart;
//! - `admin`: the service CA and the operations offline commands share;
//! - `audit_log`, `metrics`: the audit writer and the Prometheus counters.

mod admin;
mod audit_log;
mod clock;
mod conn;
mod lockout;
mod lockout_snapshot;
mod metrics;
mod options;
mod pipeline;
mod registry;
mod renewal;
mod service;
mod sign_in;

pub use admin::{ServiceCa, create_join_token, load_or_create_service_ca, revoke_agent_in_store};
pub use clock::{Clock, ManualClock, SystemClock};
pub use options::ServiceOptions;
pub use service::{AgentView, Service};
pub use sign_in::{ClientContext, DecidedBy, Password, SignInError, SignInResult};
