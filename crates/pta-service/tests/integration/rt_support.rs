//! A small test agent over real TLS, and a service started for tests.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pta_cert::{Csr, KeyPair, KeySize, TlsOptions};
use pta_envelope::{AwsLcRsaIdentity, Envelope, KeyId, Opener, OpenerConfig, Reply};
use pta_service::{
    AgentId, Clock, ManualClock, MemoryStore, Registration, Service, ServiceOptions, Store,
    SystemClock, Tenant, TenantId,
};
use pta_wire::{
    AgentConfig, AgentEvent, AgentSession, CloseReason, ErrorCode, Message, Operation, Outcome,
    RenewRequest, RenewResponse, RequestId, SignInResponse, Verdict, envelope_binding,
    warnings_mac_input,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsConnector;

/// Every test's outer bound.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `f` bounded by [`TEST_TIMEOUT`].
pub(crate) async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test timed out");
}

/// Log lines of every test in this binary, captured by a global tracing subscriber.
pub(crate) fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Options for tests: RSA-2048 keys, a 5 s sign-in deadline.
pub(crate) fn options() -> ServiceOptions {
    let mut o = ServiceOptions::default();
    o.service_key_size = KeySize::Rsa2048;
    o.registrar.ca_key_size = KeySize::Rsa2048;
    o.sign_in_deadline = Duration::from_secs(5);
    o
}

/// Starts a service on a memory store with the system clock.
pub(crate) async fn service() -> Service {
    let _ = captured_logs();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Service::start(store, options(), Arc::new(SystemClock))
        .await
        .unwrap()
}

/// Starts a service on `store` with `clock`.
pub(crate) async fn service_with(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Service {
    let _ = captured_logs();
    Service::start(store, options(), clock).await.unwrap()
}

/// A manual clock at the real time (rustls checks certificates against the system clock).
pub(crate) fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemClock.unix_ms()))
}

pub(crate) async fn tenant(service: &Service, name: &str) -> Tenant {
    service.create_tenant(name).await.unwrap()
}

/// What the agent keeps after registering.
pub(crate) struct Registered {
    pub(crate) id: AgentId,
    pub(crate) tenant: TenantId,
    pub(crate) key: Arc<KeyPair>,
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) service_ca: CertificateDer<'static>,
    pub(crate) addr: SocketAddr,
}

impl Registered {
    /// The same agent with another key and certificate (issued by the same tenant CA).
    pub(crate) fn with_credential(
        &self,
        key: KeyPair,
        chain: Vec<CertificateDer<'static>>,
    ) -> Self {
        Self {
            id: self.id,
            tenant: self.tenant,
            key: Arc::new(key),
            chain,
            service_ca: self.service_ca.clone(),
            addr: self.addr,
        }
    }
}

pub(crate) fn new_key() -> KeyPair {
    KeyPair::generate(KeySize::Rsa2048).unwrap()
}

/// Registers a new agent of `tenant` with a fresh RSA-2048 key.
pub(crate) async fn register(service: &Service, tenant: &TenantId) -> Registered {
    let token = service.create_token(tenant, None).await.unwrap();
    let key = new_key();
    let csr = Csr::new(&key, "test-agent").unwrap().to_pem().unwrap();
    let (reg, endpoints): (Registration, Vec<String>) = service
        .register(&token, &csr, "127.0.0.1".parse().unwrap(), "test-agent 1.0")
        .await
        .unwrap();
    assert_eq!(endpoints, vec![service.agent_addr().to_string()]);
    Registered {
        id: reg.agent_id,
        tenant: reg.tenant,
        key: Arc::new(key),
        chain: reg
            .certificate_chain_der
            .into_iter()
            .map(CertificateDer::from)
            .collect(),
        service_ca: CertificateDer::from(service.service_ca_der()),
        addr: service.agent_addr(),
    }
}

/// How the test agent answers sign-in requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Open the envelope and check the password against the user table.
    Answer,
    /// Drop the connection when a request arrives.
    CloseOnRequest,
    /// Never answer.
    Silent,
    /// Answer Success with a made-up MAC.
    ForgeMac,
    /// Answer with a request id the service never sent.
    WrongId,
    /// Answer with this agent error.
    Fail(ErrorCode),
}

enum AgentCmd {
    Renew(Vec<u8>, oneshot::Sender<RenewResponse>),
    ResetOpener,
    Drain,
}

/// A connected test agent.
pub(crate) struct RunningAgent {
    /// Sign-in requests received.
    pub(crate) received: Arc<AtomicUsize>,
    /// Passwords the agent opened (to prove what reached it).
    pub(crate) behaviour: Arc<Mutex<Behaviour>>,
    closed: watch::Receiver<Option<CloseReason>>,
    commands: mpsc::Sender<AgentCmd>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningAgent {
    pub(crate) fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    pub(crate) fn set_behaviour(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    /// Waits until the session closes; returns the reason and how long it took.
    pub(crate) async fn wait_closed(&mut self, limit: Duration) -> Option<(CloseReason, Duration)> {
        let start = Instant::now();
        let r = *tokio::time::timeout(limit, self.closed.wait_for(|c| c.is_some()))
            .await
            .ok()?
            .ok()?;
        r.map(|reason| (reason, start.elapsed()))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Sends a renewal request with `csr_der` and waits for the answer.
    pub(crate) async fn renew(&self, csr_der: Vec<u8>) -> RenewResponse {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(AgentCmd::Renew(csr_der, tx))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap()
            .unwrap()
    }

    pub(crate) async fn reset_opener(&self) {
        self.commands.send(AgentCmd::ResetOpener).await.unwrap();
    }

    pub(crate) async fn drain(&self) {
        self.commands.send(AgentCmd::Drain).await.unwrap();
    }

    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The users the test agent knows: login -> password.
pub(crate) type Users = Arc<HashMap<String, String>>;

pub(crate) fn users(pairs: &[(&str, &str)]) -> Users {
    Arc::new(
        pairs
            .iter()
            .map(|(l, p)| ((*l).to_owned(), (*p).to_owned()))
            .collect(),
    )
}

/// Connects `reg` to its service and completes the handshake; `Err` if the service refused.
pub(crate) async fn connect(
    reg: &Registered,
    users: Users,
    behaviour: Behaviour,
) -> Result<RunningAgent, String> {
    connect_from(reg, "127.0.0.1".parse().unwrap(), users, behaviour).await
}

/// [`connect`] from a chosen loopback source address.
pub(crate) async fn connect_from(
    reg: &Registered,
    source: std::net::IpAddr,
    users: Users,
    behaviour: Behaviour,
) -> Result<RunningAgent, String> {
    let config = pta_cert::client_config(
        &reg.service_ca,
        &reg.chain,
        &reg.key,
        &TlsOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let tcp = socket.connect(reg.addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| "TLS timeout".to_owned())?
    .map_err(|e| e.to_string())?;
    let pkcs8 = reg.key.to_pkcs8_der().unwrap();
    let identity = AwsLcRsaIdentity::from_pkcs8_der(&pkcs8).unwrap();
    let key_id = KeyId::of_spki(&reg.key.public_key_der().unwrap());
    let received = Arc::new(AtomicUsize::new(0));
    let behaviour = Arc::new(Mutex::new(behaviour));
    let (closed_tx, closed) = watch::channel(None);
    let (established_tx, established) = oneshot::channel();
    let (commands_tx, commands) = mpsc::channel(16);
    let state = AgentLoop {
        tenant: reg.tenant.to_string(),
        key_id,
        pkcs8: pkcs8.to_vec(),
        opener: Opener::new(identity, OpenerConfig::default()),
        users,
        received: Arc::clone(&received),
        behaviour: Arc::clone(&behaviour),
        closed: closed_tx,
        established: Some(established_tx),
        renewals: HashMap::new(),
    };
    let task = tokio::spawn(state.run(tls, commands));
    match tokio::time::timeout(Duration::from_secs(10), established).await {
        Ok(Ok(())) => Ok(RunningAgent {
            received,
            behaviour,
            closed,
            commands: commands_tx,
            task,
        }),
        _ => {
            task.abort();
            Err(format!("not established (closed: {:?})", *closed.borrow()))
        }
    }
}

struct AgentLoop {
    tenant: String,
    key_id: KeyId,
    pkcs8: Vec<u8>,
    opener: Opener<AwsLcRsaIdentity>,
    users: Users,
    received: Arc<AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
    closed: watch::Sender<Option<CloseReason>>,
    established: Option<oneshot::Sender<()>>,
    renewals: HashMap<RequestId, oneshot::Sender<RenewResponse>>,
}

impl AgentLoop {
    async fn run(
        mut self,
        tls: tokio_rustls::client::TlsStream<TcpStream>,
        mut commands: mpsc::Receiver<AgentCmd>,
    ) {
        let base = Instant::now();
        let now = || u64::try_from(base.elapsed().as_millis()).unwrap();
        let (mut rd, mut wr) = tokio::io::split(tls);
        let mut config = AgentConfig::default();
        config.agent_version = "test-agent 1.0".to_owned();
        let mut session = AgentSession::new(config, now());
        let mut buf = vec![0u8; 16 * 1024];
        let mut out = Vec::new();
        loop {
            let mut raw = Vec::new();
            let mut drop_connection = false;
            while let Some(ev) = session.poll_event() {
                match ev {
                    AgentEvent::Established(_) => {
                        if let Some(tx) = self.established.take() {
                            let _ = tx.send(());
                        }
                    }
                    AgentEvent::SignInRequest { request, .. } => {
                        self.received.fetch_add(1, Ordering::SeqCst);
                        let behaviour = self.behaviour.lock().unwrap().clone();
                        match behaviour {
                            Behaviour::CloseOnRequest => drop_connection = true,
                            Behaviour::Silent => {}
                            Behaviour::WrongId => {
                                let r = SignInResponse {
                                    request_id: RequestId([0xEE; 16]),
                                    outcome: Outcome::Verdict(Verdict::Success),
                                    warnings: vec![],
                                    mac: vec![1; 32],
                                };
                                Message::SignInResponse(r).encode(&mut raw).unwrap();
                            }
                            other => {
                                let response = self.answer(now(), &request, &other);
                                let _ = session.send_sign_in_response(now(), response);
                            }
                        }
                    }
                    AgentEvent::RenewResponse(r) => {
                        if let Some(tx) = self.renewals.remove(&r.request_id) {
                            let _ = tx.send(r);
                        }
                    }
                    AgentEvent::Closed { reason, .. } => {
                        self.closed.send_replace(Some(reason));
                    }
                    _ => {}
                }
            }
            if drop_connection {
                self.closed.send_replace(Some(CloseReason::Normal));
                return;
            }
            out.clear();
            session.poll_transmit(&mut out);
            out.extend_from_slice(&raw);
            if !out.is_empty() && wr.write_all(&out).await.is_err() {
                self.closed.send_replace(Some(CloseReason::Normal));
                return;
            }
            if self.closed.borrow().is_some() {
                let _ = wr.flush().await;
                return;
            }
            let wake = session.poll_timeout();
            let sleep = async {
                match wake {
                    Some(t) => {
                        tokio::time::sleep_until((base + Duration::from_millis(t)).into()).await
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => {
                        session.handle_input(now(), &[]);
                        if self.closed.borrow().is_none() {
                            self.closed.send_replace(Some(CloseReason::Normal));
                        }
                        return;
                    }
                    Ok(n) => {
                        let mut used = 0;
                        while used < n {
                            used += session.handle_input(now(), &buf[used..n]);
                            if used < n { break; }
                        }
                    }
                },
                Some(cmd) = commands.recv() => match cmd {
                    AgentCmd::Renew(csr, tx) => {
                        let id = RequestId(rand_id());
                        self.renewals.insert(id, tx);
                        session.send_renew_request(now(), RenewRequest { request_id: id, csr }).unwrap();
                    }
                    AgentCmd::ResetOpener => {
                        let identity = AwsLcRsaIdentity::from_pkcs8_der(&self.pkcs8).unwrap();
                        self.opener = Opener::new(identity, OpenerConfig::default());
                    }
                    AgentCmd::Drain => {
                        let _ = session.drain(now());
                    }
                },
                () = sleep => session.handle_timeout(now()),
            }
        }
    }

    fn answer(
        &mut self,
        now: u64,
        request: &pta_wire::SignInRequest,
        behaviour: &Behaviour,
    ) -> SignInResponse {
        let error = |code| SignInResponse {
            request_id: request.request_id,
            outcome: Outcome::Error(code),
            warnings: vec![],
            mac: vec![],
        };
        if let Behaviour::Fail(code) = behaviour {
            return error(*code);
        }
        let binding = envelope_binding(
            Operation::SignIn,
            &request.request_id,
            &self.tenant,
            &request.login,
            &self.key_id.0,
            request.deadline_unix_ms,
        );
        let Ok(envelope) = Envelope::decode(&request.envelope) else {
            return error(ErrorCode::DecryptFailed);
        };
        let opened = match self.opener.open(now, &envelope, &binding) {
            Ok(o) => o,
            Err(pta_envelope::OpenError::UnknownSessionKey(_)) => {
                return error(ErrorCode::UnknownSessionKey);
            }
            Err(_) => return error(ErrorCode::DecryptFailed),
        };
        let good = self
            .users
            .get(&request.login)
            .is_some_and(|p| p.as_bytes() == opened.secret.expose());
        let verdict = if good {
            Verdict::Success
        } else {
            Verdict::InvalidCredentials
        };
        let w = warnings_mac_input(&[]);
        let mac = match behaviour {
            Behaviour::ForgeMac => vec![0u8; 32],
            _ => opened
                .reply_key
                .mac(&Reply {
                    request_id: &request.request_id.0,
                    verdict: verdict.code(),
                    warnings: &w,
                })
                .0
                .to_vec(),
        };
        let verdict = if *behaviour == Behaviour::ForgeMac {
            Verdict::Success
        } else {
            verdict
        };
        SignInResponse {
            request_id: request.request_id,
            outcome: Outcome::Verdict(verdict),
            warnings: vec![],
            mac,
        }
    }
}

fn rand_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).unwrap();
    id
}

/// The value of a metric line `name` (with labels, exactly as printed), or 0.
pub(crate) fn metric(service: &Service, line_prefix: &str) -> u64 {
    service
        .metrics_text()
        .lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Waits until `cond` holds, at most `limit`.
pub(crate) async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// A context for a user at 198.51.100.7.
pub(crate) fn ctx() -> pta_service::ClientContext {
    pta_service::ClientContext::new("198.51.100.7".parse().unwrap())
}

pub(crate) fn password(p: &str) -> pta_service::Password {
    pta_service::Password::new(p.as_bytes().to_vec())
}

/// `tenant`'s CA from the store, issuing certificates that name `named` as their tenant.
pub(crate) async fn tenant_authority(
    store: &dyn Store,
    tenant: &TenantId,
    named: &TenantId,
) -> pta_cert::Authority {
    let stored = store.authority(tenant).await.unwrap().unwrap();
    let key = KeyPair::from_pkcs8_pem(std::str::from_utf8(stored.key.expose()).unwrap()).unwrap();
    pta_cert::Authority::from_parts(
        pta_cert::AuthorityConfig::for_tenant(&named.to_string()),
        key,
        vec![CertificateDer::from(stored.certificate)],
    )
    .unwrap()
}

/// A new key and a certificate for `agent` from `authority`: the chain an agent presents.
pub(crate) fn issue(
    authority: &pta_cert::Authority,
    agent: &AgentId,
) -> (KeyPair, Vec<CertificateDer<'static>>) {
    let key = new_key();
    let csr = Csr::new(&key, "test-agent").unwrap();
    let issued = authority
        .issue_agent(&csr, &agent.to_string(), std::time::SystemTime::now())
        .unwrap();
    let mut chain = issued.chain;
    chain.push(authority.certificate_der().clone());
    (key, chain)
}
