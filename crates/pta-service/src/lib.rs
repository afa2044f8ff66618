//! The cloud side of pass-through authentication: agent registration and the running service
//! (agent listener, registry, dispatcher, sign-in pipeline, renewal, revocation, status sweep,
//! audit, metrics).
//!
//! The service's state lives behind `pta-store`'s [`Store`] trait (its records are re-exported
//! here): an SQLite file (`pta-store-sqlite`, the single-node default), [`MemoryStore`] (tests,
//! demos), or any backend that passes `pta_store::testing`. Smart-lockout state lives behind
//! `pta-lockout`'s `LockoutStore` ([`ServiceOptions::lockout_store`], in memory by default).
//! The [`Registrar`] creates tenants with their CA and turns a registration token and a CSR
//! into an agent certificate through `pta-cert`. [`Service`] runs on top of them. Not in this
//! crate: the store backends, the HTTP layer (`pta-service-http`: registration endpoint,
//! sign-in and admin APIs, CRL, metrics, and serving), and the binary with its TOML
//! configuration (`examples/pta-service`); they call [`Service`]'s methods and serve
//! [`Service::https_server_config`].
//!
//! # The running service
//!
//! ```text
//!   Service::start: service CA (created once, kept in the store) -> TLS server certificate
//!                   -> every tenant's CA + CRL -> agent listener + background tasks
//!
//!   agent --TLS 1.3, client cert, ALPN pta/1--> listener --identify + registry check-->
//!         one task per connection driving a pta_wire::ServiceSession
//!         (Hello, heartbeats, requests, RenewRequest; last seen written at most every 30 s)
//!
//!   sign_in: validate -> lockout check (the LockoutStore, awaited; a failure refuses the
//!            sign-in uncounted: SignInError::LockoutUnavailable) -> pick (two random live connections, the
//!            less loaded) -> seal (pta-envelope Sealer, binding of PROTOCOL.md 12) -> send
//!            -> verdict + reply MAC -> lockout record -> audit (queued, written in batches)
//!            UnknownSessionKey: resend once with the grant, same agent.
//!            Connection lost before a verdict: retry once on another agent.
//!            Never retried: a verdict, a timeout, any other agent error.
//!
//!   background: the store's change feed, read when its signal fires and at least every
//!               second (tenants and revocations made by other processes: new CRL, new
//!               listener config, revoked connections closed), status sweep every 30 s and
//!               audit and token pruning (each on the one node holding its lease), CRLs
//!               signed again daily.
//! ```
//!
//! Revocation ([`Service::revoke_agent`], or [`revoke_agent_in_store`] from another process)
//! marks the agent revoked, adds its serial to the tenant's CRL, closes its live connections
//! with `CloseReason::Revoked` (milliseconds in-process and, through the store's change
//! signal, on other nodes sharing a PostgreSQL store; within the poll interval otherwise)
//! and refuses its reconnections and renewals.
//!
//! # What is here
//!
//! - Re-exported from `pta-store`: [`Store`], [`StoreError`], the records ([`Tenant`],
//!   [`AgentRecord`], [`TokenRecord`], [`JoinToken`], [`Revocation`], [`AuditEvent`], ...),
//!   [`StatusPolicy`], [`check_agent_limit`] and [`MemoryStore`].
//! - [`ServiceError`]: this crate's error; [`ServiceError::Store`] carries the store's.
//! - [`Registrar`]: [`create_tenant`](Registrar::create_tenant) (self-signed RSA-3072 CA,
//!   stored through the [`Store`]) and [`register`](Registrar::register) (token and CSR
//!   checks, agent limit before the token is spent, atomic consumption, issuance, agent record,
//!   audit event), giving a [`Registration`].
//! - [`Service`] with [`ServiceOptions`], [`Clock`] ([`SystemClock`], [`ManualClock`]),
//!   [`Password`], [`ClientContext`], [`SignInResult`], [`DecidedBy`], [`SignInError`],
//!   [`AgentView`]; [`Service::metrics_text`] gives the Prometheus text exposition
//!   (`pta_sign_ins_total{verdict}`, `pta_sign_in_errors_total{kind}`,
//!   `pta_sign_in_duration_seconds`, `pta_agents_connected{tenant}`,
//!   `pta_agent_connections_total`, `pta_agent_source_changes_total{kind}`,
//!   `pta_bad_replies_total`, `pta_unknown_replies_total`, `pta_audit_dropped_total`,
//!   `pta_lockout_store_errors_total`, `pta_renewals_total{result}`,
//!   `pta_store_change_reads_total`, `pta_store_changes_applied_total`,
//!   `pta_cluster_jobs_total{job}`).
//! - [`ServiceCa`], [`load_or_create_service_ca`], [`create_join_token`],
//!   [`revoke_agent_in_store`]: what offline admin commands run against the store.
//!
//! # HTTP and configuration
//!
//! Neither is in this crate: it does no HTTP and reads no configuration file. The HTTP layer
//! (registration endpoint, sign-in and admin API, CRL, metrics, health, and serving them
//! beside a running [`Service`]) is the `pta-service-http` crate; the TOML configuration, its
//! environment overrides and secrets, and the offline admin commands are the `pta-service`
//! binary's package (`examples/pta-service`, library `pta_service_cli`). Both call
//! [`Service`]'s methods and build [`ServiceOptions`].
//!
//! # Time
//!
//! Every time in this crate is a `u64` count of **milliseconds since the Unix epoch**. The
//! state layer and the policies take it as a parameter; the [`Service`] reads it from the
//! [`Clock`] it was started with (sessions and the sealer use the monotonic clock). rustls
//! checks certificate and CRL validity against the system clock.
//!
//! # Use
//!
//! ```
//! use std::sync::Arc;
//! use pta_service::{
//!     Authority, CaKey, CaFingerprint, JoinToken, MemoryStore, RegistrationToken, Store,
//!     Tenant, TenantId, TokenError, TokenRecord, DEFAULT_TOKEN_LIFETIME_MS,
//! };
//!
//! # async fn demo() -> Result<(), pta_service::ServiceError> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let now = 1_700_000_000_000;
//! let tenant = Tenant::new(TenantId::random()?, "contoso.com", now);
//! let authority = Authority::new(b"CA certificate".to_vec(), CaKey::new(b"CA key".to_vec()));
//! store.create_tenant(&tenant, &authority).await?;
//!
//! // The admin creates a token and prints it for the agent's installer.
//! let token = RegistrationToken::generate()?;
//! store
//!     .insert_token(&TokenRecord::new(&token, tenant.id, now, DEFAULT_TOKEN_LIFETIME_MS))
//!     .await?;
//! let printed = JoinToken::new(token, CaFingerprint::of_certificate(b"service CA")).to_printed();
//!
//! // The agent sends it back; the service consumes it exactly once.
//! let presented = JoinToken::parse(&printed)?;
//! let record = store.consume_token(&presented.token().hash(), now + 1_000).await?;
//! assert_eq!(record.tenant, tenant.id);
//! let again = store.consume_token(&presented.token().hash(), now + 2_000).await;
//! assert_eq!(again.err().and_then(|e| e.token_error()), Some(TokenError::AlreadyUsed));
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Logging
//!
//! Through `tracing`: connections accepted, refused and closed, agent id, tenant, errors, sign-in
//! verdicts with their request id. Never a password, a token or a key (tested by capturing the
//! logs).
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod registration;
mod runtime;

pub use error::ServiceError;
pub use pta_store::{
    AgentId, AgentRecord, AgentSeen, AgentStatus, AuditError, AuditEvent, AuditKind, AuditOutcome,
    AuditQuery, AuditRetention, Authority, CaFingerprint, CaKey, DEFAULT_AGENT_LIMIT,
    DEFAULT_TOKEN_LIFETIME_MS, JoinToken, Liveness, MAX_AUDIT_LOGIN_LEN, MemoryStore,
    RegistrationToken, Revocation, RevocationReason, SourceChange, StatusPolicy, Store, StoreError,
    Tenant, TenantId, TokenError, TokenHash, TokenRecord, Transition, check_agent_limit,
};
pub use registration::{
    CsrInput, MAX_SOFTWARE_VERSION_LEN, PresentedToken, Registrar, Registration,
};
pub use runtime::{
    AgentView, ClientContext, Clock, DecidedBy, ManualClock, Password, Service, ServiceCa,
    ServiceOptions, SignInError, SignInResult, SystemClock, create_join_token,
    load_or_create_service_ca, revoke_agent_in_store,
};
