//! The state of a pass-through authentication service: what it must remember, behind one
//! trait, and the records that cross it.
//!
//! The [`Store`] trait is the seam between the service and where its state lives: tenants and
//! their issuing authorities, the deployment's service CA, one-time registration tokens (stored
//! hashed), the agent registry, revocations with CRL numbers, and the audit log. Its
//! documentation is the contract every backend keeps (atomic token consumption, the agent
//! limit inside the insert's transaction, strictly increasing CRL numbers, no secret but the
//! CA keys, the change feed's order, exclusive leases). Backends:
//!
//! - [`MemoryStore`], in this crate: one process, nothing kept (tests, demos);
//! - `pta-store-sqlite`: one SQLite file, the single-node default;
//! - `pta-store-postgres`: a PostgreSQL database shared by several nodes.
//!
//! Nodes sharing a store learn of each other's writes through its **change feed**
//! ([`Change`], [`Store::changes_since`], [`Store::latest_change`]), woken by a
//! [`ChangeSignal`], and run once-per-cluster jobs under **leases** ([`Store::try_lease`]).
//!
//! This crate does no I/O, starts no runtime and reads no clock: every time is a parameter.
//! (It uses tokio's `sync` channels for the change signal, nothing else of tokio.)
//!
//! # What is here
//!
//! - [`Store`] and [`StoreError`] (with [`TokenError`], the reason a token was refused).
//! - Records: [`Tenant`] with its [`Authority`] ([`CaKey`]), [`TenantId`], [`AgentId`],
//!   [`AgentRecord`] ([`AgentSeen`], [`AgentStatus`]), [`TokenRecord`] ([`RegistrationToken`],
//!   [`TokenHash`], the printed [`JoinToken`] with its [`CaFingerprint`]), [`Revocation`]
//!   ([`RevocationReason`]), [`AuditEvent`] ([`AuditKind`], [`AuditOutcome`],
//!   [`AuditError`], [`AuditQuery`], [`AuditRetention`]).
//! - The change feed: [`Change`], [`ChangeKind`], and the wake-up [`ChangeSignal`] a backend
//!   fires through a [`ChangeNotifier`]. Leases: [`lease_expiry`] (argument checks shared by
//!   backends), [`MAX_LEASE_HOLDER_LEN`].
//! - Policies over records: [`StatusPolicy`] (active, inactive after 10 minutes without a
//!   connection, purged after 10 days), [`SourceChange`] (an agent's new address or key),
//!   [`check_agent_limit`] (40 agents per tenant by default, [`DEFAULT_AGENT_LIMIT`]).
//! - `testing` (feature `testing`): the conformance suite, one `pub async fn` test body per
//!   behaviour of the contract, taking `&dyn Store`; every backend's tests call each of them.
//!
//! # Time
//!
//! Every time in this crate is a `u64` count of **milliseconds since the Unix epoch**, passed
//! in by the caller.
//!
//! # Use
//!
//! ```
//! use std::sync::Arc;
//! use pta_store::{
//!     Authority, CaKey, CaFingerprint, JoinToken, MemoryStore, RegistrationToken, Store,
//!     Tenant, TenantId, TokenError, TokenRecord, DEFAULT_TOKEN_LIFETIME_MS,
//! };
//!
//! # async fn demo() -> Result<(), pta_store::StoreError> {
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
//! - `testing`: the conformance suite (`pta_store::testing`), for backends' tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod audit;
mod change;
mod error;
mod hex;
mod id;
mod lease;
mod limit;
mod memory;
mod revocation;
mod source_change;
mod status;
mod store;
mod tenant;
#[cfg(feature = "testing")]
pub mod testing;
mod token;

pub use agent::{AgentRecord, AgentSeen, AgentStatus};
pub use audit::{
    AuditError, AuditEvent, AuditKind, AuditOutcome, AuditQuery, AuditRetention,
    MAX_AUDIT_LOGIN_LEN,
};
pub use change::{Change, ChangeKind, ChangeNotifier, ChangeSignal};
pub use error::{StoreError, TokenError};
pub use hex::encode as hex_encode;
pub use id::{AgentId, TenantId};
pub use lease::{MAX_LEASE_HOLDER_LEN, lease_expiry};
pub use limit::check_agent_limit;
pub use memory::MemoryStore;
/// The directory's verdict, as audited ([`AuditOutcome::Verdict`]); its names come from
/// [`Verdict::name`].
pub use pta_wire::Verdict;
pub use revocation::{Revocation, RevocationReason};
pub use source_change::SourceChange;
pub use status::{Liveness, StatusPolicy, Transition};
pub use store::Store;
pub use tenant::{Authority, CaKey, DEFAULT_AGENT_LIMIT, Tenant};
pub use token::{
    CaFingerprint, DEFAULT_TOKEN_LIFETIME_MS, JoinToken, RegistrationToken, TokenHash, TokenRecord,
};
