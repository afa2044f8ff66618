//! A minimal stand-in for the service side, built from the real parts: an HTTPS registration
//! server (hyper + tokio-rustls) implementing PROTOCOL.md section 13.3 with a pta-cert tenant
//! `Authority` and a service CA, and an agent listener (tokio-rustls with pta-cert
//! `server_config`, a `pta_wire::ServiceSession`, and a `pta_envelope::Sealer` on the test's
//! side) from which tests send sign-ins and check the MACs.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use bytes::Bytes;
use der::{Decode, Encode};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use pta_agent::{Agent, Config, JoinToken};
use pta_cert::{
    Authority, AuthorityConfig, Csr, KeyPair, KeySize, SanEntry, TenantTrust, TlsOptions,
    certificates_to_pem, server_config,
};
use pta_directory::{Directory, MemoryDirectory, MemoryUser, Password};
use pta_envelope::{AgentRecipient, AwsLcRsaRecipient, ReplyKey, Sealer, SealerConfig};
use pta_wire::{
    CloseReason, Operation, Outcome, RenewResponse, RenewResult, RequestId, ServiceConfig,
    ServiceEvent, ServiceSession, SignInRequest, SignInResponse, envelope_binding,
    warnings_mac_input,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

pub(crate) const TENANT: &str = "contoso";
/// Bound on every wait in these tests.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) fn now() -> SystemTime {
    SystemTime::now()
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Service CA (issues server certificates) and the tenant's authority (issues agents).
pub(crate) struct Pki {
    pub(crate) service_ca: Authority,
    pub(crate) tenant: Authority,
    pub(crate) server_chain: Vec<CertificateDer<'static>>,
    pub(crate) server_key: KeyPair,
}

impl Pki {
    pub(crate) fn new() -> Arc<Self> {
        Self::with_agent_lifetime(Duration::from_secs(180 * 86_400))
    }

    pub(crate) fn with_agent_lifetime(lifetime: Duration) -> Arc<Self> {
        let mut sc = AuthorityConfig::for_tenant("service");
        sc.common_name = Some("pta service CA".into());
        let service_ca =
            Authority::create_root(sc, KeyPair::generate(KeySize::Rsa2048).unwrap(), now())
                .unwrap();
        let mut tc = AuthorityConfig::for_tenant(TENANT);
        tc.agent_lifetime = lifetime;
        tc.backdate = Duration::from_secs(1);
        let tenant =
            Authority::create_root(tc, KeyPair::generate(KeySize::Rsa2048).unwrap(), now())
                .unwrap();
        let server_key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let csr = Csr::new(&server_key, "127.0.0.1").unwrap();
        let issued = service_ca
            .issue_server(
                &csr,
                &[SanEntry::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST))],
                now(),
            )
            .unwrap();
        let server_chain = vec![issued.der.clone(), service_ca.certificate_der().clone()];
        Arc::new(Self {
            service_ca,
            tenant,
            server_chain,
            server_key,
        })
    }

    /// SHA-256 of the service CA certificate: the token's pin.
    pub(crate) fn pin_hex(&self) -> String {
        hex(&Sha256::digest(self.service_ca.certificate_der().as_ref()))
    }

    pub(crate) fn token(&self) -> JoinToken {
        JoinToken::parse(&self.token_text(&self.pin_hex())).unwrap()
    }

    pub(crate) fn token_text(&self, pin_hex: &str) -> String {
        format!(
            "pta1.{}.{pin_hex}",
            Base64UrlUnpadded::encode_string(&[7u8; 32])
        )
    }

    /// Chain PEM as the registration endpoint returns it: agent certificate, tenant CA.
    pub(crate) fn issue(
        &self,
        csr: &Csr,
        agent_id: &str,
        at: SystemTime,
    ) -> Vec<CertificateDer<'static>> {
        let issued = self.tenant.issue_agent(csr, agent_id, at).unwrap();
        vec![issued.der, self.tenant.certificate_der().clone()]
    }

    /// Writes a registered state directory directly (no HTTPS), with a certificate issued at
    /// `issued_at`.
    pub(crate) fn provision(&self, dir: &Path, endpoints: Vec<String>, issued_at: SystemTime) {
        let store = pta_cert::StateStore::open(dir).unwrap();
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let chain = self.issue(&Csr::new(&key, "x").unwrap(), "agent-1", issued_at);
        store.install(&key, &chain).unwrap();
        store
            .save_service_ca(self.service_ca.certificate_der())
            .unwrap();
        let info = serde_json::json!({
            "agent_id": "agent-1",
            "tenant": TENANT,
            "endpoints": endpoints,
            "registered_at": 1,
        });
        let path = dir.join("agent.json");
        std::fs::write(&path, serde_json::to_vec(&info).unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn tls_server(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        pki.server_key.to_pkcs8_der().unwrap().to_vec(),
    ));
    let mut c = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.server_chain.clone(), key)
    .unwrap();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(c)
}

/// What the registration server answers.
#[derive(Clone, Debug)]
pub(crate) enum RegMode {
    Issue,
    Refuse(u16, &'static str),
}

pub(crate) struct RegServer {
    pub(crate) url: String,
    pub(crate) requests: Arc<AtomicUsize>,
    pub(crate) mode: Arc<Mutex<RegMode>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RegServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RegServer {
    pub(crate) async fn start(pki: Arc<Pki>, endpoints: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = TlsAcceptor::from(tls_server(&pki));
        let requests = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(Mutex::new(RegMode::Issue));
        let counter = Arc::new(AtomicUsize::new(0));
        let (r2, m2, e2) = (requests.clone(), mode.clone(), endpoints.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let (pki, requests, mode, endpoints, counter) = (
                    pki.clone(),
                    r2.clone(),
                    m2.clone(),
                    e2.clone(),
                    counter.clone(),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(
                        move |req: Request<hyper::body::Incoming>| {
                            let (pki, requests, mode, endpoints, counter) = (
                                pki.clone(),
                                requests.clone(),
                                mode.clone(),
                                endpoints.clone(),
                                counter.clone(),
                            );
                            async move {
                                requests.fetch_add(1, Ordering::SeqCst);
                                let path_ok = req.uri().path() == "/v1/agents/register";
                                let body = req.into_body().collect().await.map(|b| b.to_bytes());
                                let mode = mode.lock().unwrap().clone();
                                let (status, json) = match (path_ok, body, mode) {
                                    (false, _, _) => (
                                        404,
                                        serde_json::json!({"error": "not_found", "message": "no"}),
                                    ),
                                    (_, Err(_), _) => (
                                        400,
                                        serde_json::json!({"error": "malformed_request", "message": "body"}),
                                    ),
                                    (_, Ok(_), RegMode::Refuse(status, code)) => (
                                        status,
                                        serde_json::json!({"error": code, "message": "refused by test"}),
                                    ),
                                    (_, Ok(body), RegMode::Issue) => {
                                        register_ok(&pki, &body, &endpoints, &counter)
                                    }
                                };
                                let mut resp = Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json");
                                if status == 429 {
                                    resp = resp.header("retry-after", "17");
                                }
                                Ok::<_, std::convert::Infallible>(
                                    resp.body(Full::new(Bytes::from(json.to_string()))).unwrap(),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            url: format!("https://127.0.0.1:{port}"),
            requests,
            mode,
            task,
        }
    }
}

fn register_ok(
    pki: &Pki,
    body: &Bytes,
    endpoints: &[String],
    counter: &AtomicUsize,
) -> (u16, serde_json::Value) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (
            400,
            serde_json::json!({"error": "malformed_request", "message": "json"}),
        );
    };
    let token = v["token"].as_str().unwrap_or_default();
    if JoinToken::parse(token).is_err() {
        return (
            400,
            serde_json::json!({"error": "malformed_token", "message": "token"}),
        );
    }
    let Ok(csr) = Csr::from_pem(v["csr"].as_str().unwrap_or_default()) else {
        return (
            400,
            serde_json::json!({"error": "malformed_csr", "message": "csr"}),
        );
    };
    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
    let agent_id = format!("agent-{n}");
    let chain = pki.issue(&csr, &agent_id, now());
    (
        200,
        serde_json::json!({
            "agent_id": agent_id,
            "tenant": TENANT,
            "certificate_chain": certificates_to_pem(&chain).unwrap(),
            "service_ca": certificates_to_pem(std::slice::from_ref(pki.service_ca.certificate_der())).unwrap(),
            "agent_endpoints": endpoints,
        }),
    )
}

enum Cmd {
    Send {
        op: Operation,
        request: SignInRequest,
        reply: oneshot::Sender<SignInResponse>,
        delay: Duration,
    },
    Close(CloseReason),
}

/// One accepted agent connection, driven by its own task.
pub(crate) struct ServiceConn {
    cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) peer_leaf: CertificateDer<'static>,
    pub(crate) tenant: String,
    pub(crate) recipient: AwsLcRsaRecipient,
    pub(crate) drained: Arc<Mutex<bool>>,
}

/// The agent listener.
pub(crate) struct Listener {
    pub(crate) addr: String,
    conns: mpsc::UnboundedReceiver<ServiceConn>,
    pub(crate) renewals: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    pub(crate) async fn start(pki: Arc<Pki>) -> Self {
        Self::start_with(pki, ServiceConfig::default()).await
    }

    pub(crate) async fn start_with(pki: Arc<Pki>, service: ServiceConfig) -> Self {
        let mut trust = TenantTrust::new();
        trust.insert_authority(&pki.tenant).unwrap();
        let crl = pki.tenant.crl(&[], 1, now()).unwrap();
        let config = server_config(
            &trust,
            &[crl],
            &pki.server_chain,
            &pki.server_key,
            &TlsOptions::default(),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, conns) = mpsc::unbounded_channel();
        let renewals = Arc::new(AtomicUsize::new(0));
        let r2 = renewals.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let leaf = tls.get_ref().1.peer_certificates().unwrap()[0]
                    .clone()
                    .into_owned();
                let tenant = pta_cert::AgentIdentity::read_unverified(&leaf)
                    .unwrap()
                    .tenant;
                let spki = x509_cert::Certificate::from_der(&leaf)
                    .unwrap()
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .unwrap();
                let recipient = AwsLcRsaRecipient::from_spki_der(&spki).unwrap();
                let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
                let drained = Arc::new(Mutex::new(false));
                tokio::spawn(drive(
                    tls,
                    cmd_rx,
                    pki.clone(),
                    service.clone(),
                    drained.clone(),
                    r2.clone(),
                ));
                let _ = tx.send(ServiceConn {
                    cmd: cmd_tx,
                    peer_leaf: leaf,
                    tenant,
                    recipient,
                    drained,
                });
            }
        });
        Self {
            addr,
            conns,
            renewals,
            task,
        }
    }

    /// The next agent connection (bounded wait).
    pub(crate) async fn next_conn(&mut self) -> ServiceConn {
        tokio::time::timeout(WAIT, self.conns.recv())
            .await
            .expect("an agent connects in time")
            .expect("listener alive")
    }
}

async fn drive(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    pki: Arc<Pki>,
    config: ServiceConfig,
    drained: Arc<Mutex<bool>>,
    renewals: Arc<AtomicUsize>,
) {
    let clock = Instant::now();
    let ms = move || clock.elapsed().as_millis() as u64;
    let agent_id =
        pta_cert::AgentIdentity::read_unverified(&tls.get_ref().1.peer_certificates().unwrap()[0])
            .unwrap()
            .agent_id;
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut s = ServiceSession::new(config, ms(), unix_ms());
    let mut pending: HashMap<RequestId, oneshot::Sender<SignInResponse>> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    let mut cmds_open = true;
    loop {
        while let Some(ev) = s.poll_event() {
            match ev {
                ServiceEvent::SignInResponse(r) | ServiceEvent::PasswordChangeResponse(r) => {
                    if let Some(tx) = pending.remove(&r.request_id) {
                        let _ = tx.send(r);
                    }
                }
                ServiceEvent::RenewRequest(r) => {
                    let csr = Csr::from_der(&r.csr).unwrap();
                    let chain = pki.issue(&csr, &agent_id, now());
                    renewals.fetch_add(1, Ordering::SeqCst);
                    s.send_renew_response(
                        ms(),
                        RenewResponse {
                            request_id: r.request_id,
                            result: RenewResult::Chain(chain.iter().map(|c| c.to_vec()).collect()),
                        },
                    )
                    .unwrap();
                }
                ServiceEvent::Draining => *drained.lock().unwrap() = true,
                ServiceEvent::RequestTimedOut(id) => {
                    pending.remove(&id);
                }
                _ => {}
            }
        }
        s.poll_transmit(&mut out);
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if s.state() == pta_wire::ServiceState::Closed {
            break;
        }
        let timer = s
            .poll_timeout()
            .map(|t| tokio::time::Instant::from_std(clock + Duration::from_millis(t)))
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => { s.handle_input(ms(), &buf[..n]); }
            },
            c = cmds.recv(), if cmds_open && s.state() == pta_wire::ServiceState::Established => match c {
                Some(Cmd::Send { op, request, reply, delay }) => {
                    let id = request.request_id;
                    let sent = match op {
                        Operation::SignIn => s.send_sign_in(ms(), request),
                        _ => s.send_password_change(ms(), request),
                    };
                    if sent.is_ok() {
                        pending.insert(id, reply);
                    }
                    if !delay.is_zero() {
                        // Hold the frame in transit: it reaches the agent late.
                        s.poll_transmit(&mut out);
                        tokio::time::sleep(delay).await;
                    }
                }
                Some(Cmd::Close(reason)) => s.close(ms(), reason),
                None => cmds_open = false,
            },
            () = tokio::time::sleep_until(timer) => s.handle_timeout(ms()),
        }
    }
    s.poll_transmit(&mut out);
    let _ = wr.write_all(&out).await;
    let _ = wr.shutdown().await;
}

/// One request as the test wants it sent.
pub(crate) struct Req<'a> {
    pub(crate) op: Operation,
    pub(crate) id: RequestId,
    pub(crate) login: &'a str,
    pub(crate) secret: Vec<u8>,
    /// Deadline relative to now, in milliseconds (negative: already passed).
    pub(crate) deadline_in_ms: i64,
    /// Seal with this tenant / login in the binding instead of the real ones.
    pub(crate) bind_tenant: Option<&'a str>,
    pub(crate) bind_login: Option<&'a str>,
    pub(crate) grant: bool,
    /// Hold the request this long between the service session and the wire.
    pub(crate) delay: Duration,
}

impl<'a> Req<'a> {
    pub(crate) fn sign_in(login: &'a str, password: &str) -> Self {
        Self {
            op: Operation::SignIn,
            id: random_id(),
            login,
            secret: password.as_bytes().to_vec(),
            deadline_in_ms: 10_000,
            bind_tenant: None,
            bind_login: None,
            grant: false,
            delay: Duration::ZERO,
        }
    }
}

pub(crate) fn random_id() -> RequestId {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    RequestId(b)
}

impl ServiceConn {
    /// Seals, sends, waits for the answer; returns it with the reply key.
    pub(crate) async fn send(
        &self,
        sealer: &mut Sealer,
        req: Req<'_>,
    ) -> (SignInResponse, ReplyKey) {
        let (rx, key) = self.submit(sealer, req);
        let response = tokio::time::timeout(WAIT, rx)
            .await
            .expect("answer in time")
            .expect("connection alive");
        (response, key)
    }

    /// Seals and sends; the receiver gets the answer, or an error when the service session
    /// timed the request out or the connection closed.
    pub(crate) fn submit(
        &self,
        sealer: &mut Sealer,
        req: Req<'_>,
    ) -> (oneshot::Receiver<SignInResponse>, ReplyKey) {
        let deadline = (unix_ms() as i64 + req.deadline_in_ms) as u64;
        let key_id = self.recipient.key_id().0;
        let bound = envelope_binding(
            req.op,
            &req.id,
            req.bind_tenant.unwrap_or(&self.tenant),
            req.bind_login.unwrap_or(req.login),
            &key_id,
            deadline,
        );
        let t = unix_ms();
        let sealed = if req.grant {
            sealer.seal_with_grant(t, &self.recipient, &req.secret, &bound)
        } else {
            sealer.seal(t, &self.recipient, &req.secret, &bound)
        }
        .unwrap();
        let (tx, rx) = oneshot::channel();
        self.cmd
            .send(Cmd::Send {
                op: req.op,
                request: SignInRequest {
                    request_id: req.id,
                    deadline_unix_ms: deadline,
                    login: req.login.to_owned(),
                    envelope: sealed.envelope.to_bytes(),
                },
                reply: tx,
                delay: req.delay,
            })
            .unwrap();
        (rx, sealed.reply_key)
    }

    /// Sends a sign-in and asserts a verdict with a valid MAC; returns the verdict.
    pub(crate) async fn verdict(
        &self,
        sealer: &mut Sealer,
        login: &str,
        password: &str,
    ) -> pta_wire::Verdict {
        let (r, key) = self.send(sealer, Req::sign_in(login, password)).await;
        verified(&r, &key)
    }

    pub(crate) fn recipient_key_id(&self) -> [u8; 32] {
        self.recipient.key_id().0
    }

    pub(crate) fn close(&self, reason: CloseReason) {
        let _ = self.cmd.send(Cmd::Close(reason));
    }
}

/// The verdict of `r`, after checking its MAC.
pub(crate) fn verified(r: &SignInResponse, key: &ReplyKey) -> pta_wire::Verdict {
    let Outcome::Verdict(v) = r.outcome else {
        panic!("expected a verdict, got {:?}", r.outcome)
    };
    key.verify(
        &pta_envelope::Reply {
            request_id: &r.request_id.0,
            verdict: v.code(),
            warnings: &warnings_mac_input(&r.warnings),
        },
        &r.mac,
    )
    .expect("reply MAC verifies");
    v
}

pub(crate) fn error_of(r: &SignInResponse) -> pta_wire::ErrorCode {
    match r.outcome {
        Outcome::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

pub(crate) fn sealer() -> Sealer {
    Sealer::new(SealerConfig::default())
}

/// A config for tests: short back-off, the given endpoints.
pub(crate) fn test_config(endpoints: Vec<String>) -> Config {
    let mut c = Config::default();
    c.service.endpoints = endpoints;
    c.reconnect.initial = Duration::from_millis(50);
    c.reconnect.max = Duration::from_millis(400);
    c.timeouts.connect = Duration::from_secs(3);
    c.timeouts.drain = Duration::from_secs(5);
    c.limits.key_bits = 2048;
    c
}

pub(crate) const GOOD: (&str, &str) = ("alice@example.test", "Alice-Passw0rd!");

/// A memory directory with one user per account state.
pub(crate) fn memory_directory() -> Arc<dyn Directory> {
    let hash = MemoryDirectory::hash_password(&Password::new(GOOD.1)).unwrap();
    let mut users = vec![MemoryUser::new(GOOD.0, hash.clone())];
    let mut locked = MemoryUser::new("locked@example.test", hash.clone());
    locked.locked = true;
    let mut disabled = MemoryUser::new("disabled@example.test", hash.clone());
    disabled.disabled = true;
    let mut expired = MemoryUser::new("expired@example.test", hash.clone());
    expired.password_expired = true;
    let mut change = MemoryUser::new("change@example.test", hash);
    change.must_change = true;
    users.extend([locked, disabled, expired, change]);
    Arc::new(MemoryDirectory::from_users(users).unwrap())
}

/// A running agent task with its shutdown trigger.
pub(crate) struct Running {
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: tokio::task::JoinHandle<Result<(), pta_agent::Error>>,
    pub(crate) metrics: Arc<pta_agent::Metrics>,
}

impl Running {
    pub(crate) fn start(agent: Agent) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing::Level::DEBUG)
            .try_init();
        let (stop, rx) = oneshot::channel::<()>();
        let metrics = agent.metrics();
        let task = tokio::spawn(agent.run(async move {
            let _ = rx.await;
        }));
        Self {
            stop: Some(stop),
            task,
            metrics,
        }
    }

    pub(crate) async fn stop(mut self) -> Result<(), pta_agent::Error> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("agent stops in time")
            .expect("agent task")
    }
}

/// A fresh state directory path (created 0700 by the agent) inside a temporary directory.
pub(crate) fn state_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    (tmp, dir)
}

/// A registered state directory for `endpoints` and a config pointing there.
pub(crate) fn provisioned(
    pki: &Pki,
    endpoints: Vec<String>,
) -> (tempfile::TempDir, std::path::PathBuf, Config) {
    let (tmp, dir) = state_dir();
    pki.provision(&dir, endpoints.clone(), now());
    (tmp, dir, test_config(endpoints))
}

/// A `MakeWriter` into a shared buffer: a test's own tracing subscriber.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Makes a TRACE-level subscriber writing here the default of this thread (use a
    /// current-thread runtime so every task logs here).
    pub(crate) fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}
