//! The client and its keep-alive connections.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::response::parse_answer;
use crate::trust::is_pin_mismatch;
use crate::{ClientConfig, ClientError, ConfigError, SignIn, SignInResponse};

/// Largest answer body read, bytes.
const MAX_ANSWER: usize = 1024 * 1024;

/// A client of one tenant's sign-in route: the TLS settings, the request line and headers,
/// built once. Cheap to clone (shared); open one [`Connection`] per concurrent caller.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    host: String,
    port: u16,
    authority: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    path: Uri,
    host_header: HeaderValue,
    /// `Bearer <key>`, in a buffer wiped when the last reference is dropped.
    authorization: HeaderValue,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("authority", &self.inner.authority)
            .field("path", &self.inner.path)
            .field("tls", &self.inner.tls.is_some())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the configuration and builds the TLS settings (reading a CA file): no network
    /// I/O.
    pub fn new(config: ClientConfig) -> Result<Self, ConfigError> {
        let service = config.service;
        let authority = service.authority();
        let tls = if service.tls {
            let trust = config.trust.as_ref().ok_or(ConfigError::NoTrust)?;
            let name = ServerName::try_from(service.host.clone()).map_err(|_| {
                ConfigError::ServerName {
                    host: service.host.clone(),
                }
            })?;
            Some((
                tokio_rustls::TlsConnector::from(trust.client_config()?),
                name,
            ))
        } else {
            None
        };
        let path =
            Uri::try_from(service.sign_in_path(&config.tenant)).map_err(|_| ConfigError::Path)?;
        let host_header = HeaderValue::from_str(&authority).map_err(|_| ConfigError::NoHost)?;
        let key = config.api_key.expose();
        let mut bearer = Zeroizing::new(Vec::with_capacity(key.len() + 7));
        bearer.extend_from_slice(b"Bearer ");
        bearer.extend_from_slice(key.as_bytes());
        let mut authorization = HeaderValue::from_maybe_shared(Bytes::from_owner(bearer))
            .map_err(|_| ConfigError::ApiKeyInvalid)?;
        authorization.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(Inner {
                host: service.host,
                port: service.port,
                authority,
                tls,
                path,
                host_header,
                authorization,
                timeout: config.timeout,
            }),
        })
    }

    /// A connection, not yet open: it opens at its first request (or [`Connection::connect`]).
    pub fn connection(&self) -> Connection {
        Connection {
            client: self.clone(),
            http: None,
        }
    }

    /// One sign-in on a connection of its own, closed afterwards; the timeout covers it all.
    pub async fn sign_in(&self, request: &SignIn<'_>) -> Result<SignInResponse, ClientError> {
        self.connection().sign_in(request).await
    }

    /// `host:port` of the service.
    pub fn authority(&self) -> &str {
        &self.inner.authority
    }

    /// TCP, TLS (if `https`) and the HTTP/1.1 handshake.
    async fn open(&self) -> Result<Http, ClientError> {
        let inner = &self.inner;
        let tcp = TcpStream::connect((inner.host.as_str(), inner.port))
            .await
            .map_err(|source| ClientError::Connect {
                authority: inner.authority.clone(),
                source,
            })?;
        // Small requests and answers: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        match &inner.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| {
                        if is_pin_mismatch(&source) {
                            ClientError::PinMismatch {
                                authority: inner.authority.clone(),
                            }
                        } else {
                            ClientError::Tls {
                                authority: inner.authority.clone(),
                                source,
                            }
                        }
                    })?;
                handshake(tls).await
            }
        }
    }

    fn request(&self, body: Zeroizing<Vec<u8>>) -> Request<Full<Bytes>> {
        let inner = &self.inner;
        let mut request = Request::new(Full::new(Bytes::from_owner(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = inner.path.clone();
        let headers = request.headers_mut();
        headers.reserve(4);
        headers.insert(HOST, inner.host_header.clone());
        headers.insert(AUTHORIZATION, inner.authorization.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        request
    }
}

async fn handshake<T>(io: T) -> Result<Http, ClientError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(ClientError::Http)?;
    let driver = tokio::spawn(async move {
        // Its errors reach the sender as the request's error.
        let _ = conn.await;
    });
    Ok(Http { sender, driver })
}

/// An open HTTP/1.1 connection and the task that drives it.
struct Http {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
}

impl Drop for Http {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// One keep-alive HTTP/1.1 connection to the service, reopened when needed: at the first
/// request, after the service closed it, and after a failure of the transport (connection,
/// TLS, HTTP, timeout). Requests on one connection go one at a time (`&mut self`).
///
/// Dropping it closes the connection.
pub struct Connection {
    client: Client,
    http: Option<Http>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("client", &self.client)
            .field("open", &self.is_open())
            .finish()
    }
}

impl Connection {
    /// Opens the connection now (if it is not open), within the client's timeout: for a load
    /// generator that must not count connection set-up in its measurements.
    pub async fn connect(&mut self) -> Result<(), ClientError> {
        if self.is_open() {
            return Ok(());
        }
        let after = self.client.inner.timeout;
        match tokio::time::timeout(after, self.client.open()).await {
            Ok(http) => {
                self.http = Some(http?);
                Ok(())
            }
            Err(_) => Err(ClientError::Timeout { after }),
        }
    }

    /// Whether a connection is open (as far as is known without reading from it).
    pub fn is_open(&self) -> bool {
        self.http.as_ref().is_some_and(|h| !h.sender.is_closed())
    }

    /// Closes the connection; the next request opens a new one.
    pub fn close(&mut self) {
        self.http = None;
    }

    /// Sends one sign-in and reads its answer, (re)opening the connection first if needed;
    /// the client's timeout covers all of it.
    pub async fn sign_in(&mut self, request: &SignIn<'_>) -> Result<SignInResponse, ClientError> {
        let after = self.client.inner.timeout;
        let result = match tokio::time::timeout(after, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout { after }),
        };
        // The answer was read in full after an error status or a malformed body: the
        // connection stays usable. After anything else its state is unknown.
        let transport_failed = match &result {
            Ok(_) | Err(ClientError::Status { .. } | ClientError::Malformed { .. }) => false,
            Err(_) => true,
        };
        if transport_failed {
            self.close();
        }
        result
    }

    async fn exchange(&mut self, request: &SignIn<'_>) -> Result<SignInResponse, ClientError> {
        let body = request.body();
        let http = match self.http.take() {
            Some(http) if !http.sender.is_closed() => http,
            _ => self.client.open().await?,
        };
        let http = self.http.insert(http);
        http.sender.ready().await.map_err(ClientError::Http)?;
        let response = http
            .sender
            .send_request(self.client.request(body))
            .await
            .map_err(ClientError::Http)?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(ClientError::ReadResponse)?
            .to_bytes();
        parse_answer(status, &bytes)
    }
}

#[cfg(test)]
mod tests {
    //! Against a small HTTP/1.1 server in the test (plain or TLS with a certificate from
    //! pta-cert): trust settings, keep-alive, answers and timeouts. The real service is
    //! exercised by `pta-signin`'s and `pta-demo`'s tests.
    use std::net::IpAddr;
    use std::time::SystemTime;

    use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, SanEntry};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::{ApiKey, CaPin, Password, PlainHttp, ServiceUrl, Trust};

    const SUCCESS: &str = r#"{"request_id":"00112233","verdict":"success","warnings":[],"decided_by":"agent","agent_id":"a-1","latency_ms":3}"#;

    /// A CA and a server certificate for 127.0.0.1.
    struct Pki {
        ca: CertificateDer<'static>,
        server: Arc<rustls::ServerConfig>,
    }

    fn pki() -> Pki {
        let now = SystemTime::now();
        let ca_key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let authority =
            Authority::create_root(AuthorityConfig::for_tenant("test"), ca_key, now).unwrap();
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let csr = Csr::new(&key, "server").unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let issued = authority
            .issue_server(&csr, &[SanEntry::Ip(ip)], now)
            .unwrap();
        let ca = authority.certificate_der().clone();
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.to_pkcs8_der().unwrap().to_vec(),
        ));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        // The chain ends with the CA, as the service sends it (a pin names a certificate of the
        // presented chain).
        .with_single_cert([issued.chain.clone(), vec![ca.clone()]].concat(), key_der)
        .unwrap();
        Pki {
            ca,
            server: Arc::new(server),
        }
    }

    /// Reads one request (head and body); `None` at end of stream.
    async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    return Some(text);
                }
            }
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            request.extend_from_slice(&buf[..n]);
        }
    }

    /// Answers every request on the connection with `status` and `body`; hands back the
    /// requests seen.
    async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
        mut stream: S,
        status: u16,
        body: &str,
    ) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(request) = read_request(&mut stream).await {
            seen.push(request);
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
        seen
    }

    /// A server on 127.0.0.1 answering each connection as `serve` does, TLS if `tls`; the
    /// task returns the requests of every connection.
    async fn server(
        tls: Option<Arc<rustls::ServerConfig>>,
        status: u16,
        body: &'static str,
        connections: usize,
    ) -> (u16, tokio::task::JoinHandle<Vec<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut all = Vec::new();
            for _ in 0..connections {
                let (tcp, _) = listener.accept().await.unwrap();
                all.push(match &tls {
                    None => serve(tcp, status, body).await,
                    Some(config) => {
                        match tokio_rustls::TlsAcceptor::from(config.clone())
                            .accept(tcp)
                            .await
                        {
                            Ok(stream) => serve(stream, status, body).await,
                            Err(_) => Vec::new(),
                        }
                    }
                });
            }
            all
        });
        (port, task)
    }

    fn client(url: &str, trust: Option<Trust>) -> Client {
        let service = ServiceUrl::parse(url, PlainHttp::Loopback).unwrap();
        let mut config = ClientConfig::new(service, "my tenant", ApiKey::new("key-1").unwrap());
        config.trust = trust;
        config.timeout = Duration::from_secs(10);
        Client::new(config).unwrap()
    }

    fn pin_of(cert: &CertificateDer<'_>) -> CaPin {
        use sha2::Digest;
        CaPin::new(sha2::Sha256::digest(cert.as_ref()).into())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keep_alive_sends_the_documented_requests_over_one_connection() {
        let (port, server) = server(None, 200, SUCCESS, 1).await;
        let client = client(&format!("http://127.0.0.1:{port}/base/"), None);
        let password = Password::new("pw\"1");
        let ip = "198.51.100.4".parse().unwrap();
        let mut conn = client.connection();
        assert!(!conn.is_open());
        conn.connect().await.unwrap();
        for login in ["alice", "bob"] {
            let answer = conn
                .sign_in(&SignIn::new(login, &password, ip))
                .await
                .unwrap();
            assert!(answer.is_success());
            assert_eq!(answer.status, 200);
            assert_eq!(answer.agent_id.as_deref(), Some("a-1"));
        }
        drop(conn);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 1, "one connection");
        assert_eq!(seen[0].len(), 2, "two requests on it");
        let (head, body) = seen[0][1].split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /base/v1/tenants/my%20tenant/sign-in HTTP/1.1\r\n"));
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
        assert!(lower.contains("authorization: bearer key-1\r\n"), "{head}");
        assert!(
            lower.contains("content-type: application/json\r\n"),
            "{head}"
        );
        assert_eq!(
            body,
            r#"{"login":"bob","password":"pw\"1","client_ip":"198.51.100.4"}"#
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_error_status_is_typed_and_keeps_the_connection() {
        let body = r#"{"error":"no_agent_available","message":"none"}"#;
        let (port, server) = server(None, 503, body, 1).await;
        let client = client(&format!("http://127.0.0.1:{port}"), None);
        let password = Password::new("pw");
        let request = SignIn::new("alice", &password, "10.0.0.1".parse().unwrap());
        let mut conn = client.connection();
        for _ in 0..2 {
            match conn.sign_in(&request).await {
                Err(ClientError::Status { status: 503, body }) => {
                    assert_eq!(body.code.as_deref(), Some("no_agent_available"));
                }
                other => panic!("{other:?}"),
            }
            assert!(conn.is_open());
        }
        drop(conn);
        assert_eq!(server.await.unwrap()[0].len(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_silent_server_times_out_and_a_closed_port_does_not_connect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let service = ServiceUrl::parse(&format!("http://127.0.0.1:{port}"), PlainHttp::Any);
        let mut config = ClientConfig::new(service.unwrap(), "t", ApiKey::new("k").unwrap());
        config.timeout = Duration::from_millis(200);
        let client = Client::new(config).unwrap();
        let password = Password::new("pw");
        let request = SignIn::new("alice", &password, "10.0.0.1".parse().unwrap());
        let mut conn = client.connection();
        match conn.sign_in(&request).await {
            Err(ClientError::Timeout { after }) => assert_eq!(after, Duration::from_millis(200)),
            other => panic!("{other:?}"),
        }
        assert!(!conn.is_open());
        drop(listener);
        match client.sign_in(&request).await {
            Err(e @ ClientError::Connect { .. }) => {
                assert!(
                    e.to_string().starts_with("cannot connect to 127.0.0.1:"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn tls_trusts_the_ca_file_or_the_pin_and_refuses_another_pin() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("ca.pem");
        let text = pta_cert::certificates_to_pem(std::slice::from_ref(&pki.ca)).unwrap();
        std::fs::write(&pem, text).unwrap();
        let der = dir.path().join("ca.der");
        std::fs::write(&der, pki.ca.as_ref()).unwrap();
        let password = Password::new("pw");
        let request = SignIn::new("alice", &password, "10.0.0.1".parse().unwrap());

        let trusts = [
            Trust::CaFile(pem),
            Trust::CaFile(der),
            Trust::CaSha256(pin_of(&pki.ca)),
        ];
        let (port, server) = server(Some(pki.server.clone()), 200, SUCCESS, trusts.len() + 1).await;
        let url = format!("https://127.0.0.1:{port}");
        for trust in trusts {
            let answer = client(&url, Some(trust.clone())).sign_in(&request).await;
            assert!(answer.unwrap().is_success(), "{trust:?}");
        }
        let wrong = client(&url, Some(Trust::CaSha256(CaPin::new([0x5a; 32]))));
        match wrong.sign_in(&request).await {
            Err(e @ ClientError::PinMismatch { .. }) => {
                assert!(e.to_string().contains("pinned SHA-256"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let seen = server.await.unwrap();
        assert_eq!(seen.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1, 0]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_certificate_of_another_ca_is_a_tls_error() {
        let (pki, other) = (pki(), pki());
        let (port, server) = server(Some(pki.server.clone()), 200, SUCCESS, 1).await;
        let dir = tempfile::tempdir().unwrap();
        let der = dir.path().join("other.der");
        std::fs::write(&der, other.ca.as_ref()).unwrap();
        let client = client(
            &format!("https://127.0.0.1:{port}"),
            Some(Trust::CaFile(der)),
        );
        let password = Password::new("pw");
        let request = SignIn::new("alice", &password, "10.0.0.1".parse().unwrap());
        match client.sign_in(&request).await {
            Err(ClientError::Tls { .. }) => {}
            other => panic!("{other:?}"),
        }
        server.await.unwrap();
    }

    #[test]
    fn https_needs_a_trust() {
        let service = ServiceUrl::parse("https://127.0.0.1:1", PlainHttp::Refuse).unwrap();
        let config = ClientConfig::new(service, "t", ApiKey::new("k").unwrap());
        assert!(matches!(Client::new(config), Err(ConfigError::NoTrust)));
    }
}
