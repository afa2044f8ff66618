//! The running agent: connection loop, session driver, request processing, renewal.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pta_cert::{
    Csr, KeyPair, RenewalDecision, RenewalPolicy, StateStore, TlsOptions, client_config,
};
use pta_directory::{Directory, DirectoryError, Password};
use pta_envelope::{
    AwsLcRsaIdentity, Envelope, OpenError, Opened, Opener, OpenerConfig, Reply, Stanza,
};
use pta_wire::{
    AgentConfig, AgentEvent, AgentSession, AgentState, Capabilities, CloseReason, ErrorCode,
    Operation, Outcome, RenewRequest, RenewResult, RequestId, SignInRequest, SignInResponse,
    Verdict, Warning, WarningKind, envelope_binding, warnings_mac_input,
};
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::cert::LeafFacts;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::{ProxySettings, connect_tcp, split_host_port};
use crate::state::{AgentInfo, ConnectionStatus, StateLock, unix_now};
use crate::{ConfigError, ConfigReason, Error};

/// How many request ids the replay window holds at most (about 80 bytes each when full).
/// With the default 10 s deadline and [`REPLAY_SLACK_MS`], an id is held 20 s: the window
/// sustains 10,000 sign-ins/s per agent before answering `Overloaded`.
const REPLAY_CAPACITY: usize = 200_000;
/// How long an id stays in the replay window after its deadline. A request past its deadline
/// is refused anyway; the slack only covers a change of the service-to-local clock mapping
/// between sessions. (It was 60 s: with 100,000 ids, one agent then answered `Overloaded` to
/// everything above about 1,400 sign-ins/s sustained.)
const REPLAY_SLACK_MS: u64 = 10_000;
/// Wall-clock difference from the service above which a warning is logged.
const SKEW_WARN_MS: u64 = 60_000;
/// Agent keys kept for opening envelopes (current, previous), besides the live session's.
const OPENERS_KEPT: usize = 2;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered agent, ready to [`run`](Agent::run). Holds the state directory's lock for its
/// whole life: a second `Agent` on the same directory fails with [`Error::Locked`].
pub struct Agent {
    shared: Arc<Shared>,
    _lock: StateLock,
    endpoints: Vec<String>,
    proxy: Option<ProxySettings>,
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

struct KeyEntry {
    key_id: [u8; 32],
    /// The renewal generation that installed this key (0: the key loaded at start; the
    /// previous pair loaded at start gets `u64::MAX`).
    generation: u64,
    opener: Opener<AwsLcRsaIdentity>,
}

struct Shared {
    dir: PathBuf,
    store: StateStore,
    info: AgentInfo,
    config: Config,
    directory: Arc<dyn Directory>,
    clock: Instant,
    service_ca: CertificateDer<'static>,
    tls: RwLock<Arc<ClientConfig>>,
    facts: Mutex<LeafFacts>,
    keys: Mutex<Vec<KeyEntry>>,
    /// Held (shared) by every RSA open in flight. A session-key open that misses its key
    /// takes it exclusively, so it waits for the grant that may be opening that key (requests
    /// arrive in order: a grant is sent before the envelopes that use its key).
    rsa_opens: tokio::sync::RwLock<()>,
    /// Incremented on each installed renewal; a session remembers the one it connected with.
    generation: AtomicU64,
    /// The generation whose certificate the latest connection presented: the service seals
    /// that session's envelopes for its key, so renewals never evict it while it lives.
    session_generation: AtomicU64,
    /// The generation still to be confirmed with `StateStore::confirm_current`, if any.
    unconfirmed: Mutex<Option<u64>>,
    replay: Mutex<ReplayWindow>,
    metrics: Arc<Metrics>,
    next_renewal_check: Mutex<tokio::time::Instant>,
    status: Mutex<ConnectionStatus>,
}

enum SessionEnd {
    Lost,
    Stopped,
    Revoked,
    Expired,
}

/// A renewal key and CSR being generated off the runtime's threads.
type KeyGen = tokio::task::JoinHandle<Result<(KeyPair, Vec<u8>), Error>>;

struct Answer {
    op: Operation,
    response: SignInResponse,
    started: Instant,
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
        let mut keys = vec![key_entry(&state.current.key, 0)?];
        if let Some(previous) = &state.previous {
            keys.push(key_entry(&previous.key, u64::MAX)?);
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
            keys: Mutex::new(keys),
            rsa_opens: tokio::sync::RwLock::new(()),
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
                tracing::info!("shutdown requested: draining");
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

    async fn run_loop(&self, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
        let rc = &self.shared.config.reconnect;
        let mut backoff = Backoff::new(rc.initial, rc.max);
        let mut first = true;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            if SystemTime::now() >= lock(&self.shared.facts).validity.not_after {
                tracing::error!("the agent certificate expired: register the agent again");
                return Err(Error::CertificateExpired);
            }
            let mut connected = None;
            for endpoint in &self.endpoints {
                self.shared.set_status("connecting", Some(endpoint));
                match self.connect(endpoint).await {
                    Ok(stream) => {
                        connected = Some((endpoint, stream));
                        break;
                    }
                    Err(e) => tracing::warn!(%endpoint, error = %e, "connection failed"),
                }
                if *stop.borrow() {
                    return Ok(());
                }
            }
            if let Some((endpoint, (stream, generation))) = connected {
                if !first {
                    let n = self.shared.metrics.reconnected();
                    lock(&self.shared.status).reconnects = n;
                }
                first = false;
                let started = Instant::now();
                let end = self
                    .shared
                    .clone()
                    .session(endpoint, stream, generation, stop.clone())
                    .await;
                match end {
                    SessionEnd::Stopped => return Ok(()),
                    SessionEnd::Revoked => return Err(Error::Revoked),
                    SessionEnd::Expired => return Err(Error::CertificateExpired),
                    SessionEnd::Lost => {}
                }
                if started.elapsed() > rc.reset_after {
                    backoff.reset();
                }
            }
            let delay = backoff.next_delay();
            self.shared.set_status("backoff", None);
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "reconnecting after back-off"
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return Ok(()),
            }
        }
    }

    async fn connect(
        &self,
        endpoint: &str,
    ) -> Result<(TlsStream<tokio::net::TcpStream>, u64), Error> {
        let t = &self.shared.config.timeouts;
        let (host, port) = split_host_port(endpoint, 443).ok_or_else(|| {
            ConfigError::new(
                "service.endpoints",
                ConfigReason::Endpoint(endpoint.to_owned()),
            )
        })?;
        let tcp = connect_tcp(&host, port, self.proxy.as_ref(), t.connect).await?;
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let config = self
            .shared
            .tls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let name = ServerName::try_from(host.clone()).map_err(|_| {
            ConfigError::new("service.endpoints", ConfigReason::ServerName(host.clone()))
        })?;
        let tls = tokio::time::timeout(
            t.tls_handshake,
            TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| Error::Timeout("TLS handshake"))?
        .map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(r) => Error::Tls {
                    target: endpoint.to_owned(),
                    source: r.clone(),
                },
                None => Error::network(endpoint)(e),
            }
        })?;
        if tls.get_ref().1.alpn_protocol() != Some(pta_cert::ALPN_PTA1) {
            return Err(Error::Tls {
                target: endpoint.to_owned(),
                source: rustls::Error::NoApplicationProtocol,
            });
        }
        self.shared
            .session_generation
            .store(generation, Ordering::SeqCst);
        Ok((tls, generation))
    }
}

fn key_entry(key: &KeyPair, generation: u64) -> Result<KeyEntry, Error> {
    let der = key.to_pkcs8_der()?;
    let identity = AwsLcRsaIdentity::from_pkcs8_der(&der)?;
    let key_id: [u8; 32] = Sha256::digest(key.public_key_der()?).into();
    Ok(KeyEntry {
        key_id,
        generation,
        opener: Opener::new(identity, OpenerConfig::default()),
    })
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn set_status(&self, state: &str, endpoint: Option<&str>) {
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
            tracing::warn!(error = %e, "cannot write the status file");
        }
    }

    async fn session(
        self: Arc<Self>,
        endpoint: &str,
        stream: TlsStream<tokio::net::TcpStream>,
        generation: u64,
        mut stop: watch::Receiver<bool>,
    ) -> SessionEnd {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut wire = AgentConfig::default();
        wire.max_in_flight = self.config.limits.max_in_flight.max(1);
        wire.capabilities = Capabilities::PASSWORD_CHANGE | Capabilities::RENEW;
        wire.agent_version = env!("CARGO_PKG_VERSION").to_owned();
        let mut s = AgentSession::new(wire, self.now_ms());
        let (tx, mut rx) = mpsc::unbounded_channel::<Answer>();
        let mut renewal: Option<(RequestId, KeyPair)> = None;
        let mut keygen: Option<KeyGen> = None;
        let mut draining = false;
        let mut drain_deadline = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let mut out = Vec::new();
        let mut end = SessionEnd::Lost;
        tracing::info!(%endpoint, "connected");
        loop {
            while let Some(event) = s.poll_event() {
                match event {
                    AgentEvent::Established(w) => {
                        self.on_established(endpoint, generation, &w);
                    }
                    AgentEvent::SignInRequest {
                        request,
                        local_deadline,
                    } => self.on_request(&mut s, Operation::SignIn, request, local_deadline, &tx),
                    AgentEvent::PasswordChangeRequest {
                        request,
                        local_deadline,
                    } => self.on_request(
                        &mut s,
                        Operation::PasswordChange,
                        request,
                        local_deadline,
                        &tx,
                    ),
                    AgentEvent::RequestExpired(id) => {
                        tracing::debug!(?id, "request expired before its answer");
                    }
                    AgentEvent::RenewResponse(r) => {
                        let Some((id, key)) = renewal.take() else {
                            continue;
                        };
                        if id != r.request_id {
                            continue;
                        }
                        match r.result {
                            RenewResult::Chain(chain) => {
                                if let Err(e) = self.install_renewal(&key, chain) {
                                    tracing::warn!(error = %e, "renewed certificate refused");
                                    self.retry_renewal_later();
                                }
                            }
                            RenewResult::Error(code) => {
                                tracing::warn!(?code, "renewal refused by the service");
                                self.retry_renewal_later();
                            }
                        }
                    }
                    AgentEvent::RenewTimedOut(_) => {
                        tracing::warn!("renewal timed out");
                        renewal = None;
                        self.retry_renewal_later();
                    }
                    AgentEvent::PeerError(e) => {
                        tracing::warn!(code = ?e.code, detail = %e.detail, "service reported an error");
                        if e.request_id.is_some() && e.request_id == renewal.as_ref().map(|r| r.0) {
                            renewal = None;
                            self.retry_renewal_later();
                        }
                    }
                    AgentEvent::Closed {
                        reason,
                        by_peer,
                        error,
                    } => {
                        tracing::info!(?reason, by_peer, error = ?error, "session closed");
                        if by_peer && reason == CloseReason::Revoked {
                            tracing::error!("the service revoked this agent");
                            end = SessionEnd::Revoked;
                        }
                    }
                }
            }
            s.poll_transmit(&mut out);
            if !out.is_empty() {
                if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
                out.clear();
            }
            if s.state() == AgentState::Closed {
                break;
            }
            if !pending.is_empty() {
                let used = s.handle_input(self.now_ms(), &pending);
                pending.drain(..used.min(pending.len()));
                if used > 0 {
                    continue;
                }
            }
            if !draining && *stop.borrow() {
                draining = true;
                end = SessionEnd::Stopped;
                self.begin_drain(&mut s, &mut drain_deadline);
                continue;
            }
            let timer = s
                .poll_timeout()
                .map(|t| tokio::time::Instant::from_std(self.clock + Duration::from_millis(t)))
                .unwrap_or(drain_deadline);
            let renew_at = *lock(&self.next_renewal_check);
            let can_renew = s.state() == AgentState::Established
                && !draining
                && renewal.is_none()
                && keygen.is_none();
            tokio::select! {
                r = rd.read(&mut buf), if pending.is_empty() => match r {
                    Ok(0) => {
                        tracing::info!(%endpoint, "connection lost");
                        break;
                    }
                    // In TLS 1.3 the service's refusal of the client certificate (revoked,
                    // expired, unknown CA) arrives here, at the first read: say why.
                    Err(e) => {
                        tracing::warn!(%endpoint, error = %e, "connection lost");
                        break;
                    }
                    Ok(n) => {
                        let data = buf.get(..n).unwrap_or_default();
                        let used = s.handle_input(self.now_ms(), data);
                        pending.extend_from_slice(data.get(used..).unwrap_or_default());
                    }
                },
                Some(answer) = rx.recv() => {
                    self.send_answer(&mut s, answer);
                    // Every answer ready now goes out in the same write.
                    while let Ok(answer) = rx.try_recv() {
                        self.send_answer(&mut s, answer);
                    }
                }
                () = tokio::time::sleep_until(timer) => s.handle_timeout(self.now_ms()),
                _ = stop.changed(), if !draining => {
                    draining = true;
                    end = SessionEnd::Stopped;
                    self.begin_drain(&mut s, &mut drain_deadline);
                }
                () = tokio::time::sleep_until(drain_deadline), if draining => {
                    tracing::warn!("drain timeout: closing with requests in flight");
                    s.close(self.now_ms(), CloseReason::ShuttingDown);
                }
                () = tokio::time::sleep_until(renew_at), if can_renew => {
                    match self.renewal_check() {
                        RenewalDecision::Expired => {
                            tracing::error!("the agent certificate expired: register the agent again");
                            end = SessionEnd::Expired;
                            s.close(self.now_ms(), CloseReason::Normal);
                        }
                        RenewalDecision::RenewNow => {
                            tracing::info!("certificate renewal due");
                            keygen = Some(self.start_keygen());
                        }
                        RenewalDecision::NotYet { .. } => {}
                    }
                }
                r = async { match keygen.as_mut() { Some(h) => h.await, None => std::future::pending().await } } => {
                    keygen = None;
                    match r {
                        Ok(Ok((key, csr))) => {
                            let id = random_request_id();
                            match s.send_renew_request(self.now_ms(), RenewRequest { request_id: id, csr }) {
                                Ok(()) => renewal = Some((id, key)),
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot send the renewal request");
                                    self.retry_renewal_later();
                                }
                            }
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "renewal key or CSR failed");
                            self.retry_renewal_later();
                        }
                        Err(_) => self.retry_renewal_later(),
                    }
                }
            }
        }
        s.poll_transmit(&mut out);
        if !out.is_empty() {
            let _ = wr.write_all(&out).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        self.metrics.set_connected(false);
        end
    }

    fn begin_drain(&self, s: &mut AgentSession, deadline: &mut tokio::time::Instant) {
        let now = self.now_ms();
        *deadline = tokio::time::Instant::now() + self.config.timeouts.drain;
        self.set_status("draining", None);
        if s.drain(now).is_err() {
            s.close(now, CloseReason::ShuttingDown);
        }
    }

    fn on_established(&self, endpoint: &str, generation: u64, w: &pta_wire::Welcome) {
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let skew = local.abs_diff(w.service_time_unix_ms);
        if skew > SKEW_WARN_MS {
            tracing::warn!(skew_ms = skew, "the local clock differs from the service's");
        }
        tracing::info!(
            %endpoint,
            version = w.version,
            max_in_flight = w.max_in_flight,
            latest = %w.latest_agent_version,
            "session established"
        );
        self.metrics.set_connected(true);
        self.set_status("connected", Some(endpoint));
        let mut unconfirmed = lock(&self.unconfirmed);
        if *unconfirmed == Some(generation) {
            match self.store.confirm_current() {
                Ok(_) => {
                    tracing::info!("renewed certificate confirmed");
                    *unconfirmed = None;
                }
                Err(e) => tracing::warn!(error = %e, "cannot confirm the renewed certificate"),
            }
        }
    }

    fn renewal_check(&self) -> RenewalDecision {
        let mut policy = RenewalPolicy::default();
        policy.max_jitter = self.config.renewal.max_jitter;
        let seed_bytes: [u8; 32] = Sha256::digest(self.info.agent_id.as_bytes()).into();
        let mut seed = [0u8; 8];
        seed.copy_from_slice(seed_bytes.get(..8).unwrap_or(&[0; 8]));
        let validity = lock(&self.facts).validity;
        let decision = policy.decide(&validity, SystemTime::now(), u64::from_be_bytes(seed));
        *lock(&self.next_renewal_check) =
            tokio::time::Instant::now() + self.config.renewal.check_interval;
        decision
    }

    fn retry_renewal_later(&self) {
        *lock(&self.next_renewal_check) = tokio::time::Instant::now() + self.config.renewal.retry;
    }

    fn start_keygen(&self) -> KeyGen {
        let size = self.config.limits.key_size().unwrap_or_default();
        let agent_id = self.info.agent_id.clone();
        tokio::task::spawn_blocking(move || {
            let key = KeyPair::generate(size)?;
            let csr = Csr::new(&key, &agent_id)?;
            Ok((key, csr.as_der().to_vec()))
        })
    }

    fn install_renewal(&self, key: &KeyPair, chain: Vec<Vec<u8>>) -> Result<(), Error> {
        let chain: Vec<CertificateDer<'static>> =
            chain.into_iter().map(CertificateDer::from).collect();
        let leaf = chain
            .first()
            .ok_or(Error::BadResponse("empty renewal chain"))?;
        let facts = LeafFacts::read(leaf)?;
        if facts.spki != key.public_key_der()? {
            return Err(Error::BadResponse(
                "renewed certificate is not for the new key",
            ));
        }
        if facts.identity != lock(&self.facts).identity {
            return Err(Error::BadResponse(
                "renewed certificate names another agent",
            ));
        }
        let tls = client_config(&self.service_ca, &chain, key, &TlsOptions::default())?;
        let entry = key_entry(key, self.generation.load(Ordering::SeqCst) + 1)?;
        self.store.install(key, &chain)?;
        *self.tls.write().unwrap_or_else(PoisonError::into_inner) = tls;
        {
            let mut keys = lock(&self.keys);
            keys.insert(0, entry);
            // The live session keeps presenting the certificate it connected with, and the
            // service keeps sealing for that key until the next connection: keep it too.
            let live = self.session_generation.load(Ordering::SeqCst);
            let mut index = 0;
            keys.retain(|k| {
                index += 1;
                index <= OPENERS_KEPT || k.generation == live
            });
        }
        tracing::info!(serial = %facts.serial_hex, "certificate renewed and installed");
        *lock(&self.facts) = facts;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *lock(&self.unconfirmed) = Some(generation);
        self.metrics.renewed();
        Ok(())
    }

    fn on_request(
        self: &Arc<Self>,
        s: &mut AgentSession,
        op: Operation,
        request: SignInRequest,
        local_deadline: u64,
        tx: &mpsc::UnboundedSender<Answer>,
    ) {
        let started = Instant::now();
        let now = self.now_ms();
        let id = request.request_id;
        let refuse = |code| Answer {
            op,
            response: error_response(id, code),
            started,
        };
        if now >= local_deadline {
            return self.send_answer(s, refuse(ErrorCode::DeadlinePassed));
        }
        if let Err(code) = lock(&self.replay).insert(id, now, local_deadline + REPLAY_SLACK_MS) {
            tracing::warn!(?id, "replayed request id refused");
            return self.send_answer(s, refuse(code));
        }
        let shared = self.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let response = shared.process(op, request, local_deadline).await;
            let _ = tx.send(Answer {
                op,
                response,
                started,
            });
        });
    }

    fn send_answer(&self, s: &mut AgentSession, answer: Answer) {
        let outcome = answer.response.outcome;
        let now = self.now_ms();
        let sent = match answer.op {
            Operation::SignIn => s.send_sign_in_response(now, answer.response),
            _ => s.send_password_change_response(now, answer.response),
        };
        match sent {
            Ok(()) => {
                self.metrics.record(outcome, answer.started.elapsed());
                tracing::debug!(?outcome, "answered");
            }
            Err(e) => {
                tracing::debug!(error = %e, "answer not sent (request expired or session closed)")
            }
        }
    }

    async fn process(
        self: Arc<Self>,
        op: Operation,
        request: SignInRequest,
        local_deadline: u64,
    ) -> SignInResponse {
        let id = request.request_id;
        let Ok(envelope) = Envelope::decode(&request.envelope) else {
            return error_response(id, ErrorCode::DecryptFailed);
        };
        let tenant = lock(&self.facts).identity.tenant.clone();
        let login = request.login.clone();
        let deadline = request.deadline_unix_ms;
        // Only an RSA stanza (a grant, or an RSA-wrapped content key) costs enough to leave
        // the runtime's threads; a session-key open takes microseconds and runs inline,
        // without the blocking pool's thread hand-off (a third of the agent's CPU before).
        let rsa = envelope
            .stanzas()
            .iter()
            .any(|s| matches!(s, Stanza::RsaOaep { .. } | Stanza::SessionKeyGrant { .. }));
        let opened = if rsa {
            let _opening = self.rsa_opens.read().await;
            let shared = self.clone();
            tokio::task::spawn_blocking(move || {
                shared.open(op, &id, &tenant, &login, deadline, &envelope)
            })
            .await
        } else {
            match self.open(op, &id, &tenant, &login, deadline, &envelope) {
                Err(ErrorCode::UnknownSessionKey) => {
                    // The grant for this key may still be opening: wait for the RSA opens in
                    // flight, then try once more.
                    drop(self.rsa_opens.write().await);
                    Ok(self.open(op, &id, &tenant, &login, deadline, &envelope))
                }
                other => Ok(other),
            }
        };
        let opened = match opened {
            Ok(Ok(o)) => o,
            Ok(Err(code)) => return error_response(id, code),
            Err(_) => return error_response(id, ErrorCode::Internal),
        };
        let remaining = Duration::from_millis(local_deadline.saturating_sub(self.now_ms()));
        let login = request.login.as_str();
        let result = match op {
            Operation::SignIn => {
                let Ok(text) = std::str::from_utf8(opened.secret.expose()) else {
                    return error_response(id, ErrorCode::InvalidRequest);
                };
                let password = Password::new(text);
                tokio::time::timeout(remaining, self.directory.authenticate(login, &password)).await
            }
            _ => {
                let Some((old, new)) = split_change_secret(opened.secret.expose()) else {
                    return error_response(id, ErrorCode::InvalidRequest);
                };
                tokio::time::timeout(remaining, self.directory.change_password(login, &old, &new))
                    .await
            }
        };
        let (verdict, warnings) = match result {
            Err(_) => return error_response(id, ErrorCode::Timeout),
            Ok(Err(DirectoryError::PasswordRejected(rule))) if op == Operation::PasswordChange => {
                tracing::info!(%rule, "new password rejected by the directory");
                (Verdict::NewPasswordRejected, Vec::new())
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "directory failure");
                return error_response(id, directory_error_code(&e));
            }
            Ok(Ok(outcome)) => {
                let Some(v) = map_verdict(outcome.verdict) else {
                    return error_response(id, ErrorCode::Internal);
                };
                let mut w = Vec::new();
                if let Some(secs) = outcome.warnings.seconds_until_expiry {
                    w.push(Warning {
                        kind: WarningKind::PasswordExpiresInDays,
                        value: u32::try_from(secs / 86_400).unwrap_or(u32::MAX),
                    });
                }
                (v, w)
            }
        };
        let mac = mac_reply(&opened, &id, verdict, &warnings);
        SignInResponse {
            request_id: id,
            outcome: Outcome::Verdict(verdict),
            warnings,
            mac,
        }
    }

    /// Opens with each agent key (current first), each with its own binding.
    fn open(
        &self,
        op: Operation,
        id: &RequestId,
        tenant: &str,
        login: &str,
        deadline: u64,
        envelope: &Envelope,
    ) -> Result<Opened, ErrorCode> {
        let now = self.now_ms();
        let mut keys = lock(&self.keys);
        let (mut unknown, mut failed) = (false, false);
        for entry in keys.iter_mut() {
            let bound = envelope_binding(op, id, tenant, login, &entry.key_id, deadline);
            match entry.opener.open(now, envelope, &bound) {
                Ok(opened) => return Ok(opened),
                Err(OpenError::UnknownSessionKey(_)) => unknown = true,
                Err(OpenError::Decrypt) => failed = true,
                Err(_) => {}
            }
        }
        if unknown && !failed {
            Err(ErrorCode::UnknownSessionKey)
        } else {
            Err(ErrorCode::DecryptFailed)
        }
    }
}

fn mac_reply(opened: &Opened, id: &RequestId, verdict: Verdict, warnings: &[Warning]) -> Vec<u8> {
    let w = warnings_mac_input(warnings);
    opened
        .reply_key
        .mac(&Reply {
            request_id: &id.0,
            verdict: verdict.code(),
            warnings: &w,
        })
        .0
        .to_vec()
}

fn error_response(id: RequestId, code: ErrorCode) -> SignInResponse {
    SignInResponse {
        request_id: id,
        outcome: Outcome::Error(code),
        warnings: Vec::new(),
        mac: Vec::new(),
    }
}

/// The password-change secret (PROTOCOL.md section 5.5): `u32be(len(old)) || old || new`,
/// both UTF-8.
pub(crate) fn split_change_secret(secret: &[u8]) -> Option<(Password, Password)> {
    let (len, rest) = secret.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if len > rest.len() {
        return None;
    }
    let (old, new) = rest.split_at(len);
    Some((
        Password::new(std::str::from_utf8(old).ok()?),
        Password::new(std::str::from_utf8(new).ok()?),
    ))
}

fn map_verdict(v: pta_directory::Verdict) -> Option<Verdict> {
    use pta_directory::Verdict as D;
    Some(match v {
        D::Success => Verdict::Success,
        D::InvalidCredentials => Verdict::InvalidCredentials,
        D::AccountLocked => Verdict::AccountLocked,
        D::PasswordExpired => Verdict::PasswordExpired,
        D::MustChangePassword => Verdict::MustChangePassword,
        D::AccountDisabled => Verdict::AccountDisabled,
        D::AccountExpired => Verdict::AccountExpired,
        D::LogonHoursRestricted => Verdict::LogonHoursRestricted,
        D::WorkstationRestricted => Verdict::WorkstationRestricted,
        _ => return None,
    })
}

fn directory_error_code(e: &DirectoryError) -> ErrorCode {
    match e {
        DirectoryError::Unavailable { .. } | DirectoryError::Protocol { .. } => {
            ErrorCode::DirectoryUnavailable
        }
        DirectoryError::Timeout => ErrorCode::Timeout,
        DirectoryError::Misconfigured(_) | DirectoryError::Ambiguous { .. } => {
            ErrorCode::Misconfigured
        }
        DirectoryError::NotSupported => ErrorCode::Unsupported,
        _ => ErrorCode::Internal,
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // A failing system RNG leaves zeros: only jitter and renewal ids depend on this.
    let _ = getrandom::fill(&mut b);
    u64::from_be_bytes(b)
}

fn random_request_id() -> RequestId {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    RequestId(b)
}

/// Request ids seen recently, each kept until its deadline plus a slack.
struct ReplayWindow {
    seen: HashMap<RequestId, u64>,
    order: VecDeque<(u64, RequestId)>,
    capacity: usize,
}

impl ReplayWindow {
    fn new(capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Records `id`; `Replay` if it is still in the window, `Overloaded` when the window is
    /// full of live ids (never evicted early: that would open a replay hole).
    fn insert(&mut self, id: RequestId, now: u64, expiry: u64) -> Result<(), ErrorCode> {
        while let Some(&(exp, old)) = self.order.front() {
            if exp > now {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&exp) {
                self.seen.remove(&old);
            }
        }
        if let Some(&exp) = self.seen.get(&id)
            && exp > now
        {
            return Err(ErrorCode::Replay);
        }
        if self.seen.len() >= self.capacity {
            self.order.retain(|&(exp, _)| exp > now);
            self.seen.retain(|_, exp| *exp > now);
            if self.seen.len() >= self.capacity {
                return Err(ErrorCode::Overloaded);
            }
        }
        self.seen.insert(id, expiry);
        self.order.push_back((expiry, id));
        Ok(())
    }
}

/// Jittered exponential back-off: the n-th delay is uniform in `[d/2, d]` with
/// `d = min(initial * 2^n, max)`.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            attempt: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let d = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = d / 2;
        let span = u64::try_from((d - half).as_millis()).unwrap_or(0);
        half + Duration::from_millis(if span == 0 {
            0
        } else {
            random_u64() % (span + 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let full = Duration::from_secs(1 << i.min(5)).min(Duration::from_secs(30));
            assert!(
                *d >= full / 2 && *d <= full,
                "attempt {i}: {d:?} vs {full:?}"
            );
        }
        assert!(delays[7] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn replay_window_refuses_repeats_until_expiry_and_is_bounded() {
        let mut w = ReplayWindow::new(2);
        let a = RequestId::from(1u128);
        let b = RequestId::from(2u128);
        let c = RequestId::from(3u128);
        w.insert(a, 0, 100).unwrap();
        assert_eq!(w.insert(a, 50, 150), Err(ErrorCode::Replay));
        w.insert(b, 0, 100).unwrap();
        assert_eq!(w.insert(c, 10, 100), Err(ErrorCode::Overloaded));
        w.insert(c, 100, 200).unwrap();
        w.insert(a, 100, 200).unwrap();
    }

    #[test]
    fn replay_window_sustains_the_target_rate() {
        // 5,000 sign-ins/s for 60 s of virtual time, default 10 s deadlines.
        let mut w = ReplayWindow::new(REPLAY_CAPACITY);
        let per_ms = 5u128;
        for ms in 0..60_000u64 {
            for k in 0..per_ms {
                let id = RequestId::from(u128::from(ms) * per_ms + k);
                assert_eq!(
                    w.insert(id, ms, ms + 10_000 + REPLAY_SLACK_MS),
                    Ok(()),
                    "refused at {ms} ms"
                );
            }
        }
        assert!(w.seen.len() <= REPLAY_CAPACITY);
    }

    #[test]
    fn change_secret_layout() {
        let mut s = 3u32.to_be_bytes().to_vec();
        s.extend_from_slice(b"oldnew-pass");
        let (old, new) = split_change_secret(&s).unwrap();
        assert_eq!((old.expose(), new.expose()), ("old", "new-pass"));
        assert!(split_change_secret(&[0, 0, 0, 9, b'a']).is_none());
        assert!(split_change_secret(&[0, 0]).is_none());
    }

    #[test]
    fn directory_errors_map_to_codes() {
        assert_eq!(
            directory_error_code(&DirectoryError::Unavailable { tried: 1 }),
            ErrorCode::DirectoryUnavailable
        );
        assert_eq!(
            directory_error_code(&DirectoryError::Timeout),
            ErrorCode::Timeout
        );
        assert_eq!(
            directory_error_code(&DirectoryError::Misconfigured(
                pta_directory::Misconfiguration::ServiceAccountRejected
            )),
            ErrorCode::Misconfigured
        );
    }
}
