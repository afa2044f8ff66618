//! The running service: agent listener, agent registry, dispatcher and the sign-in pipeline.
//!
//! [`Service::start`] loads (or creates) the service CA, issues the service's TLS server
//! certificate, loads every tenant's CA and CRL, binds the agent listener and starts the
//! background tasks (audit writer, store polling for revocations and tenants made by other
//! processes, status sweep, audit pruning). The HTTP layer calls the methods of [`Service`].

mod admin;
mod audit_log;
mod conn;
mod dispatch;
mod metrics;
mod pipeline;
mod service;
mod trust;

use service::Inner;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pta_cert::KeySize;
use zeroize::Zeroizing;

use crate::StoreError;
use crate::{
    AgentId, AgentRecord, AuditRetention, Registrar, Registration, ServiceError, StatusPolicy,
    Store, Tenant, TenantId,
};

/// The wall clock the runtime reads: Unix milliseconds. Tests inject a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn unix_ms(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `unix_ms`.
    pub fn new(unix_ms: u64) -> Self {
        Self(AtomicU64::new(unix_ms))
    }
    /// Sets the time.
    pub fn set(&self, unix_ms: u64) {
        self.0.store(unix_ms, Ordering::SeqCst);
    }
    /// Moves the time forward.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A user's password on its way to an agent: zeroized on drop, `[redacted]` in Debug, no
/// Display.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Wraps the password's bytes (UTF-8 as typed).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// The bytes, for the one place that seals them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a sign-in comes from, as the front end saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientContext {
    /// The end user's address (lockout source and, unless `location` is set, location).
    pub source: IpAddr,
    /// A location key chosen by the front end (a device id, a network); defaults to the
    /// source address.
    pub location: Option<String>,
}

impl ClientContext {
    /// A context for a user at `source`.
    pub fn new(source: IpAddr) -> Self {
        Self {
            source,
            location: None,
        }
    }
}

/// Who decided a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecidedBy {
    /// An agent asked the directory.
    Agent(AgentId),
    /// Smart lockout answered before any agent was asked: the account is locked in the cloud
    /// (verdict `AccountLocked`) until this Unix millisecond.
    Lockout {
        /// Unix milliseconds when the cloud lock ends.
        until_ms: u64,
    },
    /// A recent repeat of a rejected password, answered `InvalidCredentials` without the
    /// directory.
    RepeatRejected,
}

/// A sign-in that reached a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignInResult {
    /// The request id (also in the audit log and the agent's logs).
    pub request_id: pta_wire::RequestId,
    /// The verdict.
    pub verdict: pta_wire::Verdict,
    /// Warnings from the directory (days until the password expires).
    pub warnings: Vec<pta_wire::Warning>,
    /// Who decided.
    pub decided_by: DecidedBy,
    /// Time from the call to the verdict, milliseconds.
    pub latency_ms: u64,
}

/// Why a sign-in reached no verdict. Never a statement about the credentials; never counted
/// toward lockout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// No tenant with this id.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Empty or over-long login, or a password longer than the envelope takes.
    #[error("invalid sign-in request: {0}")]
    InvalidRequest(&'static str),
    /// The source address is blocked for password spraying until this Unix millisecond.
    #[error("source blocked")]
    SourceBlocked {
        /// Unix milliseconds when the block ends.
        until_ms: u64,
    },
    /// No live agent of the tenant could take the request: none is connected, or every live
    /// one stayed at its in-flight cap for half the deadline (a burst waits that long for a
    /// slot before it is refused).
    #[error("no agent available")]
    NoAgentAvailable,
    /// No verdict before the deadline.
    #[error("timed out waiting for the agent")]
    Timeout,
    /// The agent reported an error (directory unavailable, misconfigured, ...).
    #[error("agent error: {0:?}")]
    Agent(pta_wire::ErrorCode),
    /// The reply's MAC did not verify (forged or damaged reply).
    #[error("agent reply failed authentication")]
    BadReply,
    /// The lockout store could not be reached (or failed) when the sign-in was checked or its
    /// outcome recorded. The sign-in is refused without a verdict: nothing is answered from
    /// stale state, and nothing was counted against the user.
    ///
    /// Temporary: answer "try again later" (HTTP 503). It clears by itself when the store
    /// answers again.
    #[error("lockout store unavailable")]
    LockoutUnavailable,
    /// The service failed (storage, sealing).
    #[error("internal error")]
    Internal,
}

/// Settings of the running service.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceOptions {
    /// Where the agent listener binds (default 127.0.0.1:0).
    pub agent_listen: SocketAddr,
    /// `host:port` addresses agents are told to connect to (default: the bound listener).
    pub agent_endpoints: Vec<String>,
    /// DNS names and IP addresses in the service's TLS certificate (default `localhost`,
    /// `127.0.0.1`).
    pub server_names: Vec<String>,
    /// Sign-in deadline (default 10 s).
    pub sign_in_deadline: Duration,
    /// Most requests outstanding on one agent connection (default 256).
    pub max_in_flight_per_agent: u32,
    /// Session settings (frame size, in-flight cap, heartbeats; its `handshake_timeout_ms`,
    /// default 10 s, bounds TLS handshake, registry check and `Hello` together).
    pub wire: pta_wire::ServiceConfig,
    /// Agent status policy.
    pub status: StatusPolicy,
    /// Audit retention.
    pub audit_retention: AuditRetention,
    /// Registration settings.
    pub registrar: Registrar,
    /// Key size of the service CA (created at the first start) and of the service's TLS server
    /// key (RSA-3072 by default; 2048 for tests).
    pub service_key_size: KeySize,
    /// How often the store is polled for revocations and tenants made by other processes
    /// (default 1 s).
    pub store_poll_interval: Duration,
    /// How often [`Service::sweep`] runs (default 30 s).
    pub sweep_interval: Duration,
    /// How often audit events are pruned per [`audit_retention`](Self::audit_retention)
    /// (default 1 h).
    pub audit_prune_interval: Duration,
    /// Capacity of the audit queue; events beyond it are dropped and counted (default 65 536).
    pub audit_queue: usize,
    /// Heartbeats write an agent's last-seen record at most this often (default 30 s); the
    /// connection itself always writes it.
    pub seen_write_interval: Duration,
    /// Smart-lockout policy of the in-memory lockout store (default
    /// [`pta_lockout::Policy::default`]: 10 counted failures). Ignored when
    /// [`lockout_store`](Self::lockout_store) is set: that store applies its own policy.
    pub lockout: pta_lockout::Policy,
    /// Where lockout state lives. `None` (the default): an in-memory
    /// [`pta_lockout::MemoryStore`] with the [`lockout`](Self::lockout) policy, which this node
    /// alone sees and a restart forgets. Several nodes must share one store.
    pub lockout_store: Option<Arc<dyn pta_lockout::LockoutStore>>,
    /// The secret that keys lockout's user keys and password tags. Every node sharing a
    /// lockout store must hold the same one (read it from a file). `None` (the default): a
    /// random secret is generated at start, with a warning in the log; fine for one node
    /// with the in-memory store, wrong for several.
    pub lockout_secret: Option<Arc<pta_lockout::LockoutSecret>>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            agent_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            agent_endpoints: Vec::new(),
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            sign_in_deadline: Duration::from_secs(10),
            max_in_flight_per_agent: 256,
            wire: pta_wire::ServiceConfig::default(),
            status: StatusPolicy::default(),
            audit_retention: AuditRetention::default(),
            registrar: Registrar::default(),
            service_key_size: KeySize::Rsa3072,
            store_poll_interval: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(30),
            audit_prune_interval: Duration::from_secs(3600),
            audit_queue: 65_536,
            seen_write_interval: Duration::from_secs(30),
            lockout: pta_lockout::Policy::default(),
            lockout_store: None,
            lockout_secret: None,
        }
    }
}

/// An agent as the admin sees it: its record and its live connections.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AgentView {
    /// The stored record.
    pub record: AgentRecord,
    /// Live connections now.
    pub connections: u32,
}

/// The running service. Cheap to clone.
///
/// Every method may be called from any task. Times come from the [`Clock`] given to
/// [`start`](Self::start) (Unix ms); the TLS layer (rustls) checks certificate and CRL validity
/// against the system clock, so a [`ManualClock`] must stay near the real time while agents
/// connect.
///
/// Dropping the last clone signals shutdown (the listener stops, sessions close with
/// `ShuttingDown`, the audit queue drains in the background); call
/// [`shutdown`](Self::shutdown) to wait for it.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
    _stop_on_drop: Arc<StopOnDrop>,
}

/// Signals shutdown when the last [`Service`] clone goes away.
struct StopOnDrop(std::sync::Weak<Inner>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.shutdown.send_replace(true);
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("agent_addr", &self.inner.agent_addr)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Starts the service: loads or creates the service CA (with
    /// [`load_or_create_service_ca`]), issues the TLS server certificate for
    /// `options.server_names`, loads every tenant's CA and builds its CRL, binds the agent
    /// listener on `options.agent_listen` and starts the background tasks.
    ///
    /// # Errors
    ///
    /// [`ServiceError::InvalidConfig`] (a bad option, a listener that cannot bind),
    /// [`ServiceError::Authority`] (CA or certificate failure), or the store's error.
    pub async fn start(
        store: Arc<dyn Store>,
        options: ServiceOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServiceError> {
        let inner = Inner::start(store, options, clock).await?;
        Ok(Self {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::downgrade(&inner))),
            inner,
        })
    }

    /// The agent listener's bound address.
    pub fn agent_addr(&self) -> SocketAddr {
        self.inner.agent_addr
    }

    /// The store the service runs on.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.inner.store)
    }

    /// The service CA certificate, DER (join tokens pin its SHA-256).
    pub fn service_ca_der(&self) -> Vec<u8> {
        self.inner.service_ca.certificate_der.clone()
    }

    /// The service CA.
    pub fn service_ca(&self) -> &ServiceCa {
        &self.inner.service_ca
    }

    /// The rustls config for the HTTPS listeners (registration endpoint, APIs): TLS 1.3, no
    /// client authentication, ALPN `h2` and `http/1.1`, chain = [server certificate, service
    /// CA].
    pub fn https_server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.inner.https)
    }

    /// Creates a tenant with its CA ([`Registrar::create_tenant`]) and adds the CA to the
    /// listener's trust set (new connections use it).
    ///
    /// # Errors
    ///
    /// As [`Registrar::create_tenant`].
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError> {
        self.inner.create_tenant(name).await
    }

    /// Creates a one-time join token for `tenant` (default lifetime one hour) and returns its
    /// printed form; see [`create_join_token`].
    ///
    /// # Errors
    ///
    /// As [`create_join_token`].
    pub async fn create_token(
        &self,
        tenant: &TenantId,
        lifetime_ms: Option<u64>,
    ) -> Result<Zeroizing<String>, ServiceError> {
        let lifetime = lifetime_ms.unwrap_or(crate::DEFAULT_TOKEN_LIFETIME_MS);
        create_join_token(
            self.inner.store.as_ref(),
            &self.inner.service_ca,
            tenant,
            lifetime,
            self.inner.now(),
        )
        .await
    }

    /// Registers an agent ([`Registrar::register`] with a PEM CSR) and returns the
    /// registration with the endpoints the agent should connect to.
    ///
    /// # Errors
    ///
    /// As [`Registrar::register`].
    pub async fn register(
        &self,
        token: &str,
        csr_pem: &str,
        source: IpAddr,
        software_version: &str,
    ) -> Result<(Registration, Vec<String>), ServiceError> {
        let registration = self
            .inner
            .options
            .registrar
            .register(
                self.inner.store.as_ref(),
                token,
                crate::CsrInput::Pem(csr_pem),
                source,
                software_version,
                self.inner.now(),
            )
            .await?;
        tracing::info!(
            agent = %registration.agent_id,
            tenant = %registration.tenant,
            %source,
            "agent registered"
        );
        Ok((registration, self.inner.endpoints.clone()))
    }

    /// Checks a user's password through one of the tenant's agents: lockout, seal, dispatch,
    /// verdict (see the crate docs for the pipeline).
    ///
    /// # Errors
    ///
    /// [`SignInError`]: no verdict was reached; never a statement about the credentials.
    pub async fn sign_in(
        &self,
        tenant: &TenantId,
        login: &str,
        password: Password,
        context: ClientContext,
    ) -> Result<SignInResult, SignInError> {
        self.inner.sign_in(tenant, login, password, context).await
    }

    /// Revokes an agent ([`revoke_agent_in_store`]), regenerates its tenant's CRL and closes
    /// its live connections with `CloseReason::Revoked`. Returns false if it was already
    /// revoked.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownAgent`] or the store's error.
    pub async fn revoke_agent(&self, agent: &AgentId) -> Result<bool, ServiceError> {
        let revoked =
            revoke_agent_in_store(self.inner.store.as_ref(), agent, self.inner.now()).await?;
        self.inner.apply_store_changes().await?;
        Ok(revoked)
    }

    /// A tenant's agents with their live connection counts.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`] or the store's error.
    pub async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentView>, ServiceError> {
        if self.inner.store.tenant(tenant).await?.is_none() {
            return Err(ServiceError::Store(StoreError::UnknownTenant));
        }
        let records = self.inner.store.agents(tenant).await?;
        Ok(records
            .into_iter()
            .map(|record| AgentView {
                connections: self.inner.dispatcher.connections_of(&record.id),
                record,
            })
            .collect())
    }

    /// The tenant's current CRL, DER (signed again on every revocation, and daily; changes
    /// made by another process show up within `store_poll_interval`).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    pub async fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        self.inner.crl_der(tenant)
    }

    /// The loaded tenant named by `key` (its id or its name), from memory.
    pub fn loaded_tenant(&self, key: &str) -> Option<TenantId> {
        self.inner.loaded_tenant(key)
    }

    /// A user's lockout state.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    pub async fn lockout_status(
        &self,
        tenant: &TenantId,
        login: &str,
    ) -> Result<pta_lockout::UserStatus, ServiceError> {
        let user = self.inner.user_key(tenant, login)?;
        Ok(self.inner.lockout.user_status(self.inner.now(), user))
    }

    /// Lifts a user's cloud lockout. Returns whether anything was locked or counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    pub async fn unlock_user(&self, tenant: &TenantId, login: &str) -> Result<bool, ServiceError> {
        let user = self.inner.user_key(tenant, login)?;
        Ok(self.inner.lockout.unlock_user(user))
    }

    /// Lifts a source address's spray block. Returns whether it was tracked.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for a shared lockout store.
    pub async fn unblock_source(&self, source: IpAddr) -> Result<bool, ServiceError> {
        Ok(self
            .inner
            .lockout
            .unblock_source(pta_lockout::Source::from_ip(source)))
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn metrics_text(&self) -> String {
        self.inner
            .metrics
            .render(&self.inner.dispatcher.connected_agents())
    }

    /// Applies the status policy at the clock's time: agents without a connection become
    /// inactive (audited `AgentInactive`), then purged and deleted (audited `AgentPurged`); a
    /// connected agent is active. A background task calls it every `sweep_interval`.
    ///
    /// # Errors
    ///
    /// The store's error (the sweep stops at the first one; the next sweep resumes).
    pub async fn sweep(&self) -> Result<(), ServiceError> {
        self.inner.sweep().await
    }

    /// Waits until every audit event queued so far is in the store.
    pub async fn flush_audit(&self) {
        self.inner.flush_audit().await;
    }

    /// Stops accepting agent connections, closes every session with
    /// `CloseReason::ShuttingDown`, stops the background tasks and flushes the audit queue.
    /// Idempotent.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await;
    }
}

/// The deployment's service CA (issues the service's TLS server certificates; agents pin its
/// SHA-256 from the join token).
#[derive(Clone, Debug)]
pub struct ServiceCa {
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The CA (key and certificate), for issuing server certificates.
    authority: Arc<pta_cert::Authority>,
}

impl ServiceCa {
    /// What join tokens pin.
    pub fn fingerprint(&self) -> crate::CaFingerprint {
        crate::CaFingerprint::of_certificate(&self.certificate_der)
    }
}

/// Loads the service CA from the store, creating it (self-signed, `key_size`) on first use;
/// of concurrent creators (several processes on one store) exactly one wins and all return it.
/// Used by `Service::start` and by offline admin commands.
///
/// # Errors
///
/// [`ServiceError::Authority`] (key generation, a stored CA that does not load),
/// [`StoreError::Corrupt`], or the store's error.
pub async fn load_or_create_service_ca(
    store: &dyn Store,
    key_size: KeySize,
    now: u64,
) -> Result<ServiceCa, ServiceError> {
    admin::load_or_create(store, key_size, now).await
}

/// Creates a one-time registration token for `tenant` (stored hashed, audited as
/// TokenCreated) and returns its printed form `pta1.<token>.<service CA sha256>`. Used by
/// `Service::create_token` and by offline admin commands.
///
/// # Errors
///
/// [`StoreError::UnknownTenant`], [`ServiceError::InvalidConfig`] for a zero lifetime,
/// [`ServiceError::Random`], or the store's error.
pub async fn create_join_token(
    store: &dyn Store,
    service_ca: &ServiceCa,
    tenant: &TenantId,
    lifetime_ms: u64,
    now: u64,
) -> Result<Zeroizing<String>, ServiceError> {
    admin::create_token(store, service_ca, tenant, lifetime_ms, now).await
}

/// Revokes an agent's current certificate in the store (registry status Revoked, CRL entry,
/// audit Revocation). A running service applies it within about a second (it polls the store)
/// and closes the agent's connections. Returns false if it was already revoked. Used by
/// `Service::revoke_agent` and by offline admin commands.
///
/// # Errors
///
/// [`StoreError::UnknownAgent`] or the store's error.
pub async fn revoke_agent_in_store(
    store: &dyn Store,
    agent: &AgentId,
    now: u64,
) -> Result<bool, ServiceError> {
    admin::revoke(store, agent, now).await
}
