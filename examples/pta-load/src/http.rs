//! Sign-ins over HTTP/1.1 keep-alive connections (plain or TLS with a pinned CA file).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::plan::{Limits, Plan};
use crate::report::Stats;
use crate::users::UserSet;

/// Where and how to send sign-ins.
pub(crate) struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    authorization: String,
    password: String,
    timeout: Duration,
}

impl Target {
    pub(crate) fn new(
        url: &str,
        ca: Option<&Path>,
        tenant: &str,
        api_key: String,
        password: String,
        timeout: Duration,
    ) -> Result<Self, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!("--url must start with http:// or https://: {url}"));
        };
        let host = rest.trim_end_matches('/').to_owned();
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("cannot resolve {host}"))?;
        let tls = if tls {
            let ca = ca.ok_or("https needs --ca FILE (the service CA)")?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("cannot read {}: {e}", ca.display()))?
            {
                let cert = cert.map_err(|e| format!("bad PEM in {}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("bad CA in {}: {e}", ca.display()))?;
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| format!("tls: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
            let name = ServerName::try_from(name.trim_matches(['[', ']']).to_owned())
                .map_err(|e| format!("bad host name {name}: {e}"))?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Self {
            addr,
            path: format!("/v1/tenants/{tenant}/sign-in"),
            host,
            tls,
            authorization: format!("Bearer {api_key}"),
            password,
            timeout,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("tls {}: {e}", self.addr))?;
                handshake(tls).await
            }
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("http handshake: {e}"))?;
    tokio::spawn(conn);
    Ok(send)
}

/// Who signs in with which password.
pub(crate) struct Mix {
    pub(crate) good: UserSet,
    pub(crate) bad: UserSet,
    pub(crate) bad_ratio: f64,
}

impl Mix {
    /// Request `i`: login, whether the password is the right one, client address.
    fn pick(&self, i: u64) -> (&str, bool, String) {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
        if unit < self.bad_ratio {
            // Scattered bad logins from scattered sources: no source is blocked for spraying.
            let (_, login) = self.bad.get(h >> 20);
            (
                login,
                false,
                format!(
                    "172.{}.{}.{}",
                    16 + (h >> 8) % 16,
                    (h >> 16) % 256,
                    1 + h % 254
                ),
            )
        } else {
            // Each good user always signs in from its own (familiar) address.
            let (n, login) = self.good.get(i);
            (
                login,
                true,
                format!("10.{}.{}.{}", (n >> 16) % 256, (n >> 8) % 256, 1 + n % 254),
            )
        }
    }
}

/// Opens one keep-alive connection per worker, then starts the plan's clock and runs the
/// workers until it ends; returns the plan and what the workers saw. Connection set-up (the
/// TLS handshakes) is not counted in the latencies or the throughput.
pub(crate) async fn run(
    target: Arc<Target>,
    mix: Arc<Mix>,
    limits: Limits,
    workers: usize,
) -> Result<(Arc<Plan>, Stats), String> {
    let mut opening = Vec::with_capacity(workers);
    for _ in 0..workers {
        let target = target.clone();
        opening.push(tokio::spawn(async move { target.connect().await }));
    }
    let mut conns = Vec::with_capacity(workers);
    for task in opening {
        let open = tokio::time::timeout(target.timeout, task)
            .await
            .map_err(|_| format!("connect {}: timed out", target.addr))?;
        conns.push(open.map_err(|e| format!("connect task failed: {e}"))??);
    }
    let plan = Arc::new(Plan::new(limits));
    let progress = plan.progress();
    let mut tasks = Vec::with_capacity(workers);
    for conn in conns {
        let (target, mix, plan) = (target.clone(), mix.clone(), plan.clone());
        tasks.push(tokio::spawn(worker(target, mix, plan, conn)));
    }
    let mut all = Stats::new()?;
    let hard_stop = plan.deadline() + target.timeout + Duration::from_secs(5);
    for task in tasks {
        match tokio::time::timeout_at(hard_stop, task).await {
            Ok(Ok(stats)) => all.merge(stats?),
            Ok(Err(e)) => return Err(format!("worker failed: {e}")),
            Err(_) => return Err("workers did not stop in time".into()),
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    Ok((plan, all))
}

async fn worker(
    target: Arc<Target>,
    mix: Arc<Mix>,
    plan: Arc<Plan>,
    conn: SendRequest<Full<Bytes>>,
) -> Result<Stats, String> {
    let mut stats = Stats::new()?;
    // After an error the connection is dropped and the next request opens a new one.
    let mut conn = Some(conn);
    while let Some((i, due)) = plan.take() {
        tokio::time::sleep_until(due).await;
        let (login, good, client_ip) = mix.pick(i);
        let body = serde_json::json!({
            "login": login,
            "password": if good { target.password.clone() } else { format!("wrong-{i}") },
            "client_ip": client_ip,
        })
        .to_string();
        let outcome = timeout(target.timeout, send(&target, &mut conn, body)).await;
        let latency = Instant::now() - due;
        match outcome {
            Ok(Ok(verdict)) => {
                let expected = if good {
                    verdict == "success"
                } else {
                    verdict == "invalid_credentials" || verdict == "account_locked"
                };
                stats.verdict(latency, &verdict, expected);
            }
            Ok(Err(kind)) => {
                conn = None;
                stats.error(latency, kind);
            }
            Err(_) => {
                conn = None;
                stats.error(latency, "client_timeout".into());
            }
        }
        plan.finished();
    }
    Ok(stats)
}

/// One sign-in; the verdict, or an error kind (`http_504:timeout`, `connect`, ...).
async fn send(
    target: &Target,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    body: String,
) -> Result<String, String> {
    let sender = match conn {
        Some(c) if !c.is_closed() => c,
        _ => conn.insert(target.connect().await.map_err(|e| {
            eprintln!("pta-load: {e}");
            "connect".to_owned()
        })?),
    };
    sender.ready().await.map_err(|_| "http_io".to_owned())?;
    let request = hyper::Request::post(target.path.as_str())
        .header(hyper::header::HOST, target.host.as_str())
        .header(hyper::header::AUTHORIZATION, target.authorization.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| "request".to_owned())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|_| "http_io".to_owned())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|_| "http_io".to_owned())?
        .to_bytes();
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| format!("http_{status}:not_json"))?;
    if status == 200 {
        json.get("verdict")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| "http_200:no_verdict".to_owned())
    } else {
        let code = json.get("error").and_then(|v| v.as_str()).unwrap_or("?");
        let detail = json.get("agent_error").and_then(|v| v.as_str());
        Err(match detail {
            Some(d) => format!("http_{status}:{code}:{d}"),
            None => format!("http_{status}:{code}"),
        })
    }
}
