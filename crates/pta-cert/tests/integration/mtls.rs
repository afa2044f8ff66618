//! Mutual TLS over 127.0.0.1 with tokio-rustls: the service config accepts good agents and
//! refuses each kind of bad certificate with its own error.

use std::sync::Arc;
use std::time::SystemTime;

use pta_cert::{
    AgentIdentity, Authority, Csr, Error, IssuedCertificate, KeyPair, Revocation, SanEntry,
    TenantTrust, TlsOptions, client_config, server_config,
};
use rustls::pki_types::{CertificateRevocationListDer, ServerName};
use rustls::{CertificateError, ClientConfig, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::common::*;

/// What the service side saw.
#[derive(Debug)]
enum Outcome {
    /// Handshake done and the identity extracted.
    Accepted(AgentIdentity),
    /// The TLS handshake failed with this rustls error.
    Tls(rustls::Error),
    /// Handshake done, identity refused.
    Identity(Error),
}

async fn connect(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    trust: TenantTrust,
) -> (Outcome, bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match TlsAcceptor::from(server).accept(tcp).await {
            Ok(mut tls) => {
                let outcome = match trust.identify_connection(tls.get_ref().1) {
                    Ok(id) => Outcome::Accepted(id),
                    Err(e) => Outcome::Identity(e),
                };
                assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"pta/1"[..]));
                let mut buf = [0u8; 2];
                if tls.read_exact(&mut buf).await.is_ok() {
                    let _ = tls.write_all(b"ok").await;
                    let _ = tls.flush().await;
                }
                outcome
            }
            Err(e) => {
                let inner = e
                    .get_ref()
                    .and_then(|i| i.downcast_ref::<rustls::Error>())
                    .cloned();
                Outcome::Tls(inner.unwrap_or_else(|| panic!("not a rustls error: {e:?}")))
            }
        }
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    // In TLS 1.3 a refused client certificate shows at the client's first read.
    let client_ok = match TlsConnector::from(client).connect(name, tcp).await {
        Ok(mut tls) => {
            let wrote = tls.write_all(b"hi").await.is_ok() && tls.flush().await.is_ok();
            let mut buf = [0u8; 2];
            wrote && tls.read_exact(&mut buf).await.is_ok() && &buf == b"ok"
        }
        Err(_) => false,
    };
    (service.await.unwrap(), client_ok)
}

/// The service: tenant `a` (self-signed CA) trusted, with its CRL.
struct Service {
    ca: Authority,
    service_ca: Authority,
    server_cert: IssuedCertificate,
    server_key: KeyPair,
    now: SystemTime,
}

impl Service {
    fn new() -> Self {
        let now = SystemTime::now();
        let (service_ca, server_cert, server_key) = service(now);
        Self {
            ca: root_a(now),
            service_ca,
            server_cert,
            server_key,
            now,
        }
    }

    fn server(
        &self,
        trust: &TenantTrust,
        crls: &[CertificateRevocationListDer<'static>],
    ) -> Arc<ServerConfig> {
        server_config(
            trust,
            crls,
            &self.server_cert.chain,
            &self.server_key,
            &TlsOptions::default(),
        )
        .unwrap()
    }

    fn client(&self, issued: &IssuedCertificate, key: &KeyPair) -> Arc<ClientConfig> {
        client_config(
            self.service_ca.certificate_der(),
            &issued.chain,
            key,
            &TlsOptions::default(),
        )
        .unwrap()
    }

    fn trust(&self) -> TenantTrust {
        let mut trust = TenantTrust::new();
        trust.insert_authority(&self.ca).unwrap();
        trust
    }

    /// Connects an agent certificate of tenant `a`'s CA with an empty CRL unless `revoked`.
    async fn run(
        &self,
        issued: &IssuedCertificate,
        key_name: &str,
        revoked: &[Revocation],
    ) -> (Outcome, bool) {
        let crl = self.ca.crl(revoked, 1, self.now).unwrap();
        let trust = self.trust();
        connect(
            self.server(&trust, &[crl]),
            self.client(issued, &key(key_name)),
            trust,
        )
        .await
    }
}

fn cert_error(outcome: &Outcome) -> &CertificateError {
    match outcome {
        Outcome::Tls(rustls::Error::InvalidCertificate(e)) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test]
async fn good_agent_is_accepted() {
    let s = Service::new();
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now);
    let (outcome, client_ok) = s.run(&issued, "agent-1", &[]).await;
    let Outcome::Accepted(id) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((id.agent_id.as_str(), id.tenant.as_str()), ("agent-1", "a"));
    assert!(client_ok);
}

#[tokio::test]
async fn certificate_of_another_ca_is_unknown_issuer() {
    let s = Service::new();
    let mut cfg = config("a");
    cfg.common_name = Some("some other CA".into());
    let other = Authority::create_root(cfg, key("ca-other"), s.now).unwrap();
    let issued = issue(&other, &key("agent-1"), "agent-1", s.now);
    let (outcome, client_ok) = s.run(&issued, "agent-1", &[]).await;
    assert_eq!(cert_error(&outcome), &CertificateError::UnknownIssuer);
    assert!(!client_ok);
}

#[tokio::test]
async fn revoked_agent_is_refused() {
    let s = Service::new();
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now);
    let revoked = [Revocation::new(issued.serial.clone(), s.now, None)];
    let (outcome, client_ok) = s.run(&issued, "agent-1", &revoked).await;
    assert_eq!(cert_error(&outcome), &CertificateError::Revoked);
    assert!(!client_ok);
}

#[tokio::test]
async fn expired_agent_is_refused() {
    let s = Service::new();
    // Issued 200 days ago with the default 180-day lifetime.
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now - 200 * DAY);
    let (outcome, client_ok) = s.run(&issued, "agent-1", &[]).await;
    let e = cert_error(&outcome);
    assert!(
        matches!(
            e,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{e:?}"
    );
    assert!(!client_ok);
}

#[tokio::test]
async fn not_yet_valid_agent_is_refused() {
    let s = Service::new();
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now + 2 * DAY);
    let (outcome, client_ok) = s.run(&issued, "agent-1", &[]).await;
    let e = cert_error(&outcome);
    assert!(
        matches!(
            e,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        ),
        "{e:?}"
    );
    assert!(!client_ok);
}

#[tokio::test]
async fn server_auth_only_certificate_is_refused() {
    let s = Service::new();
    let agent_key = key("agent-1");
    let csr = Csr::new(&agent_key, "agent-1").unwrap();
    let issued =
        s.ca.issue_server(&csr, &[SanEntry::Dns("agent-1.example".into())], s.now)
            .unwrap();
    let (outcome, client_ok) = s.run(&issued, "agent-1", &[]).await;
    let e = cert_error(&outcome);
    assert!(
        matches!(
            e,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
        ),
        "{e:?}"
    );
    assert!(!client_ok);
}

#[tokio::test]
async fn other_tenants_ca_cannot_speak_for_tenant_a() {
    let s = Service::new();
    // Tenant b's CA (trusted for b) was made to issue a certificate naming tenant a.
    let mut cfg = config("a");
    cfg.common_name = Some("pta agent CA b".into());
    let rogue = Authority::create_root(cfg, key("ca-evil"), s.now).unwrap();
    let mut trust = s.trust();
    trust.insert("b", rogue.chain()).unwrap();
    let crls = [
        s.ca.crl(&[], 1, s.now).unwrap(),
        rogue.crl(&[], 1, s.now).unwrap(),
    ];
    let issued = issue(&rogue, &key("agent-1"), "agent-1", s.now);
    let (outcome, _) = connect(
        s.server(&trust, &crls),
        s.client(&issued, &key("agent-1")),
        trust.clone(),
    )
    .await;
    assert!(
        matches!(&outcome, Outcome::Identity(Error::TenantMismatch(t)) if t == "a"),
        "{outcome:?}"
    );

    // Tenant b's own agents are fine through the same config.
    let mut b_cfg = config("b");
    b_cfg.common_name = Some("pta agent CA b".into());
    let b = Authority::from_parts(b_cfg, key("ca-evil"), rogue.chain().to_vec()).unwrap();
    let issued = issue(&b, &key("agent-2"), "agent-2", s.now);
    let (outcome, client_ok) = connect(
        s.server(&trust, &crls),
        s.client(&issued, &key("agent-2")),
        trust,
    )
    .await;
    let Outcome::Accepted(id) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((id.agent_id.as_str(), id.tenant.as_str()), ("agent-2", "b"));
    assert!(client_ok);
}

#[tokio::test]
async fn intermediate_chain_needs_crls_for_every_ca() {
    let s = Service::new();
    let (root, intermediate) = intermediate_a(s.now);
    let mut trust = TenantTrust::new();
    trust.insert_authority(&intermediate).unwrap();
    assert_eq!(trust.trust_anchors(), vec![root.certificate_der().clone()]);
    assert_eq!(trust.ca_certificates().len(), 2);
    let good = issue(&intermediate, &key("agent-1"), "agent-1", s.now);
    let bad = issue(&intermediate, &key("agent-2"), "agent-2", s.now);
    let crls = [
        intermediate
            .crl(
                &[Revocation::new(bad.serial.clone(), s.now, None)],
                3,
                s.now,
            )
            .unwrap(),
        root.crl(&[], 3, s.now).unwrap(),
    ];

    let (outcome, client_ok) = connect(
        s.server(&trust, &crls),
        s.client(&good, &key("agent-1")),
        trust.clone(),
    )
    .await;
    assert!(
        matches!(&outcome, Outcome::Accepted(id) if id.agent_id == "agent-1" && id.tenant == "a"),
        "{outcome:?}"
    );
    assert!(client_ok);

    let (outcome, _) = connect(
        s.server(&trust, &crls),
        s.client(&bad, &key("agent-2")),
        trust.clone(),
    )
    .await;
    assert_eq!(cert_error(&outcome), &CertificateError::Revoked);

    // Only the intermediate's CRL: the root's status of the intermediate is unknown.
    let (outcome, _) = connect(
        s.server(&trust, &crls[..1]),
        s.client(&good, &key("agent-1")),
        trust,
    )
    .await;
    assert_eq!(
        cert_error(&outcome),
        &CertificateError::UnknownRevocationStatus
    );
}

#[tokio::test]
async fn expired_crl_is_refused() {
    let s = Service::new();
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now);
    // thisUpdate 10 days ago, nextUpdate 3 days ago.
    let stale = s.ca.crl(&[], 1, s.now - 10 * DAY).unwrap();
    let trust = s.trust();
    let (outcome, _) = connect(
        s.server(&trust, &[stale]),
        s.client(&issued, &key("agent-1")),
        trust,
    )
    .await;
    let e = cert_error(&outcome);
    assert!(
        matches!(
            e,
            CertificateError::ExpiredRevocationList
                | CertificateError::ExpiredRevocationListContext { .. }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn agent_trusts_only_the_pinned_service_ca() {
    let s = Service::new();
    let issued = issue(&s.ca, &key("agent-1"), "agent-1", s.now);
    // The agent pins tenant a's CA instead of the service CA: the server is not trusted.
    let client = client_config(
        s.ca.certificate_der(),
        &issued.chain,
        &key("agent-1"),
        &TlsOptions::default(),
    )
    .unwrap();
    let trust = s.trust();
    let crl = s.ca.crl(&[], 1, s.now).unwrap();
    let (outcome, client_ok) = connect(s.server(&trust, &[crl]), client, trust).await;
    assert!(!client_ok);
    // The service sees the client's alert.
    assert!(
        matches!(outcome, Outcome::Tls(rustls::Error::AlertReceived(_))),
        "{outcome:?}"
    );
}

#[test]
fn server_config_without_tenants_is_an_error() {
    let s = Service::new();
    let r = server_config(
        &TenantTrust::new(),
        &[],
        &s.server_cert.chain,
        &s.server_key,
        &TlsOptions::default(),
    );
    assert!(matches!(r, Err(Error::NoTrustAnchors)), "{r:?}");
}
