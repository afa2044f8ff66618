//! The harness: a real service with both HTTP listeners, HTTPS clients (one pinning the
//! service CA by fingerprint as an agent does), CSRs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use pta_service::{Clock, ManualClock, MemoryStore, Service, ServiceOptions, Store, SystemClock};
use pta_service_http::{self as http, Api, HttpServer, RateLimit, RegistrationOptions};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub(crate) const ADMIN: &str = "admin-token-0123456789abcdef";
pub(crate) const FRONT_END: &str = "front-end-key-0123456789";

/// Every request is bounded by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A listener serving one router until dropped.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start(router: axum::Router, tls: Arc<rustls::ServerConfig>) -> Running {
    let server = HttpServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), Some(tls), router)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running { addr, _stop: stop }
}

/// The real [`Service`] behind both HTTP listeners.
pub(crate) struct Harness {
    /// The real service, when the harness runs one.
    pub(crate) service: Option<Service>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<ManualClock>,
    /// The service CA certificate, DER (what join tokens pin).
    pub(crate) service_ca_der: Vec<u8>,
    /// The agent endpoint registration must advertise.
    pub(crate) agent_endpoint: String,
    pub(crate) registration: Running,
    pub(crate) api: Running,
    /// An admin/front-end client trusting the service CA.
    pub(crate) api_client: Arc<ClientConfig>,
}

/// The options the harness's services use: RSA-2048 CAs, listeners on 127.0.0.1.
pub(crate) fn service_options() -> ServiceOptions {
    let mut options = ServiceOptions::default();
    options.agent_listen = SocketAddr::from(([127, 0, 0, 1], 0));
    options.server_names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    options.registrar.ca_key_size = pta_cert::KeySize::Rsa2048;
    options.service_key_size = pta_cert::KeySize::Rsa2048;
    options
}

impl Harness {
    /// The real service.
    pub(crate) async fn start(rate_limit: RateLimit) -> Self {
        Self::start_with(rate_limit, service_options()).await
    }

    /// The real service with `options`.
    pub(crate) async fn start_with(rate_limit: RateLimit, options: ServiceOptions) -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(SystemClock.unix_ms()));
        let service = Service::start(
            Arc::clone(&store),
            options,
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .await
        .unwrap();
        let api: Arc<dyn Api> = Arc::new(service.clone());
        let tls = service.https_server_config();
        let ca = service.service_ca_der();
        let endpoint = service.agent_addr().to_string();
        let mut h = Self::mount(api, tls, ca, endpoint, store, clock, rate_limit).await;
        h.service = Some(service);
        h
    }

    async fn mount(
        api: Arc<dyn Api>,
        tls: Arc<rustls::ServerConfig>,
        service_ca_der: Vec<u8>,
        agent_endpoint: String,
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
        rate_limit: RateLimit,
    ) -> Self {
        let registration = start(
            http::registration_router(Arc::clone(&api), RegistrationOptions::new(rate_limit)),
            Arc::clone(&tls),
        )
        .await;
        let auth = http::ApiAuth::new(Some(ADMIN.as_bytes()), [FRONT_END.as_bytes()]);
        let mut options = http::ApiOptions::new(auth);
        options.clock = Arc::clone(&clock) as Arc<dyn Clock>;
        let api_server = start(http::api_router(api, options), tls).await;
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(service_ca_der.clone()))
            .unwrap();
        let api_client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self {
            service: None,
            store,
            clock,
            service_ca_der,
            agent_endpoint,
            registration,
            api: api_server,
            api_client: Arc::new(api_client),
        }
    }

    pub(crate) async fn admin_post(&self, path: &str, body: serde_json::Value) -> Reply {
        let auth = format!("Bearer {ADMIN}");
        send(
            self.api.addr,
            &self.api_client,
            "POST",
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(&body).unwrap().into(),
        )
        .await
    }

    pub(crate) async fn admin_get(&self, path: &str) -> Reply {
        let auth = format!("Bearer {ADMIN}");
        send(
            self.api.addr,
            &self.api_client,
            "GET",
            path,
            &[("authorization", &auth)],
            Bytes::new(),
        )
        .await
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        send(
            self.api.addr,
            &self.api_client,
            "GET",
            path,
            &[],
            Bytes::new(),
        )
        .await
    }

    /// Creates a tenant through the API; returns its id.
    pub(crate) async fn create_tenant(&self, name: &str) -> String {
        let reply = self
            .admin_post("/v1/tenants", serde_json::json!({ "name": name }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    /// Creates a join token through the API; returns its printed form.
    pub(crate) async fn create_token(&self, tenant: &str, lifetime_secs: Option<u64>) -> String {
        let body = match lifetime_secs {
            Some(secs) => serde_json::json!({ "lifetime_secs": secs }),
            None => serde_json::json!({}),
        };
        let reply = self
            .admin_post(&format!("/v1/tenants/{tenant}/tokens"), body)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["token"].as_str().unwrap().to_owned()
    }

    /// Sends a registration as an agent: HTTPS trusting only the certificate of the presented
    /// chain whose SHA-256 the token names.
    pub(crate) async fn register(&self, token: &str, csr: &str, version: &str) -> Reply {
        let body = serde_json::json!({ "token": token, "csr": csr, "software_version": version });
        self.register_raw(token, serde_json::to_vec(&body).unwrap())
            .await
    }

    pub(crate) async fn register_raw(&self, token: &str, body: Vec<u8>) -> Reply {
        let pin = pin_of(token).unwrap_or_else(|| pin_of_der(&self.service_ca_der));
        send(
            self.registration.addr,
            &pinned_client(pin),
            "POST",
            "/v1/agents/register",
            &[("content-type", "application/json")],
            body.into(),
        )
        .await
    }
}

/// The fingerprint a printed token names.
pub(crate) fn pin_of(token: &str) -> Option<[u8; 32]> {
    let hex = token.rsplit('.').next()?;
    if hex.len() != 64 {
        return None;
    }
    let mut pin = [0u8; 32];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(pin)
}

pub(crate) fn pin_of_der(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

pub(crate) fn pinned_client(pin: [u8; 32]) -> Arc<ClientConfig> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(pta_cert::PinnedServerVerifier::new(
            pin, provider,
        )))
        .with_no_client_auth();
    Arc::new(config)
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.json()["error"], code, "{}", self.text());
    }
}

/// Why a request did not get an answer.
#[derive(Debug)]
pub(crate) enum SendError {
    Tls(std::io::Error),
}

/// One request on a fresh HTTPS connection, bounded in time.
pub(crate) async fn send(
    addr: SocketAddr,
    client: &Arc<ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Reply {
    try_send(addr, client, method, path, headers, body)
        .await
        .unwrap()
}

pub(crate) async fn try_send(
    addr: SocketAddr,
    client: &Arc<ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, SendError> {
    let work = async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(client))
            .connect(ServerName::from(addr.ip()), tcp)
            .await
            .map_err(SendError::Tls)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = sender
            .send_request(request.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes().to_vec(),
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .expect("request answered in time")
}

/// PEM for a DER CSR.
pub(crate) fn csr_pem(der: &[u8]) -> String {
    use base64ct::Encoding;
    let b64 = base64ct::Base64::encode_string(der);
    let mut out = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE REQUEST-----\n");
    out
}

/// A fresh RSA-2048 key's CSR, DER.
pub(crate) fn fresh_csr_der() -> Vec<u8> {
    let key = pta_cert::KeyPair::generate(pta_cert::KeySize::Rsa2048).unwrap();
    pta_cert::Csr::new(&key, "agent").unwrap().as_der().to_vec()
}
