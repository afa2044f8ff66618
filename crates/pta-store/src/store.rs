//! The seam for the service's state: one node's SQLite file, or a database shared by nodes.

use async_trait::async_trait;

use crate::{
    AgentId, AgentRecord, AgentSeen, AgentStatus, AuditEvent, AuditQuery, Authority, Change,
    ChangeSignal, Revocation, StoreError, Tenant, TenantId, TokenHash, TokenRecord,
};

/// Where the service keeps tenants, their authorities, agents, registration tokens,
/// revocations and audit events: `pta_store_sqlite::SqliteStore` (one file, the default),
/// [`MemoryStore`] (tests, demos), or a shared database for several nodes.
///
/// Hold it as `Arc<dyn Store>`. Every call is one transaction: it happens entirely or not at
/// all.
///
/// # Time
///
/// Every time is a `u64` count of **milliseconds since the Unix epoch**, passed in by the
/// caller; an implementation never reads a clock.
///
/// # Contract
///
/// An implementation must:
///
/// - make [`consume_token`](Self::consume_token) an atomic check-and-mark: of any number of
///   concurrent calls for one token, on any number of nodes, at most one succeeds;
/// - make [`insert_agent`](Self::insert_agent) check the tenant's agent limit and insert in one
///   transaction, so concurrent registrations cannot exceed it;
/// - make [`next_crl_number`](Self::next_crl_number) strictly increasing per tenant, across
///   restarts and nodes;
/// - store registration tokens only as their [`TokenHash`], never the token;
/// - store nothing it was not given: no password ever reaches a store (no type here carries
///   one);
/// - keep the CA key confidential: a file readable by its owner only, a database account
///   only the service uses;
/// - report a backend failure as [`StoreError::Backend`], never as "not found" or as a
///   refusal;
/// - append a [`Change`] to the change feed in the same transaction as every
///   [`create_tenant`](Self::create_tenant) and every
///   [`add_revocation`](Self::add_revocation) that added a row (and for nothing else), under
///   a sequence number that readers see in order: once a reader can see change `n`, every
///   change below `n` is visible too (no later commit may fill a gap below a visible `seq`);
/// - make [`try_lease`](Self::try_lease) an atomic check-and-set: of concurrent callers on
///   any number of nodes, at most one holds a lease at any time.
///
/// Unique keys: tenant id, tenant name, agent id, token hash, and (tenant, serial) for
/// revocations.
///
/// [`MemoryStore`]: crate::MemoryStore
#[async_trait]
pub trait Store: Send + Sync {
    // ----- tenants -----

    /// Creates a tenant together with its issuing authority.
    ///
    /// # Errors
    ///
    /// [`StoreError::TenantExists`] if the id or the name is taken.
    async fn create_tenant(&self, tenant: &Tenant, authority: &Authority)
    -> Result<(), StoreError>;

    /// The tenant with this id.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;

    /// The tenant with this name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError>;

    /// Every tenant, ordered by name.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Changes a tenant's agent limit (agents over a lowered limit stay; new ones are
    /// refused until the count is below it).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), StoreError>;

    /// The tenant's issuing authority.
    async fn authority(&self, tenant: &TenantId) -> Result<Option<Authority>, StoreError>;

    // ----- the service authority -----

    /// The deployment's service CA (one per store), if it was created: the CA that issues the
    /// service's TLS server certificates and whose SHA-256 join tokens pin. The same
    /// confidentiality contract as a tenant's CA key applies to its key.
    async fn service_authority(&self) -> Result<Option<Authority>, StoreError>;

    /// Stores `authority` as the service CA unless one is already stored, atomically, and
    /// returns the one stored afterwards: `authority` if this call created it, the earlier one
    /// otherwise. Of concurrent callers (on any number of processes sharing the store), exactly
    /// one wins and all get the winner.
    async fn init_service_authority(&self, authority: &Authority) -> Result<Authority, StoreError>;

    // ----- agents -----

    /// Registers an agent, if its tenant has fewer agents counting toward the limit
    /// ([`AgentStatus::counts_toward_limit`]) than its agent limit.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`], [`StoreError::AgentExists`],
    /// [`StoreError::AgentLimitReached`].
    async fn insert_agent(&self, agent: &AgentRecord) -> Result<(), StoreError>;

    /// The agent with this id.
    async fn agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError>;

    /// A tenant's agents, ordered by first seen.
    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentRecord>, StoreError>;

    /// How many of a tenant's agents count toward its limit (all but revoked ones).
    async fn agent_count(&self, tenant: &TenantId) -> Result<u32, StoreError>;

    /// Records a connection or heartbeat: last seen, source address, software version.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownAgent`].
    async fn record_seen(&self, id: &AgentId, seen: &AgentSeen) -> Result<(), StoreError>;

    /// Replaces the agent's certificate serial and public key after a renewal.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownAgent`].
    async fn set_certificate(
        &self,
        id: &AgentId,
        serial: &[u8],
        public_key: &[u8],
    ) -> Result<(), StoreError>;

    /// Stores the agent's status.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownAgent`].
    async fn set_agent_status(&self, id: &AgentId, status: AgentStatus) -> Result<(), StoreError>;

    /// Deletes a purged agent. Returns whether it existed. Its revocations stay.
    async fn delete_agent(&self, id: &AgentId) -> Result<bool, StoreError>;

    // ----- registration tokens -----

    /// Stores a new token (hashed).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`], [`StoreError::TokenExists`].
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    /// The token with this hash, as stored, without changing it (used or not, expired or
    /// not). Registration reads it to learn the tenant and refuse early, before it consumes
    /// the token; only [`consume_token`](Self::consume_token) decides who gets to use it.
    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError>;

    /// Checks the token with this hash at `now` and marks it used, atomically. Returns the
    /// record as it was before (its tenant is the one to register with).
    ///
    /// A used token is reported as used even when it has also expired.
    ///
    /// # Errors
    ///
    /// [`StoreError::Token`] with [`TokenError::Unknown`], [`TokenError::Expired`] or
    /// [`TokenError::AlreadyUsed`]; nothing was changed.
    ///
    /// [`TokenError::Unknown`]: crate::TokenError::Unknown
    /// [`TokenError::Expired`]: crate::TokenError::Expired
    /// [`TokenError::AlreadyUsed`]: crate::TokenError::AlreadyUsed
    async fn consume_token(&self, hash: &TokenHash, now: u64) -> Result<TokenRecord, StoreError>;

    /// A tenant's tokens (for the admin), newest first.
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError>;

    /// Deletes tokens that expired before `before` (used or not). Returns how many. A pruned
    /// token is afterwards [`TokenError::Unknown`](crate::TokenError::Unknown).
    async fn prune_tokens(&self, before: u64) -> Result<u64, StoreError>;

    // ----- revocations -----

    /// Revokes a certificate serial and, if the revocation names an agent of the same tenant,
    /// marks that agent [`AgentStatus::Revoked`], in one transaction. Returns `false` if the
    /// serial was already revoked (nothing changed).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    async fn add_revocation(&self, revocation: &Revocation) -> Result<bool, StoreError>;

    /// Whether a serial of this tenant is revoked.
    async fn is_revoked(&self, tenant: &TenantId, serial: &[u8]) -> Result<bool, StoreError>;

    /// A tenant's revocations, oldest first.
    async fn revocations(&self, tenant: &TenantId) -> Result<Vec<Revocation>, StoreError>;

    /// The next CRL number for the tenant's CRL: 1 the first time, then one more on every
    /// call, across restarts.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    async fn next_crl_number(&self, tenant: &TenantId) -> Result<u64, StoreError>;

    // ----- audit -----

    /// Appends events, in order, in one transaction.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// A tenant's events in a time range, oldest first (events at the same millisecond in the
    /// order they were appended).
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;

    /// Deletes events older than `horizon`, then the oldest ones beyond `max_rows` in all.
    /// Returns how many were deleted. See [`AuditRetention`](crate::AuditRetention).
    async fn prune_audit(&self, horizon: u64, max_rows: u64) -> Result<u64, StoreError>;

    // ----- the change feed -----

    /// Up to `limit` changes with `seq > after`, ordered by `seq`. A node starts with
    /// `after` = [`latest_change`](Self::latest_change) read before its full load, then
    /// passes the `seq` of the last change it applied.
    async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<Change>, StoreError>;

    /// The `seq` of the newest change, 0 when there is none.
    async fn latest_change(&self) -> Result<u64, StoreError>;

    /// A wake-up fired when changes may be waiting, if the backend has one (a fresh
    /// subscription per call). Without one, or between wake-ups, readers poll
    /// [`changes_since`](Self::changes_since): a signal is a hint that can be lost, never
    /// the data.
    fn change_signal(&self) -> Option<ChangeSignal> {
        None
    }

    // ----- leases -----

    /// Takes the lease `name` for `holder` until `now + ttl_ms` if it is free or expired
    /// (`expires_at <= now`), or renews it if `holder` holds it. Returns `false`, changing
    /// nothing, while another holder's lease is unexpired. Of concurrent callers, at most one
    /// gets `true` for a lease that was free.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] for an empty or too long name or holder (see
    /// [`MAX_LEASE_HOLDER_LEN`](crate::MAX_LEASE_HOLDER_LEN)) or a zero `ttl_ms`;
    /// [`StoreError::OutOfRange`] when `now + ttl_ms` does not fit.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError>;

    /// Gives up the lease `name` if `holder` holds it (expired or not). Returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
}
