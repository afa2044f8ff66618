//! [`Agent`]: the state directory loaded and locked, run until shutdown, then drained.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use pta_cert::{StateStore, TlsOptions, client_config};
use pta_directory::Directory;
use tokio::sync::watch;

use super::LOG;
use super::keys::{KeyEntry, Keyring};
use super::replay::{REPLAY_CAPACITY, ReplayWindow};
use super::shared::Shared;
use crate::Error;
use crate::cert::LeafFacts;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::ProxySettings;
use crate::state::{AgentInfo, ConnectionStatus, StateLock, unix_now};

/// A registered agent, ready to [`run`](Agent::run). Holds the state directory's lock for its
/// whole life: a second `Agent` on the same directory fails with [`Error::Locked`].
pub struct Agent {
    pub(super) shared: Arc<Shared>,
    _lock: StateLock,
    pub(super) endpoints: Vec<String>,
    pub(super) proxy: Option<ProxySettings>,
    metrics_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("dir", &self.shared.dir)
            .field("agent_id", &self.shared.info.agent_id)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// Loads the registered state from `state_dir` (taking its lock) and builds the directory
    /// backend from `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if another agent runs on the directory, [`Error::NotRegistered`],
    /// [`Error::CertificateExpired`], configuration and state errors.
    pub fn new(state_dir: impl Into<PathBuf>, config: Config) -> Result<Self, Error> {
        let directory = config.build_directory()?;
        Self::with_directory(state_dir, config, directory)
    }

    /// As [`Agent::new`] with a directory backend built by the caller.
    ///
    /// # Errors
    ///
    /// As [`Agent::new`].
    pub fn with_directory(
        state_dir: impl Into<PathBuf>,
        config: Config,
        directory: Arc<dyn Directory>,
    ) -> Result<Self, Error> {
        let dir = state_dir.into();
        let store = StateStore::open(&dir)?;
        let lock = StateLock::acquire(&dir)?;
        let info = AgentInfo::load(&dir)?;
        let _ = store.prune(SystemTime::now());
        let state = store.load()?;
        let leaf = state
            .current
            .chain
            .first()
            .ok_or(Error::Cert(pta_cert::Error::MalformedCertificate))?;
        let facts = LeafFacts::read(leaf)?;
        if SystemTime::now() >= facts.validity.not_after {
            return Err(Error::CertificateExpired);
        }
        let mut keys = vec![KeyEntry::new(&state.current.key, 0)?];
        if let Some(previous) = &state.previous {
            keys.push(KeyEntry::new(&previous.key, u64::MAX)?);
        }
        let tls = client_config(
            &state.service_ca,
            &state.current.chain,
            &state.current.key,
            &TlsOptions::default(),
        )?;
        let endpoints = if config.service.endpoints.is_empty() {
            info.endpoints.clone()
        } else {
            config.service.endpoints.clone()
        };
        if endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let proxy = config.proxy_settings()?;
        config.limits.key_size()?;
        let metrics_addr = config.metrics.as_ref().map(|m| m.listen);
        let shared = Arc::new(Shared {
            store,
            config,
            directory,
            clock: Instant::now(),
            service_ca: state.service_ca,
            tls: RwLock::new(tls),
            facts: Mutex::new(facts),
            keys: Keyring::new(keys),
            generation: AtomicU64::new(0),
            session_generation: AtomicU64::new(0),
            unconfirmed: Mutex::new(state.previous.is_some().then_some(0)),
            replay: Mutex::new(ReplayWindow::new(REPLAY_CAPACITY)),
            metrics: Arc::new(Metrics::default()),
            next_renewal_check: Mutex::new(tokio::time::Instant::now()),
            status: Mutex::new(ConnectionStatus {
                state: "starting".into(),
                endpoint: None,
                pid: std::process::id(),
                reconnects: 0,
                since: unix_now(),
            }),
            info,
            dir,
        });
        Ok(Self {
            shared,
            _lock: lock,
            endpoints,
            proxy,
            metrics_addr,
        })
    }

    /// The counters (also served by the metrics listener when configured).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The registration facts.
    pub fn info(&self) -> &AgentInfo {
        &self.shared.info
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Runs until `shutdown` completes, then drains: sends `Drain`, lets in-flight requests
    /// finish (bounded by `timeouts.drain`), closes. Reconnects with jittered exponential
    /// back-off, trying the endpoints in order on each attempt.
    ///
    /// # Errors
    ///
    /// [`Error::CertificateExpired`] when the certificate expires (register again),
    /// [`Error::Revoked`] when the service revoked the agent, and a metrics listener that
    /// cannot bind. Connection failures are retried, not returned.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let metrics_task = match self.metrics_addr {
            Some(addr) => Some(crate::metrics::serve(addr, self.shared.metrics.clone()).await?),
            None => None,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let main = self.run_loop(stop_rx);
        tokio::pin!(main);
        tokio::pin!(shutdown);
        let result = tokio::select! {
            r = &mut main => r,
            () = &mut shutdown => {
                tracing::info!(target: LOG, "shutdown requested: draining");
                let _ = stop_tx.send(true);
                main.await
            }
        };
        if let Some(t) = metrics_task {
            t.abort();
        }
        self.shared.set_status("stopped", None);
        self.shared.metrics.set_connected(false);
        result
    }
}
