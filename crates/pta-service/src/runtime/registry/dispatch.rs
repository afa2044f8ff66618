//! The live agent connections of every tenant, and the choice of one for a request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pta_envelope::{AwsLcRsaRecipient, KeyId};
use pta_wire::{CloseReason, RenewResponse, SignInRequest};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::{AgentId, TenantId};

/// What the connection task reports for one request.
#[derive(Debug)]
pub(crate) enum ConnReply {
    /// The agent answered (verify the MAC before trusting a verdict).
    Response(pta_wire::SignInResponse),
    /// The deadline passed: report a timeout, never retry.
    TimedOut,
    /// The connection closed first, or the request could not be sent: retry once elsewhere.
    Aborted,
    /// The agent answered with an error for this request.
    PeerError(pta_wire::ErrorCode),
}

/// What other tasks ask of a connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send a sign-in request; the outcome goes to `reply`.
    SignIn {
        request: SignInRequest,
        reply: oneshot::Sender<ConnReply>,
    },
    /// Answer the agent's renewal request.
    Renew(RenewResponse),
}

/// One established agent connection, as the dispatcher sees it.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub(crate) id: u64,
    pub(crate) agent: AgentId,
    pub(crate) tenant: TenantId,
    /// Serial of the certificate the agent presented (normalised).
    pub(crate) serial: Vec<u8>,
    /// SHA-256 of the presented certificate's SubjectPublicKeyInfo.
    pub(crate) key_id: KeyId,
    pub(crate) recipient: AwsLcRsaRecipient,
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) close: watch::Sender<Option<CloseReason>>,
    pub(crate) in_flight: AtomicU32,
    /// The smaller of the service's per-agent cap and the session's negotiated cap.
    pub(crate) cap: u32,
    pub(crate) draining: AtomicBool,
}

impl ConnHandle {
    /// Asks the connection task to close the session with `reason`.
    pub(crate) fn close(&self, reason: CloseReason) {
        self.close.send_replace(Some(reason));
    }

    fn live(&self) -> bool {
        !self.draining.load(Ordering::Relaxed) && !self.commands.is_closed()
    }

    fn available(&self) -> bool {
        self.live() && self.in_flight.load(Ordering::Relaxed) < self.cap
    }
}

/// A request counted against a connection's in-flight total until dropped; dropping it wakes
/// requests waiting for capacity.
#[derive(Debug)]
pub(crate) struct Lease(pub(crate) Arc<ConnHandle>, Arc<Notify>);

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.1.notify_waiters();
    }
}

/// Per tenant, the live connections.
#[derive(Debug, Default)]
pub(crate) struct Dispatcher {
    tenants: Mutex<HashMap<TenantId, Vec<Arc<ConnHandle>>>>,
    /// Signalled when a lease ends or a connection joins: capacity may be free.
    freed: Arc<Notify>,
}

fn random_below(n: usize) -> usize {
    let r = getrandom::u64().unwrap_or(0);
    usize::try_from(r % (n.max(1) as u64)).unwrap_or(0)
}

impl Dispatcher {
    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Vec<Arc<ConnHandle>>>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add(&self, handle: Arc<ConnHandle>) {
        self.lock().entry(handle.tenant).or_default().push(handle);
        self.freed.notify_waiters();
    }

    /// Like [`pick`](Self::pick), but when every live connection of `tenant` is at its
    /// in-flight cap, waits (until `until`) for one to free a slot or for another connection,
    /// instead of failing at once. Without any live connection it returns `None` at once.
    pub(crate) async fn pick_within(
        &self,
        tenant: &TenantId,
        retry_after: Option<&ConnHandle>,
        until: tokio::time::Instant,
    ) -> Option<Lease> {
        loop {
            // Registered before looking, so a slot freed in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(lease) = self.pick(tenant, retry_after) {
                return Some(lease);
            }
            if !self.any_live(tenant, retry_after) {
                return None;
            }
            if tokio::time::timeout_at(until, freed).await.is_err() {
                return None;
            }
        }
    }

    /// Whether `tenant` has a live connection (busy or not) other than the lost one.
    fn any_live(&self, tenant: &TenantId, lost: Option<&ConnHandle>) -> bool {
        self.lock().get(tenant).is_some_and(|list| {
            list.iter()
                .any(|h| h.live() && lost.is_none_or(|l| l.id != h.id))
        })
    }

    pub(crate) fn remove(&self, tenant: &TenantId, id: u64) {
        let mut map = self.lock();
        if let Some(list) = map.get_mut(tenant) {
            list.retain(|h| h.id != id);
            if list.is_empty() {
                map.remove(tenant);
            }
        }
    }

    /// The less loaded of two random available connections of `tenant`, with its in-flight
    /// count already raised. With `retry_after` (a connection that was just lost), another
    /// agent is preferred; another connection of the same agent is the fallback.
    pub(crate) fn pick(
        &self,
        tenant: &TenantId,
        retry_after: Option<&ConnHandle>,
    ) -> Option<Lease> {
        let map = self.lock();
        let live = map.get(tenant)?;
        let mut candidates: Vec<&Arc<ConnHandle>> = live
            .iter()
            .filter(|h| h.available() && retry_after.is_none_or(|lost| lost.agent != h.agent))
            .collect();
        if candidates.is_empty()
            && let Some(lost) = retry_after
        {
            candidates = live
                .iter()
                .filter(|h| h.available() && h.id != lost.id)
                .collect();
        }
        let chosen = match candidates.len() {
            0 => return None,
            1 => candidates[0],
            n => {
                let a = random_below(n);
                let mut b = random_below(n - 1);
                if b >= a {
                    b += 1;
                }
                let (x, y) = (candidates[a], candidates[b]);
                if y.in_flight.load(Ordering::Relaxed) < x.in_flight.load(Ordering::Relaxed) {
                    y
                } else {
                    x
                }
            }
        };
        chosen.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Lease(Arc::clone(chosen), Arc::clone(&self.freed)))
    }

    /// Closes every connection for which `matches` holds; returns their agents' key ids (one
    /// per connection).
    pub(crate) fn close_where(
        &self,
        reason: CloseReason,
        matches: impl Fn(&ConnHandle) -> bool,
    ) -> Vec<KeyId> {
        let map = self.lock();
        let mut closed = Vec::new();
        for h in map.values().flatten().filter(|h| matches(h)) {
            h.close(reason);
            closed.push(h.key_id);
        }
        closed
    }

    /// Live connections of `agent`.
    pub(crate) fn connections_of(&self, agent: &AgentId) -> u32 {
        let map = self.lock();
        let n = map.values().flatten().filter(|h| h.agent == *agent).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Per tenant, how many distinct agents are connected.
    pub(crate) fn connected_agents(&self) -> Vec<(String, usize)> {
        let map = self.lock();
        let mut out: Vec<(String, usize)> = map
            .iter()
            .map(|(t, list)| {
                let mut agents: Vec<AgentId> = list.iter().map(|h| h.agent).collect();
                agents.sort_by_key(|a| *a.as_bytes());
                agents.dedup();
                (t.to_string(), agents.len())
            })
            .collect();
        out.sort();
        out
    }
}
