//! The cloud side of pass-through authentication. **For now this crate holds the service's
//! state layer and agent registration**: tenants and their issuing authorities, registration
//! tokens, the agent registry, revocations with CRL numbers, and the audit log, behind the
//! [`Store`] trait, with [`SqliteStore`] (one file, the default) and [`MemoryStore`] (tests,
//! demos); and the [`Registrar`], which creates tenants with their CA and turns a registration
//! token and a CSR into an agent certificate through `pta-cert`.
//!
//! Still to come on top of it (see the design's crate map): the agent listener (mutual TLS,
//! heartbeats, source-change alerts), renewal, the dispatcher, the sign-in pipeline (lockout,
//! seal, dispatch, verdict) and the HTTP API (which will call the [`Registrar`]). Nothing here
//! opens a socket or runs a listener.
//!
//! # What is here
//!
//! - [`Store`]: the seam, with its contract (atomic token consumption, agent limit in the
//!   insert's transaction, monotonic CRL numbers, no secrets but the CA key).
//! - [`RegistrationToken`], [`TokenHash`], [`JoinToken`] (the printed
//!   `pta1.<token>.<CA SHA-256>` form), [`TokenRecord`]: one-time registration tokens, stored
//!   hashed, one hour by default ([`DEFAULT_TOKEN_LIFETIME_MS`]).
//! - [`AgentRecord`], [`AgentStatus`], [`StatusPolicy`] (active, inactive after 10 minutes
//!   without a connection, purged after 10 days), [`SourceChange`] (new address, new key).
//! - [`check_agent_limit`]: the per-tenant agent limit, 40 by default
//!   ([`DEFAULT_AGENT_LIMIT`]).
//! - [`AuditEvent`]: time, tenant, login, agent, kind, outcome, latency, source; no field
//!   for a password or a token.
//! - [`Registrar`]: [`create_tenant`](Registrar::create_tenant) (self-signed RSA-3072 CA,
//!   stored through the [`Store`]) and [`register`](Registrar::register) (token and CSR
//!   checks, agent limit before the token is spent, atomic consumption, issuance, agent record,
//!   audit event), giving a [`Registration`].
//!
//! # Time
//!
//! Every time in this crate is a `u64` count of **milliseconds since the Unix epoch**, passed
//! in by the caller. Nothing here reads a clock.
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
//! # Feature flags
//!
//! None. SQLite is compiled in (rusqlite's `bundled` feature).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod audit;
mod error;
mod hex;
mod id;
mod limit;
mod memory;
mod registration;
mod revocation;
mod schema;
mod source_change;
mod sqlite;
mod status;
mod store;
mod tenant;
mod token;

pub use agent::{AgentRecord, AgentSeen, AgentStatus};
pub use audit::{
    AuditError, AuditEvent, AuditKind, AuditOutcome, AuditQuery, AuditRetention, AuditVerdict,
    MAX_AUDIT_LOGIN_LEN,
};
pub use error::{ServiceError, TokenError};
pub use id::{AgentId, TenantId};
pub use limit::check_agent_limit;
pub use memory::MemoryStore;
pub use registration::{
    CsrInput, MAX_SOFTWARE_VERSION_LEN, PresentedToken, Registrar, Registration,
};
pub use revocation::{Revocation, RevocationReason};
pub use source_change::SourceChange;
pub use sqlite::SqliteStore;
pub use status::{Liveness, StatusPolicy, Transition};
pub use store::Store;
pub use tenant::{Authority, CaKey, DEFAULT_AGENT_LIMIT, Tenant};
pub use token::{
    CaFingerprint, DEFAULT_TOKEN_LIFETIME_MS, JoinToken, RegistrationToken, TokenHash, TokenRecord,
};
