//! The shared state of a running service, its start-up, store polling, sweep and shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use pta_envelope::{Sealer, SealerConfig};
use pta_lockout::UserKey;
use pta_wire::CloseReason;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::{
    AgentId, AuditEvent, AuditKind, AuditOutcome, ServiceError, Store, Tenant, TenantId, Transition,
};

use super::admin::{self, ServerIdentity};
use super::audit_log::{self, AuditMsg};
use super::dispatch::Dispatcher;
use super::lockout::Lockout;
use super::metrics::Metrics;
use super::trust::{TenantState, TrustSet, make_crl, normalise_serial};
use super::{Clock, ServiceCa, ServiceOptions};

/// A CRL is signed again when it is this old (it is valid for the authority's CRL lifetime,
/// 7 days by default).
const CRL_REFRESH_MS: u64 = 24 * 60 * 60 * 1_000;

/// Expired registration tokens are kept this long (for the admin to see), then pruned.
const TOKEN_KEEP_MS: u64 = 24 * 60 * 60 * 1_000;

/// How long shutdown waits for connection tasks to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

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
    pub(crate) trust: RwLock<TrustSet>,
    /// Serialises reloads of the trust set from the store.
    reload: tokio::sync::Mutex<()>,
    pub(crate) dispatcher: Dispatcher,
    pub(crate) sealer: Mutex<Sealer>,
    pub(crate) lockout: Lockout,
    pub(crate) metrics: Arc<Metrics>,
    audit_tx: Mutex<Option<mpsc::Sender<AuditMsg>>>,
    audit_writer: Mutex<Option<JoinHandle<()>>>,
    pub(crate) shutdown: watch::Sender<bool>,
    background: Mutex<Vec<JoinHandle<()>>>,
    /// Connection tasks alive, and a wake-up when one ends.
    live_conns: AtomicUsize,
    conn_ended: Notify,
    pub(crate) next_conn_id: AtomicU64,
    /// When each agent's last-seen record was last written (heartbeats write at most every
    /// `seen_write_interval` per agent).
    seen_writes: Mutex<HashMap<AgentId, Instant>>,
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

        let metrics = Arc::new(Metrics::default());
        let lockout = Lockout::new(&options, Arc::clone(&metrics))?;

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
            trust: RwLock::new(TrustSet::default()),
            reload: tokio::sync::Mutex::new(()),
            dispatcher: Dispatcher::default(),
            sealer: Mutex::new(Sealer::new(SealerConfig::default())),
            lockout,
            metrics,
            audit_tx: Mutex::new(Some(audit_tx)),
            audit_writer: Mutex::new(Some(writer)),
            shutdown,
            background: Mutex::new(Vec::new()),
            live_conns: AtomicUsize::new(0),
            conn_ended: Notify::new(),
            next_conn_id: AtomicU64::new(1),
            seen_writes: Mutex::new(HashMap::new()),
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
        tracing::info!(listen = %agent_addr, "agent listener started");
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

    /// Whether a heartbeat of `agent` should write its last-seen record now (and notes it).
    pub(crate) fn seen_write_due(&self, agent: &AgentId) -> bool {
        let mut map = self
            .seen_writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match map.get(agent) {
            Some(last) if now.duration_since(*last) < self.options.seen_write_interval => false,
            _ => {
                map.insert(*agent, now);
                true
            }
        }
    }

    pub(crate) fn conn_started(&self) {
        self.live_conns.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn conn_finished(&self) {
        self.live_conns.fetch_sub(1, Ordering::SeqCst);
        self.conn_ended.notify_waiters();
    }

    /// The listener's current rustls config, if any tenant exists.
    pub(crate) fn listener_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .config
            .clone()
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

    pub(crate) fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        let trust = self.trust.read().unwrap_or_else(PoisonError::into_inner);
        let state = trust
            .tenants
            .get(tenant)
            .ok_or(ServiceError::Store(StoreError::UnknownTenant))?;
        Ok(state.crl.to_vec())
    }

    /// The loaded tenant named by `key`, its id or its name, from memory (no store call).
    /// `None` for a tenant this process has not loaded yet.
    pub(crate) fn loaded_tenant(&self, key: &str) -> Option<TenantId> {
        let trust = self.trust.read().unwrap_or_else(PoisonError::into_inner);
        if let Ok(id) = key.parse::<TenantId>()
            && trust.tenants.contains_key(&id)
        {
            return Some(id);
        }
        trust.names.get(key).copied()
    }

    pub(crate) fn knows_tenant(&self, tenant: &TenantId) -> bool {
        self.trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .tenants
            .contains_key(tenant)
    }

    /// The lockout key of a user of a loaded tenant.
    pub(crate) fn user_key(&self, tenant: &TenantId, login: &str) -> Result<UserKey, ServiceError> {
        if !self.knows_tenant(tenant) {
            return Err(ServiceError::Store(StoreError::UnknownTenant));
        }
        Ok(self.user_key_unchecked(tenant, login))
    }

    pub(crate) fn user_key_unchecked(&self, tenant: &TenantId, login: &str) -> UserKey {
        self.lockout.user_key(tenant, login)
    }

    /// Brings the trust set up to date with the store: tenants created and certificates
    /// revoked (by this process or another one on the same store), and CRLs about to expire.
    /// Rebuilds the listener config and closes the connections of revoked certificates.
    pub(crate) async fn apply_store_changes(&self) -> Result<(), ServiceError> {
        let _guard = self.reload.lock().await;
        let now = self.now();
        let tenants = self.store.tenants().await?;
        let mut changed = false;
        let mut newly_revoked: Vec<(TenantId, Vec<u8>, Option<AgentId>)> = Vec::new();
        for tenant in tenants {
            match self.refresh_tenant(&tenant, now).await {
                Ok(Some(revoked)) => {
                    newly_revoked.extend(revoked);
                    changed = true;
                }
                Ok(None) => {}
                // One tenant's broken authority or CRL must not stop the others.
                Err(e) => {
                    tracing::error!(tenant = %tenant.id, error = %e, "could not load tenant trust")
                }
            }
        }
        for (tenant, serial, agent) in newly_revoked {
            let closed = self.dispatcher.close_where(CloseReason::Revoked, |h| {
                h.tenant == tenant && (h.serial == serial || Some(h.agent) == agent)
            });
            if !closed.is_empty() {
                let mut sealer = self.sealer.lock().unwrap_or_else(PoisonError::into_inner);
                for key in &closed {
                    sealer.forget(key);
                }
                drop(sealer);
                tracing::info!(
                    %tenant,
                    agent = ?agent.map(|a| a.to_string()),
                    connections = closed.len(),
                    "revoked agent disconnected"
                );
            }
        }
        // New connections get the new trust set and CRLs (revoked ones are also refused by the
        // registry check, which reads the same trust set and the store).
        if changed {
            self.trust
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .rebuild(&self.server)?;
        }
        Ok(())
    }

    /// Loads a tenant new to this process, or signs its CRL again if it has new revocations or
    /// is due. Returns the newly revoked serials (with their agents) if anything changed.
    async fn refresh_tenant(
        &self,
        record: &Tenant,
        now: u64,
    ) -> Result<Option<Vec<(TenantId, Vec<u8>, Option<AgentId>)>>, ServiceError> {
        let tenant = &record.id;
        let known = {
            let trust = self.trust.read().unwrap_or_else(PoisonError::into_inner);
            trust
                .tenants
                .get(tenant)
                .map(|t| (Arc::clone(&t.authority), t.revoked.clone(), t.crl_made_at))
        };
        let revocations = self.store.revocations(tenant).await?;
        let (authority, revoked, crl_made_at) = match known {
            Some(k) => k,
            None => {
                let authority = self
                    .options
                    .registrar
                    .load_authority(self.store.as_ref(), tenant)
                    .await?;
                (Arc::new(authority), Default::default(), 0)
            }
        };
        let fresh: Vec<_> = revocations
            .iter()
            .filter(|r| !revoked.contains(&normalise_serial(&r.serial)))
            .map(|r| (*tenant, normalise_serial(&r.serial), r.agent))
            .collect();
        let due = crl_made_at == 0 || now.saturating_sub(crl_made_at) >= CRL_REFRESH_MS;
        if fresh.is_empty() && !due {
            return Ok(None);
        }
        let crl = make_crl(self.store.as_ref(), tenant, &authority, &revocations, now).await?;
        let state = TenantState {
            authority,
            revoked: revocations
                .iter()
                .map(|r| normalise_serial(&r.serial))
                .collect(),
            crl,
            crl_made_at: now,
        };
        self.trust
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(*tenant, &record.name, state)?;
        Ok(Some(fresh))
    }

    pub(crate) async fn sweep(&self) -> Result<(), ServiceError> {
        let now = self.now();
        let policy = self.options.status;
        for tenant in self.store.tenants().await? {
            for agent in self.store.agents(&tenant.id).await? {
                let connected = self.dispatcher.connections_of(&agent.id) > 0;
                match policy.transition(now, agent.status, agent.last_seen, connected) {
                    Transition::Keep => {}
                    Transition::Set(status) => {
                        self.store.set_agent_status(&agent.id, status).await?;
                        if status == crate::AgentStatus::Inactive {
                            tracing::info!(agent = %agent.id, tenant = %tenant.id, "agent inactive");
                            self.audit(
                                AuditEvent::new(now, AuditKind::AgentInactive, AuditOutcome::Ok)
                                    .with_tenant(tenant.id)
                                    .with_agent(agent.id),
                            );
                        }
                    }
                    Transition::Purge => {
                        if self.store.delete_agent(&agent.id).await? {
                            tracing::info!(agent = %agent.id, tenant = %tenant.id, "agent purged");
                            self.audit(
                                AuditEvent::new(now, AuditKind::AgentPurged, AuditOutcome::Ok)
                                    .with_tenant(tenant.id)
                                    .with_agent(agent.id),
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) async fn shutdown(&self) {
        if self.shutdown.send_replace(true) {
            // Already shut down (or shutting down): wait for the audit writer below anyway.
        }
        // Connection tasks see the flag and close with ShuttingDown; wait for them.
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.live_conns.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            let notified = self.conn_ended.notified();
            if self.live_conns.load(Ordering::SeqCst) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
        let tasks: Vec<_> = self.tasks().drain(..).collect();
        for t in tasks {
            t.abort();
            let _ = t.await;
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

/// The periodic work: store polling (revocations and tenants from other processes, CRL
/// refresh), the status sweep, audit and token pruning, sealer and lockout housekeeping.
async fn maintenance(inner: std::sync::Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    let Some(first) = inner.upgrade() else {
        return;
    };
    let poll = first.options.store_poll_interval;
    let sweep_every = first.options.sweep_interval;
    let prune_every = first.options.audit_prune_interval;
    drop(first);
    let mut poll_tick = tokio::time::interval(poll);
    let mut sweep_tick = tokio::time::interval(sweep_every);
    let mut prune_tick = tokio::time::interval(prune_every);
    for t in [&mut poll_tick, &mut sweep_tick, &mut prune_tick] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = poll_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                if let Err(e) = inner.apply_store_changes().await {
                    tracing::warn!(error = %e, "store poll failed");
                }
            }
            _ = sweep_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                if let Err(e) = inner.sweep().await {
                    tracing::warn!(error = %e, "status sweep failed");
                }
            }
            _ = prune_tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                let now = inner.now();
                let retention = inner.options.audit_retention;
                match inner.store.prune_audit(retention.horizon(now), retention.max_rows).await {
                    Ok(n) if n > 0 => tracing::info!(events = n, "audit pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "audit pruning failed"),
                }
                if let Err(e) = inner.store.prune_tokens(now.saturating_sub(TOKEN_KEEP_MS)).await {
                    tracing::warn!(error = %e, "token pruning failed");
                }
                let mono = inner.mono();
                inner.sealer.lock().unwrap_or_else(PoisonError::into_inner).expire(mono);
                inner.lockout.reclaim(now);
            }
        }
    }
}
