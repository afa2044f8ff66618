//! The state shared by the connection loop, the session driver and the request tasks.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use pta_cert::StateStore;
use pta_directory::Directory;
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;

use super::keys::Keyring;
use super::replay::ReplayWindow;
use super::{LOG, lock};
use crate::cert::LeafFacts;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::{AgentInfo, ConnectionStatus, unix_now};

pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) store: StateStore,
    pub(super) info: AgentInfo,
    pub(super) config: Config,
    pub(super) directory: Arc<dyn Directory>,
    /// The origin of [`Shared::now_ms`], the clock the session and the openers run on.
    pub(super) clock: Instant,
    pub(super) service_ca: CertificateDer<'static>,
    /// The TLS client configuration for the next connection (the latest certificate).
    pub(super) tls: RwLock<Arc<ClientConfig>>,
    pub(super) facts: Mutex<LeafFacts>,
    pub(super) keys: Keyring,
    /// Incremented on each installed renewal; a session remembers the one it connected with.
    pub(super) generation: AtomicU64,
    /// The generation whose certificate the latest connection presented: the service seals
    /// that session's envelopes for its key, so renewals never evict it while it lives.
    pub(super) session_generation: AtomicU64,
    /// The generation still to be confirmed with `StateStore::confirm_current`, if any.
    pub(super) unconfirmed: Mutex<Option<u64>>,
    pub(super) replay: Mutex<ReplayWindow>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) next_renewal_check: Mutex<tokio::time::Instant>,
    pub(super) status: Mutex<ConnectionStatus>,
}

impl Shared {
    /// Milliseconds since the agent started.
    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records the connection state and writes `status.json`.
    pub(super) fn set_status(&self, state: &str, endpoint: Option<&str>) {
        let snapshot = {
            let mut s = lock(&self.status);
            s.state = state.to_owned();
            if let Some(e) = endpoint {
                s.endpoint = Some(e.to_owned());
            }
            s.since = unix_now();
            s.clone()
        };
        if let Err(e) = snapshot.save(&self.dir) {
            tracing::warn!(target: LOG, error = %e, "cannot write the status file");
        }
    }
}
