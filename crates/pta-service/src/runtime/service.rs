//! The running service: the public [`Service`] handle, the state its tasks share
//! ([`Inner`]), start-up, the background maintenance loop and shutdown.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pta_envelope::{Sealer, SealerConfig};
use pta_lockout::UserKey;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::StoreError;
use crate::{
    AgentId, AgentRecord, AuditEvent, Registration, ServiceError, Store, Tenant, TenantId,
};
use pta_store::ChangeSignal;

use super::admin::{self, ServerIdentity};
use super::admin::{ServiceCa, create_join_token, revoke_agent_in_store};
use super::audit_log::{self, AuditMsg};
use super::lockout::Lockout;
use super::metrics::Metrics;
use super::registry::Registry;
use super::sign_in::{ClientContext, Password, SignInError, SignInResult};
use super::{Clock, ServiceOptions};

/// Expired registration tokens are kept this long (for the admin to see), then pruned.
const TOKEN_KEEP_MS: u64 = 24 * 60 * 60 * 1_000;

/// How long shutdown waits for connection tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The lease of the status sweep: one node of those sharing a store sweeps.
const SWEEP_LEASE: &str = "pta.status-sweep";
/// The lease of audit and token pruning: one node of those sharing a store prunes.
const PRUNE_LEASE: &str = "pta.prune";
/// A job's lease lives this many of its intervals: renewed on every run, it passes to another
/// node when its holder has missed a few runs (died, or lost the store).
const LEASE_INTERVALS: u32 = 3;

/// An agent as the admin sees it: its record and its live connections.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AgentView {
    /// The stored record.
    pub record: AgentRecord,
    /// Live connections now.
    pub connections: u32,
}

impl AgentView {
    /// An agent with `connections` live connections.
    pub fn new(record: AgentRecord, connections: u32) -> Self {
        Self {
            record,
            connections,
        }
    }
}

/// The running service. Cheap to clone.
///
/// Every method may be called from any task. Times come from the [`Clock`] given to
/// [`start`](Self::start) (Unix ms); the TLS layer (rustls) checks certificate and CRL validity
/// against the system clock, so a [`ManualClock`](crate::ManualClock) must stay near the real time while agents
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
    /// [`load_or_create_service_ca`](crate::load_or_create_service_ca)), issues the TLS server certificate for
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

    /// Creates a tenant with its CA ([`Registrar::create_tenant`](crate::Registrar::create_tenant)) and adds the CA to the
    /// listener's trust set (new connections use it).
    ///
    /// # Errors
    ///
    /// As [`Registrar::create_tenant`](crate::Registrar::create_tenant).
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

    /// Registers an agent ([`Registrar::register`](crate::Registrar::register) with a PEM CSR) and returns the
    /// registration with the endpoints the agent should connect to.
    ///
    /// # Errors
    ///
    /// As [`Registrar::register`](crate::Registrar::register).
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
                connections: self.inner.registry.dispatcher.connections_of(&record.id),
                record,
            })
            .collect())
    }

    /// The tenant's current CRL, DER (signed again on every revocation, and daily; changes
    /// made by another process show up when the store's change signal fires, or at the latest
    /// within `store_poll_interval`).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    pub async fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        self.inner.registry.crl_der(tenant)
    }

    /// The loaded tenant named by `key` (its id or its name), from memory.
    pub fn loaded_tenant(&self, key: &str) -> Option<TenantId> {
        self.inner.registry.loaded_tenant(key)
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
        let store = self.inner.lockout.store_of(&self.inner.registry, tenant);
        self.inner
            .lockout
            .user_status(store.as_ref(), self.inner.now(), user)
            .await
    }

    /// Lifts a user's cloud lockout. Returns whether anything was locked or counted.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownTenant`].
    pub async fn unlock_user(&self, tenant: &TenantId, login: &str) -> Result<bool, ServiceError> {
        let user = self.inner.user_key(tenant, login)?;
        let store = self.inner.lockout.store_of(&self.inner.registry, tenant);
        self.inner.lockout.unlock_user(store.as_ref(), user).await
    }

    /// Lifts a source address's spray block. Returns whether it was tracked.
    ///
    /// # Errors
    ///
    /// [`ServiceError::Lockout`] when the lockout store fails.
    pub async fn unblock_source(&self, source: IpAddr) -> Result<bool, ServiceError> {
        self.inner
            .lockout
            .unblock_source(pta_lockout::Source::from_ip(source))
            .await
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn metrics_text(&self) -> String {
        self.inner
            .metrics
            .render(&self.inner.registry.dispatcher.connected_agents())
    }

    /// Applies the status policy at the clock's time: agents without a connection become
    /// inactive (audited `AgentInactive`), then purged and deleted (audited `AgentPurged`); a
    /// connected agent is active. A background task calls it every `sweep_interval` while
    /// this node holds the sweep's lease (one node of those sharing a store sweeps; see
    /// [`node_id`](Self::node_id)); a direct call always sweeps.
    ///
    /// # Errors
    ///
    /// The store's error (the sweep stops at the first one; the next sweep resumes).
    pub async fn sweep(&self) -> Result<(), ServiceError> {
        self.inner.sweep().await
    }

    /// This process's holder id for the store's leases (random per start, 32 hex digits). The
    /// status sweep and audit and token pruning run only on the node holding their lease,
    /// renewed on every run and released at [`shutdown`](Self::shutdown); a node that stops
    /// without shutting down loses it when it expires (three job intervals).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
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

/// Everything the tasks of one service share.
pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) options: ServiceOptions,
    pub(crate) clock: Arc<dyn Clock>,
    /// The monotonic epoch of session and sealer time.
    base: Instant,
    pub(crate) service_ca: ServiceCa,
    pub(crate) server: ServerIdentity,
    pub(crate) https: Arc<rustls::ServerConfig>,
    pub(crate) agent_addr: SocketAddr,
    pub(crate) endpoints: Vec<String>,
    pub(crate) registry: Registry,
    pub(crate) sealer: Mutex<Sealer>,
    pub(crate) lockout: Lockout,
    pub(crate) metrics: Arc<Metrics>,
    /// The holder id of this process's leases.
    pub(crate) node_id: String,
    audit_tx: Mutex<Option<mpsc::Sender<AuditMsg>>>,
    audit_writer: Mutex<Option<JoinHandle<()>>>,
    pub(crate) shutdown: watch::Sender<bool>,
    background: Mutex<Vec<JoinHandle<()>>>,
}

fn validate(options: &ServiceOptions) -> Result<(), ServiceError> {
    options.status.validate()?;
    let checks = [
        (options.sign_in_deadline.is_zero(), "sign_in_deadline"),
        (
            options.max_in_flight_per_agent == 0,
            "max_in_flight_per_agent",
        ),
        (options.store_poll_interval.is_zero(), "store_poll_interval"),
        (options.sweep_interval.is_zero(), "sweep_interval"),
        (
            options.audit_prune_interval.is_zero(),
            "audit_prune_interval",
        ),
        (options.audit_queue == 0, "audit_queue"),
        (
            options.lockout_snapshot_interval.is_zero(),
            "lockout_snapshot_interval",
        ),
        (
            options.wire.handshake_timeout_ms == 0,
            "wire.handshake_timeout_ms",
        ),
    ];
    match checks.iter().find(|(bad, _)| *bad) {
        Some((_, field)) => Err(ServiceError::InvalidConfig { field }),
        None => Ok(()),
    }
}

impl Inner {
    pub(crate) async fn start(
        store: Arc<dyn Store>,
        options: ServiceOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, ServiceError> {
        validate(&options)?;
        let now = clock.unix_ms();
        let service_ca =
            admin::load_or_create(store.as_ref(), options.service_key_size, now).await?;
        let server = admin::issue_server_identity(
            &service_ca,
            &options.server_names,
            options.service_key_size,
            now,
        )
        .await?;
        let https = admin::https_config(&server)?;

        let mut node = [0u8; 16];
        getrandom::fill(&mut node).map_err(|e| ServiceError::Store(StoreError::Random(e)))?;
        let node_id = pta_store::hex_encode(&node);

        let metrics = Arc::new(Metrics::default());
        let lockout = Lockout::new(&options, Arc::clone(&metrics))?;
        if let Some(path) = &options.lockout_snapshot {
            super::lockout_snapshot::restore(path, &lockout, &metrics, now).await;
        }

        let listener = TcpListener::bind(options.agent_listen).await.map_err(|_| {
            ServiceError::InvalidConfig {
                field: "agent_listen",
            }
        })?;
        let agent_addr = listener
            .local_addr()
            .map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?;
        let endpoints = if options.agent_endpoints.is_empty() {
            vec![agent_addr.to_string()]
        } else {
            options.agent_endpoints.clone()
        };

        let (audit_tx, audit_rx) = mpsc::channel(options.audit_queue);
        let writer = tokio::spawn(audit_log::writer(
            Arc::clone(&store),
            Arc::clone(&metrics),
            audit_rx,
        ));
        let (shutdown, _) = watch::channel(false);
        let registry = Registry::new(options.seen_write_interval);
        let inner = Arc::new(Self {
            store,
            options,
            clock,
            base: Instant::now(),
            service_ca,
            server,
            https,
            agent_addr,
            endpoints,
            registry,
            sealer: Mutex::new(Sealer::new(SealerConfig::default())),
            lockout,
            metrics,
            node_id,
            audit_tx: Mutex::new(Some(audit_tx)),
            audit_writer: Mutex::new(Some(writer)),
            shutdown,
            background: Mutex::new(Vec::new()),
        });
        inner.apply_store_changes().await?;

        let accept = tokio::spawn(super::conn::accept_loop(
            Arc::clone(&inner),
            listener,
            inner.shutdown.subscribe(),
        ));
        let maintenance = tokio::spawn(maintenance(
            Arc::downgrade(&inner),
            inner.shutdown.subscribe(),
        ));
        inner.tasks().extend([accept, maintenance]);
        if inner.options.lockout_snapshot.is_some() && !inner.lockout.memory_stores().is_empty() {
            let snapshots = tokio::spawn(super::lockout_snapshot::run(
                Arc::downgrade(&inner),
                inner.shutdown.subscribe(),
            ));
            inner.tasks().push(snapshots);
        }
        tracing::info!(listen = %agent_addr, node = %inner.node_id, "agent listener started");
        Ok(inner)
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock's Unix milliseconds.
    pub(crate) fn now(&self) -> u64 {
        self.clock.unix_ms()
    }

    /// Milliseconds on the monotonic clock of sessions and the sealer.
    pub(crate) fn mono(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The monotonic instant of a session time.
    pub(crate) fn instant_of(&self, mono_ms: u64) -> Instant {
        self.base + Duration::from_millis(mono_ms)
    }

    /// Queues an audit event; if the queue is full it is dropped and counted.
    pub(crate) fn audit(&self, event: AuditEvent) {
        let tx = self
            .audit_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let queued = tx.is_some_and(|tx| tx.try_send(AuditMsg::Event(event)).is_ok());
        if !queued {
            self.metrics.audit_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) async fn flush_audit(&self) {
        let tx = self
            .audit_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(tx) = tx {
            let (done, wait) = oneshot::channel();
            if tx.send(AuditMsg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        }
    }

    /// Takes or renews the lease `name` for a job run every `interval`. A store failure counts
    /// as not holding it (the job waits for its next run).
    async fn hold_lease(&self, name: &'static str, interval: Duration) -> bool {
        let ttl = u64::try_from((interval * LEASE_INTERVALS).as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        match self
            .store
            .try_lease(name, &self.node_id, self.now(), ttl)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "could not take lease");
                false
            }
        }
    }

    pub(crate) async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError> {
        let tenant = self
            .options
            .registrar
            .create_tenant(self.store.as_ref(), name, self.now())
            .await?;
        self.apply_store_changes().await?;
        tracing::info!(tenant = %tenant.id, "tenant created");
        Ok(tenant)
    }

    /// The lockout key of a user of a loaded tenant.
    pub(crate) fn user_key(&self, tenant: &TenantId, login: &str) -> Result<UserKey, ServiceError> {
        if !self.registry.knows_tenant(tenant) {
            return Err(ServiceError::Store(StoreError::UnknownTenant));
        }
        Ok(self.user_key_unchecked(tenant, login))
    }

    pub(crate) fn user_key_unchecked(&self, tenant: &TenantId, login: &str) -> UserKey {
        self.lockout.user_key(tenant, login)
    }

    pub(crate) async fn shutdown(&self) {
        if self.shutdown.send_replace(true) {
            // Already shut down (or shutting down): wait for the audit writer below anyway.
        }
        // Connection tasks see the flag and close with ShuttingDown; wait for them.
        self.registry
            .connections_ended(Instant::now() + SHUTDOWN_GRACE)
            .await;
        let tasks: Vec<_> = self.tasks().drain(..).collect();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
        // No sign-in runs any more: the lockout state is final.
        self.save_lockout_snapshot().await;
        // Another node may take over the cluster's jobs at once.
        for lease in [SWEEP_LEASE, PRUNE_LEASE] {
            if let Err(e) = self.store.release_lease(lease, &self.node_id).await {
                tracing::warn!(lease, error = %e, "could not release lease");
            }
        }
        // Close the audit queue and let the writer drain it.
        self.audit_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let writer = self
            .audit_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(w) = writer {
            let _ = w.await;
        }
        tracing::info!("service stopped");
    }
}

/// The periodic work: applying the store's change feed (when its signal fires, and every
/// `store_poll_interval` as the safety net: another process on an SQLite file does not fire
/// it), the status sweep and audit and token pruning (each on the node holding its lease),
/// and this node's sealer and lockout housekeeping.
async fn maintenance(inner: std::sync::Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    let Some(first) = inner.upgrade() else {
        return;
    };
    let poll = first.options.store_poll_interval;
    let sweep_every = first.options.sweep_interval;
    let prune_every = first.options.audit_prune_interval;
    let mut signal = first.store.change_signal();
    drop(first);
    let mut poll_tick = tokio::time::interval(poll);
    let mut sweep_tick = tokio::time::interval(sweep_every);
    let mut prune_tick = tokio::time::interval(prune_every);
    for t in [&mut poll_tick, &mut sweep_tick, &mut prune_tick] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        let mut signal_gone = false;
        tokio::select! {
            _ = shutdown.changed() => return,
            woke = wait_signal(&mut signal) => {
                if woke {
                    let Some(inner) = inner.upgrade() else { return };
                    if let Err(e) = inner.apply_store_changes().await {
                        tracing::warn!(error = %e, "applying store changes failed");
                    }
                } else {
                    signal_gone = true;
                }
            }
            _ = poll_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                if let Err(e) = inner.apply_store_changes().await {
                    tracing::warn!(error = %e, "store poll failed");
                }
            }
            _ = sweep_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                if inner.hold_lease(SWEEP_LEASE, sweep_every).await {
                    inner.metrics.cluster_job("sweep");
                    if let Err(e) = inner.sweep().await {
                        tracing::warn!(error = %e, "status sweep failed");
                    }
                }
            }
            _ = prune_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                let now = inner.now();
                if inner.hold_lease(PRUNE_LEASE, prune_every).await {
                    inner.metrics.cluster_job("prune");
                    let retention = inner.options.audit_retention;
                    match inner.store.prune_audit(retention.horizon(now), retention.max_rows).await {
                        Ok(n) if n > 0 => tracing::info!(events = n, "audit pruned"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "audit pruning failed"),
                    }
                    if let Err(e) = inner.store.prune_tokens(now.saturating_sub(TOKEN_KEEP_MS)).await {
                        tracing::warn!(error = %e, "token pruning failed");
                    }
                }
                // This node's own state, on every node.
                let mono = inner.mono();
                inner.sealer.lock().unwrap_or_else(PoisonError::into_inner).expire(mono);
                inner.lockout.reclaim(now);
            }
        }
        if signal_gone {
            // The store will not fire it again: the poll carries on alone.
            signal = None;
        }
    }
}

/// Waits for the store's change signal; never returns without one. `false` when the signal
/// is gone for good.
async fn wait_signal(signal: &mut Option<ChangeSignal>) -> bool {
    match signal {
        Some(s) => s.changed().await,
        None => std::future::pending().await,
    }
}
