//! Fixtures: TLS material, a real HTTPS client, a fake [`Api`], captured logs.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, SanEntry};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::{Api, CreatedToken, Health, HttpServer};
use pta_service::StoreError;
use pta_service::{
    AgentId, AgentRecord, AgentView, AuditEvent, AuditQuery, ClientContext, Password, Registration,
    ServiceError, SignInError, SignInResult, Tenant, TenantId,
};

pub(super) const ADMIN: &str = "admin-token-0123456789abcdef";
pub(super) const KEY_A: &str = "front-end-key-a-0123456789";
pub(super) const KEY_B: &str = "front-end-key-b-0123456789";
pub(super) const T0: u64 = 1_700_000_000_000;

/// Every request is bounded by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

pub(super) struct Tls {
    pub(super) server: Arc<ServerConfig>,
    pub(super) client: Arc<ClientConfig>,
    /// The test CA and the server leaf, DER.
    pub(super) ca_der: Vec<u8>,
    pub(super) leaf_der: Vec<u8>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A CA and a server certificate for 127.0.0.1, made once per test binary.
pub(super) fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let now = SystemTime::now();
        let ca_key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let ca =
            Authority::create_root(AuthorityConfig::for_tenant("http-tests"), ca_key, now).unwrap();
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let csr = Csr::new(&key, "localhost").unwrap();
        let issued = ca
            .issue_server(&csr, &[SanEntry::Ip(IpAddr::from([127, 0, 0, 1]))], now)
            .unwrap();
        let mut chain = issued.chain.clone();
        chain.push(ca.certificate_der().clone());
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec())),
            )
            .unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(ca.certificate_der().clone()).unwrap();
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            server: Arc::new(server),
            client: Arc::new(client),
            ca_der: ca.certificate_der().to_vec(),
            leaf_der: issued.der.to_vec(),
        }
    })
}

/// A server running in the background; stopped when dropped.
pub(super) struct Running {
    pub(super) addr: SocketAddr,
    pub(super) tls: bool,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub(super) async fn start(router: Router, tls: bool) -> Self {
        let config = tls.then(|| Arc::clone(&self::tls().server));
        let server = HttpServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config, router)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            tls,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it (bounded).
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops in time")
                .unwrap()
                .unwrap();
        }
    }

    pub(super) async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        send(self.addr, self.tls, method, path, headers, body.into()).await
    }

    pub(super) async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.send("GET", path, &headers, Bytes::new()).await
    }

    pub(super) async fn post_json(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &serde_json::Value,
    ) -> Reply {
        let auth = bearer.map(|b| format!("Bearer {b}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = auth.as_deref() {
            headers.push(("authorization", a));
        }
        self.send("POST", path, &headers, serde_json::to_vec(body).unwrap())
            .await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An answer as the client saw it.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Reply {
    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a JSON error with this status and code, and returns the body.
    #[track_caller]
    pub(super) fn assert_error(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["error"], code, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        body
    }
}

/// One HTTP/1.1 request on a fresh connection (HTTPS when `tls`), bounded in time.
pub(super) async fn send(
    addr: SocketAddr,
    tls: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    let work = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(body)).unwrap();
        let response = if tls {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self::tls().client));
            let stream = connector
                .connect(ServerName::from(addr.ip()), tcp)
                .await
                .unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        } else {
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            sender.send_request(request).await.unwrap()
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .expect("request answered in time")
}

/// What the fake saw.
#[derive(Debug, Default)]
pub(super) struct Calls {
    pub(super) sign_ins: Vec<(TenantId, String, Vec<u8>, ClientContext)>,
    pub(super) registrations: Vec<(String, String, IpAddr, String)>,
    pub(super) token_lifetimes: Vec<Option<u64>>,
    pub(super) agent_limits: Vec<(TenantId, u32)>,
    pub(super) audit_queries: Vec<AuditQuery>,
    pub(super) revoked: Vec<AgentId>,
    pub(super) unlocked: Vec<(TenantId, String)>,
    pub(super) unblocked: Vec<IpAddr>,
}

/// An [`Api`] whose answers the tests choose: sign-in by login, registration by token.
pub(super) struct FakeApi {
    pub(super) tenants: Mutex<Vec<Tenant>>,
    pub(super) calls: Mutex<Calls>,
    pub(super) agent: AgentId,
    pub(super) revoked_already: Mutex<bool>,
    pub(super) fail_tenants: Mutex<Option<fn() -> ServiceError>>,
}

pub(super) fn tenant_id(n: u8) -> TenantId {
    TenantId::from_bytes([n; 16])
}

impl FakeApi {
    pub(super) fn new() -> Arc<Self> {
        let contoso = Tenant::new(tenant_id(1), "contoso", T0);
        let fabrikam = Tenant::new(tenant_id(2), "fabrikam", T0);
        Arc::new(Self {
            tenants: Mutex::new(vec![contoso, fabrikam]),
            calls: Mutex::new(Calls::default()),
            agent: AgentId::from_bytes([7; 16]),
            revoked_already: Mutex::new(false),
            fail_tenants: Mutex::new(None),
        })
    }

    fn check_failure(&self) -> Result<(), ServiceError> {
        match *self.fail_tenants.lock().unwrap() {
            Some(make) => Err(make()),
            None => Ok(()),
        }
    }

    fn known(&self, tenant: &TenantId) -> Result<(), ServiceError> {
        self.check_failure()?;
        if self.tenants.lock().unwrap().iter().any(|t| t.id == *tenant) {
            Ok(())
        } else {
            Err(ServiceError::Store(StoreError::UnknownTenant))
        }
    }
}

pub(super) fn sign_in_result(decided_by: pta_service::DecidedBy) -> SignInResult {
    let verdict = match decided_by {
        pta_service::DecidedBy::Agent(_) => pta_wire::Verdict::Success,
        pta_service::DecidedBy::Lockout { .. } => pta_wire::Verdict::AccountLocked,
        _ => pta_wire::Verdict::InvalidCredentials,
    };
    let warnings = match decided_by {
        pta_service::DecidedBy::Agent(_) => vec![pta_wire::Warning {
            kind: pta_wire::WarningKind::PasswordExpiresInDays,
            value: 5,
        }],
        _ => Vec::new(),
    };
    SignInResult::new(
        pta_wire::RequestId::from(0x0123_4567_89ab_cdef_0011_2233_4455_6677_u128),
        verdict,
        warnings,
        decided_by,
        42,
    )
}

#[async_trait]
impl Api for FakeApi {
    async fn sign_in(
        &self,
        tenant: &TenantId,
        login: &str,
        password: Password,
        context: ClientContext,
    ) -> Result<SignInResult, SignInError> {
        self.calls.lock().unwrap().sign_ins.push((
            *tenant,
            login.to_owned(),
            password.expose().to_vec(),
            context,
        ));
        match login {
            "lock" => Ok(sign_in_result(pta_service::DecidedBy::Lockout {
                until_ms: T0 + 60_000,
            })),
            "repeat" => Ok(sign_in_result(pta_service::DecidedBy::RepeatRejected)),
            "err-unknown-tenant" => Err(SignInError::UnknownTenant),
            "err-invalid" => Err(SignInError::InvalidRequest("login too long")),
            "err-blocked" => Err(SignInError::SourceBlocked {
                until_ms: T0 + 90_500,
            }),
            "err-no-agent" => Err(SignInError::NoAgentAvailable),
            "err-timeout" => Err(SignInError::Timeout),
            "err-agent" => Err(SignInError::Agent(
                pta_wire::ErrorCode::DirectoryUnavailable,
            )),
            "err-agent-unknown" => Err(SignInError::Agent(pta_wire::ErrorCode::Unknown(77))),
            "err-bad-reply" => Err(SignInError::BadReply),
            "err-lockout-store" => Err(SignInError::LockoutUnavailable),
            "err-internal" => Err(SignInError::Internal),
            _ => Ok(sign_in_result(pta_service::DecidedBy::Agent(self.agent))),
        }
    }

    async fn register(
        &self,
        token: &str,
        csr_pem: &str,
        source: IpAddr,
        software_version: &str,
    ) -> Result<(Registration, Vec<String>), ServiceError> {
        self.calls.lock().unwrap().registrations.push((
            token.to_owned(),
            csr_pem.to_owned(),
            source,
            software_version.to_owned(),
        ));
        use pta_service::TokenError as T;
        let err = match token {
            "bad-version" => Some(ServiceError::InvalidSoftwareVersion),
            "malformed" => Some(ServiceError::Store(StoreError::Token(T::Malformed))),
            "unknown" => Some(ServiceError::Store(StoreError::Token(T::Unknown))),
            "expired" => Some(ServiceError::Store(StoreError::Token(T::Expired))),
            "used" => Some(ServiceError::Store(StoreError::Token(T::AlreadyUsed))),
            "bad-csr" => Some(ServiceError::MalformedCsr),
            "bad-signature" => Some(ServiceError::CsrSignatureInvalid),
            "bad-algorithm" => Some(ServiceError::UnsupportedCsrAlgorithm),
            "weak" => Some(ServiceError::KeyPolicy(
                pta_cert::KeyPolicyViolation::TooSmall { bits: 1024 },
            )),
            "limit" => Some(ServiceError::Store(StoreError::AgentLimitReached {
                limit: 3,
            })),
            "backend" => Some(ServiceError::Store(StoreError::Backend(Box::new(
                std::io::Error::other("disk on fire"),
            )))),
            "tenant-gone" => Some(ServiceError::Store(StoreError::UnknownTenant)),
            _ => None,
        };
        if let Some(err) = err {
            return Err(err);
        }
        let tls = tls();
        Ok((
            Registration::new(
                self.agent,
                tenant_id(1),
                vec![tls.leaf_der.clone(), tls.ca_der.clone()],
                tls.ca_der.clone(),
            ),
            vec![
                "agents.example:8443".to_owned(),
                "127.0.0.1:8443".to_owned(),
            ],
        ))
    }

    fn service_ca_der(&self) -> Vec<u8> {
        tls().ca_der.clone()
    }

    async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError> {
        self.check_failure()?;
        let mut tenants = self.tenants.lock().unwrap();
        if tenants.iter().any(|t| t.name == name) {
            return Err(ServiceError::Store(StoreError::TenantExists));
        }
        let n = u8::try_from(tenants.len() + 1).unwrap();
        let tenant = Tenant::new(tenant_id(n), name, T0);
        tenants.push(tenant.clone());
        Ok(tenant)
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, ServiceError> {
        self.check_failure()?;
        Ok(self.tenants.lock().unwrap().clone())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, ServiceError> {
        self.check_failure()?;
        Ok(self
            .tenants
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.id == *id)
            .cloned())
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, ServiceError> {
        self.check_failure()?;
        Ok(self
            .tenants
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.name == name)
            .cloned())
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), ServiceError> {
        self.known(tenant)?;
        self.calls
            .lock()
            .unwrap()
            .agent_limits
            .push((*tenant, limit));
        for t in self.tenants.lock().unwrap().iter_mut() {
            if t.id == *tenant {
                t.agent_limit = limit;
            }
        }
        Ok(())
    }

    async fn create_token(
        &self,
        tenant: &TenantId,
        lifetime_ms: Option<u64>,
    ) -> Result<CreatedToken, ServiceError> {
        self.known(tenant)?;
        self.calls.lock().unwrap().token_lifetimes.push(lifetime_ms);
        Ok(CreatedToken::new(
            Zeroizing::new(format!("pta1.{}.{}", "A".repeat(43), "0".repeat(64))),
            T0 + lifetime_ms.unwrap_or(3_600_000),
        ))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentView>, ServiceError> {
        self.known(tenant)?;
        let mut record = AgentRecord::new(self.agent, *tenant, vec![0x01, 0xab], vec![9; 4], T0);
        record.software_version = "1.2.3".to_owned();
        record.last_source = Some(IpAddr::from([192, 0, 2, 7]));
        Ok(vec![AgentView::new(record, 2)])
    }

    async fn revoke_agent(&self, agent: &AgentId) -> Result<bool, ServiceError> {
        if *agent != self.agent {
            return Err(ServiceError::Store(StoreError::UnknownAgent));
        }
        self.calls.lock().unwrap().revoked.push(*agent);
        let mut already = self.revoked_already.lock().unwrap();
        let newly = !*already;
        *already = true;
        Ok(newly)
    }

    async fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        self.known(tenant)?;
        Ok(vec![0x30, 0x03, 0x02, 0x01, tenant.as_bytes()[0]])
    }

    async fn lockout_status(
        &self,
        tenant: &TenantId,
        _login: &str,
    ) -> Result<pta_lockout::UserStatus, ServiceError> {
        self.known(tenant)?;
        let mut status = pta_lockout::UserStatus::default();
        status.unfamiliar.failures = 3;
        status.unfamiliar.level = 1;
        status.unfamiliar.locked_until = Some(T0 + 60_000);
        status.remembered_bad_passwords = 2;
        Ok(status)
    }

    async fn unlock_user(&self, tenant: &TenantId, login: &str) -> Result<bool, ServiceError> {
        self.known(tenant)?;
        self.calls
            .lock()
            .unwrap()
            .unlocked
            .push((*tenant, login.to_owned()));
        Ok(login == "locked-user")
    }

    async fn unblock_source(&self, source: IpAddr) -> Result<bool, ServiceError> {
        self.calls.lock().unwrap().unblocked.push(source);
        Ok(true)
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ServiceError> {
        self.known(&query.tenant)?;
        self.calls.lock().unwrap().audit_queries.push(*query);
        Ok(vec![
            AuditEvent::new(
                T0,
                pta_service::AuditKind::SignIn,
                pta_service::AuditOutcome::Verdict(pta_wire::Verdict::Success),
            )
            .with_tenant(query.tenant)
            .with_login("alice@contoso.com")
            .with_agent(self.agent)
            .with_latency_ms(12)
            .with_source(IpAddr::from([198, 51, 100, 4])),
        ])
    }

    fn metrics_text(&self) -> String {
        "# TYPE pta_sign_ins_total counter\npta_sign_ins_total 3\n".to_owned()
    }

    async fn health(&self) -> Result<Health, ServiceError> {
        self.check_failure()?;
        Ok(Health::new(2, 5, 4))
    }
}

/// Log lines written while the returned guard lives (this thread, so a current-thread
/// runtime: the server's tasks log here too).
pub(super) fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink(Arc::clone(&buffer));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Callsites first hit by tests on other threads (no subscriber there) cached "never":
    // recompute their interest with this subscriber in place.
    tracing::callsite::rebuild_interest_cache();
    (buffer, guard)
}
