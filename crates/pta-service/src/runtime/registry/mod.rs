//! The agent registry as the running service holds it: which tenants it trusts (their CAs,
//! CRLs and the listener's TLS configuration), which agents are admitted, which connections
//! are live and how loaded, and the agents' status over time.
//!
//! ```text
//!   store --store_sync (change feed: signal, own writes, poll)--> trust set (tenants, CAs,
//!                                                          CRLs, listener config)
//!                                              |            \
//!   agent TLS handshake --admission (identify, registry check)--> live connections (dispatch)
//!                                                                  |        |
//!                                      sign-ins pick the less loaded    status sweep (active,
//!                                      of two live connections          inactive, purged)
//! ```
//!
//! - `trust`: the trust set and tenant CRLs;
//! - `store_sync`: applying the store's change feed (tenants and revocations), closing revoked
//!   connections;
//! - `admission`: who may hold a session;
//! - `dispatch`: the live connections and the pick;
//! - `status`: the status sweep.

mod admission;
mod dispatch;
mod status;
mod store_sync;
mod trust;

pub(crate) use admission::{Admitted, admit, certificate_facts};
pub(crate) use dispatch::{Command, ConnHandle, ConnReply, Lease};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::{AgentId, ServiceError, StoreError, TenantId};

use dispatch::Dispatcher;
use trust::TrustSet;

/// The registry's in-memory state, shared by the listener, the sessions, the pipeline and
/// the background tasks.
pub(crate) struct Registry {
    pub(crate) trust: RwLock<TrustSet>,
    /// Serialises reloads of the trust set from the store, and holds the change feed's
    /// cursor: `None` until the first full load, then the `seq` of the last change applied.
    reload: tokio::sync::Mutex<Option<u64>>,
    /// The live connections, by tenant.
    pub(crate) dispatcher: Dispatcher,
    /// Connection tasks alive, and a wake-up when one ends.
    live_conns: AtomicUsize,
    conn_ended: Notify,
    next_conn_id: AtomicU64,
    /// When each agent's last-seen record was last written (heartbeats write at most every
    /// `seen_write_interval` per agent).
    seen_writes: Mutex<HashMap<AgentId, Instant>>,
    seen_write_interval: Duration,
}

impl Registry {
    pub(crate) fn new(seen_write_interval: Duration) -> Self {
        Self {
            trust: RwLock::new(TrustSet::default()),
            reload: tokio::sync::Mutex::new(None),
            dispatcher: Dispatcher::default(),
            live_conns: AtomicUsize::new(0),
            conn_ended: Notify::new(),
            next_conn_id: AtomicU64::new(1),
            seen_writes: Mutex::new(HashMap::new()),
            seen_write_interval,
        }
    }

    /// A fresh id for a connection.
    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Waits until every connection task has ended, or until `deadline`.
    pub(crate) async fn connections_ended(&self, deadline: Instant) {
        while self.live_conns.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            let notified = self.conn_ended.notified();
            if self.live_conns.load(Ordering::SeqCst) == 0 {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
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
            Some(last) if now.duration_since(*last) < self.seen_write_interval => false,
            _ => {
                map.insert(*agent, now);
                true
            }
        }
    }

    /// A connection task started.
    pub(crate) fn conn_started(&self) {
        self.live_conns.fetch_add(1, Ordering::SeqCst);
    }

    /// A connection task ended.
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

    /// A loaded tenant's current CRL, DER.
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

    /// Whether the tenant is loaded.
    pub(crate) fn knows_tenant(&self, tenant: &TenantId) -> bool {
        self.trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .tenants
            .contains_key(tenant)
    }
}
