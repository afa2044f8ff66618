//! Registration over HTTPS (PROTOCOL.md section 13).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_util::rt::TokioIo;
use pta_cert::{Csr, KeyPair, KeySize, StateStore, certificates_from_pem};
use rustls::pki_types::ServerName;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio_rustls::TlsConnector;

use crate::Error;
use crate::cert::LeafFacts;
use crate::config::Config;
use crate::error::Refusal;
use crate::proxy::{ProxySettings, connect_tcp, split_host_port};
use crate::state::{self, AgentInfo, StateLock};
use crate::token::JoinToken;

/// The largest registration response read.
const MAX_RESPONSE: usize = 1024 * 1024;

/// What [`register`] needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegisterOptions {
    /// `https://host[:port][/prefix]` of the registration endpoint.
    pub service_url: String,
    /// The join token.
    pub token: JoinToken,
    /// The state directory (created 0700 if missing).
    pub state_dir: PathBuf,
    /// Replace an existing registration.
    pub force: bool,
    /// Size of the agent key (default RSA-3072).
    pub key_size: KeySize,
    /// HTTP CONNECT proxy.
    pub proxy: Option<ProxySettings>,
    /// Bound on the whole exchange (default 60 s).
    pub timeout: Duration,
}

impl RegisterOptions {
    /// Options with the defaults.
    pub fn new(
        service_url: impl Into<String>,
        token: JoinToken,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            service_url: service_url.into(),
            token,
            state_dir: state_dir.into(),
            force: false,
            key_size: KeySize::default(),
            proxy: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Takes the key size (`limits.key_bits`), the proxy (`[proxy]` or `HTTPS_PROXY`) and the
    /// registration timeout (`timeouts.registration`) from `config`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a bad key size or proxy URL, [`Error::SecretSource`] for
    /// an unreadable proxy password.
    pub fn apply_config(&mut self, config: &Config) -> Result<(), Error> {
        self.key_size = config.limits.key_size()?;
        self.proxy = config.proxy_settings()?;
        self.timeout = config.timeouts.registration;
        Ok(())
    }
}

#[derive(serde::Serialize)]
struct RegisterRequest<'a> {
    token: &'a str,
    csr: &'a str,
    software_version: &'a str,
}

#[derive(Deserialize)]
struct Success {
    agent_id: String,
    tenant: String,
    certificate_chain: String,
    service_ca: String,
    agent_endpoints: Vec<String>,
}

#[derive(Deserialize)]
struct Refused {
    error: String,
}

struct Target {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Target, Error> {
    let bad = || Error::ServiceUrl(url.to_owned());
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (hostport, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    if hostport.contains('@') || prefix.contains(['?', '#']) {
        return Err(bad());
    }
    let (host, port) = split_host_port(hostport, 443).ok_or_else(bad)?;
    Ok(Target {
        host,
        port,
        path: format!("{prefix}/v1/agents/register"),
    })
}

/// Registers the agent: generates its key, sends the CSR with the join token to
/// `<service>/v1/agents/register` over TLS 1.3 pinned to the token's service-CA hash, and
/// stores key, chain, service CA and `agent.json` in the state directory.
///
/// # Errors
///
/// [`Error::AlreadyRegistered`] without `force`; [`Error::Locked`] while an agent runs on the
/// directory; [`Error::PinMismatch`] when the server is not the pinned service (nothing was
/// sent); [`Error::Refused`] with the service's refusal; network, TLS, proxy and state errors.
pub async fn register(options: &RegisterOptions) -> Result<AgentInfo, Error> {
    let target = parse_url(&options.service_url)?;
    let store = StateStore::open(&options.state_dir)?;
    let _lock = StateLock::acquire(&options.state_dir)?;
    let dir = options.state_dir.clone();
    if !options.force && (dir.join(state::AGENT_JSON).exists() || dir.join("key.pem").exists()) {
        return Err(Error::AlreadyRegistered(dir));
    }
    let size = options.key_size;
    let key = tokio::task::spawn_blocking(move || KeyPair::generate(size))
        .await
        .map_err(|_| Error::BadResponse("key generation task failed"))??;
    let csr = Csr::new(&key, "pta-agent")?.to_pem()?;
    let request = RegisterRequest {
        token: options.token.expose(),
        csr: &csr,
        software_version: env!("CARGO_PKG_VERSION"),
    };
    // The body holds the token: written into a buffer that never reallocates (no stray copies)
    // and is zeroized when hyper drops it.
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(
        request.token.len() + request.csr.len() + request.software_version.len() + 256,
    ));
    serde_json::to_writer(&mut *body, &request)
        .map_err(|_| Error::BadResponse("request encoding"))?;
    tracing::info!(host = %target.host, port = target.port, "registering");
    let (status, retry_after, text) = tokio::time::timeout(
        options.timeout,
        post(
            &target,
            options.token.pin(),
            options.proxy.as_ref(),
            body,
            options.timeout,
        ),
    )
    .await
    .map_err(|_| Error::Timeout("registration"))??;
    if status != 200 {
        let code = serde_json::from_slice::<Refused>(&text)
            .map(|r| r.error)
            .unwrap_or_default();
        let refusal = Refusal::from_code(status, &code, retry_after);
        tracing::warn!(status, code = %code, "registration refused");
        return Err(Error::Refused(refusal));
    }
    let ok: Success =
        serde_json::from_slice(&text).map_err(|_| Error::BadResponse("not the documented JSON"))?;
    let mut cas = certificates_from_pem(&ok.service_ca)
        .map_err(|_| Error::BadResponse("service_ca is not PEM"))?;
    if cas.len() != 1 {
        return Err(Error::BadResponse("service_ca must hold one certificate"));
    }
    let service_ca = cas.remove(0);
    let ca_hash: [u8; 32] = Sha256::digest(service_ca.as_ref()).into();
    if ca_hash != *options.token.pin() {
        return Err(Error::PinMismatch(
            "the returned service CA does not have the token's pin".into(),
        ));
    }
    let chain = certificates_from_pem(&ok.certificate_chain)
        .map_err(|_| Error::BadResponse("certificate_chain is not PEM"))?;
    let leaf = chain
        .first()
        .ok_or(Error::BadResponse("certificate_chain is empty"))?;
    let facts = LeafFacts::read(leaf)?;
    if facts.spki != key.public_key_der()? {
        return Err(Error::BadResponse(
            "the certificate is not for the agent's key",
        ));
    }
    if facts.identity.agent_id != ok.agent_id || facts.identity.tenant != ok.tenant {
        return Err(Error::BadResponse(
            "agent_id or tenant differ from the certificate",
        ));
    }
    if ok.agent_endpoints.is_empty() {
        return Err(Error::BadResponse("agent_endpoints is empty"));
    }
    for stale in [state::STATUS_JSON, state::AGENT_JSON] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    store.install(&key, &chain)?;
    store.confirm_current()?;
    store.save_service_ca(&service_ca)?;
    let info = AgentInfo {
        agent_id: ok.agent_id,
        tenant: ok.tenant,
        endpoints: ok.agent_endpoints,
        registered_at: state::unix_now(),
    };
    info.save(&dir)?;
    tracing::info!(agent_id = %info.agent_id, tenant = %info.tenant, serial = %facts.serial_hex, "registered");
    Ok(info)
}

async fn post(
    target: &Target,
    pin: &[u8; 32],
    proxy: Option<&ProxySettings>,
    body: zeroize::Zeroizing<Vec<u8>>,
    timeout: Duration,
) -> Result<(u16, Option<u64>, Bytes), Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(pta_cert::PinnedServerVerifier::new(*pin, provider.clone()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| Error::Tls {
            target: target.host.clone(),
            source: e,
        })?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| Error::ServiceUrl(target.host.clone()))?;
    let tcp = connect_tcp(&target.host, target.port, proxy, timeout).await?;
    let where_ = format!("{}:{}", target.host, target.port);
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| tls_error(&where_, e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(Error::Http)?;
    let driver = tokio::spawn(conn);
    let host_header = if target.port == 443 {
        target.host.clone()
    } else {
        where_.clone()
    };
    let request = Request::post(target.path.as_str())
        .header(hyper::header::HOST, host_header)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from_owner(body)))
        .map_err(|_| Error::ServiceUrl(where_.clone()))?;
    let response = sender.send_request(request).await.map_err(Error::Http)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let text = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|_| Error::BadResponse("response body unreadable or larger than 1 MiB"))?
        .to_bytes();
    driver.abort();
    Ok((status, retry_after, text))
}

/// Maps a failed TLS connect: certificate problems with the pinned verifier are pin
/// mismatches.
pub(crate) fn tls_error(target: &str, e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::General(msg)) => Error::PinMismatch(msg.clone()),
        Some(rustls::Error::InvalidCertificate(c)) => Error::PinMismatch(format!("{c:?}")),
        Some(other) => Error::Tls {
            target: target.to_owned(),
            source: other.clone(),
        },
        None => Error::Network {
            target: target.to_owned(),
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("https://svc.example:8443/pta/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("svc.example", 8443, "/pta/v1/agents/register")
        );
        let t = parse_url("https://127.0.0.1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (443, "/v1/agents/register"));
        assert!(parse_url("http://svc.example").is_err());
        assert!(parse_url("https://user@svc.example").is_err());
    }
}
