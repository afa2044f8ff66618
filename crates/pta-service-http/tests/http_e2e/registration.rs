//! `POST /v1/agents/register` against the real service.

use axum::body::Bytes;
use pta_service::TenantId;
use pta_service_http::RateLimit;

use crate::support::{
    Harness, SendError, csr_pem, fresh_csr_der, pin_of, pin_of_der, pinned_client, try_send,
};

const WEAK_1024_CSR: &[u8] = include_bytes!("../data/weak-1024.csr.der");
const EXP3_CSR: &[u8] = include_bytes!("../data/exp3-2048.csr.der");

fn generous() -> RateLimit {
    RateLimit::new(6_000, 1_000)
}

#[tokio::test]
async fn registration_happy_path_with_the_pinned_service_ca() {
    registration_happy_path_with_the_pinned_service_ca_on(Harness::start(generous()).await).await;
}

async fn registration_happy_path_with_the_pinned_service_ca_on(h: Harness) {
    let tenant = h.create_tenant("contoso").await;
    let token = h.create_token("contoso", None).await;
    // The token pins the service CA.
    assert!(token.starts_with("pta1."), "{token}");
    assert_eq!(pin_of(&token), Some(pin_of_der(&h.service_ca_der)));

    let csr_der = fresh_csr_der();
    let reply = h.register(&token, &csr_pem(&csr_der), "1.0.0").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    assert_eq!(v["tenant"], tenant);
    let agent_id = v["agent_id"].as_str().unwrap();
    // The chain: the agent certificate, then the tenant CA as stored.
    let chain = pta_cert::certificates_from_pem(v["certificate_chain"].as_str().unwrap()).unwrap();
    assert_eq!(chain.len(), 2);
    let id: TenantId = tenant.parse().unwrap();
    let authority = h.store.authority(&id).await.unwrap().unwrap();
    assert_eq!(chain[1].as_ref(), authority.certificate.as_slice());
    // The service CA, whose SHA-256 is the token's pin.
    let ca = pta_cert::certificates_from_pem(v["service_ca"].as_str().unwrap()).unwrap();
    assert_eq!(ca.len(), 1);
    assert_eq!(Some(pin_of_der(ca[0].as_ref())), pin_of(&token));
    // The agent listener is among the endpoints.
    let endpoints: Vec<&str> = v["agent_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        endpoints.contains(&h.agent_endpoint.as_str()),
        "{endpoints:?}"
    );
    // The registry knows the agent, with the address it came from and its version.
    let record = h
        .store
        .agent(&agent_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.tenant, id);
    assert_eq!(record.software_version, "1.0.0");
    assert_eq!(record.last_source, Some("127.0.0.1".parse().unwrap()));
    // The agent's certificate names the agent (openssl reads it).
    let text = openssl_text("x509", chain[0].as_ref());
    assert!(text.contains(agent_id), "{text}");
}

#[tokio::test]
async fn a_wrong_pin_fails_the_handshake() {
    a_wrong_pin_fails_the_handshake_on(Harness::start(generous()).await).await;
}

async fn a_wrong_pin_fails_the_handshake_on(h: Harness) {
    let wrong = pinned_client([0x42; 32]);
    let result = try_send(
        h.registration.addr,
        &wrong,
        "POST",
        "/v1/agents/register",
        &[],
        Bytes::from_static(b"{}"),
    )
    .await;
    match result {
        Err(SendError::Tls(e)) => assert!(pin_refusal(&e), "{e}"),
        Ok(reply) => panic!("a client pinning another CA must not connect: {reply:?}"),
    }
    // The right pin connects (and is refused for its body, not its TLS).
    let right = pinned_client(pin_of_der(&h.service_ca_der));
    let reply = try_send(
        h.registration.addr,
        &right,
        "POST",
        "/v1/agents/register",
        &[],
        Bytes::from_static(b"{}"),
    )
    .await
    .unwrap();
    reply.assert_error(400, "malformed_request");
}

#[tokio::test]
async fn every_registration_refusal() {
    every_registration_refusal_on(Harness::start(generous()).await).await;
}

async fn every_registration_refusal_on(h: Harness) {
    h.create_tenant("contoso").await;
    let csr = csr_pem(&fresh_csr_der());
    let token = h.create_token("contoso", None).await;

    // 400 malformed_request: not JSON, a missing field, over 64 KiB.
    h.register_raw(&token, b"not json".to_vec())
        .await
        .assert_error(400, "malformed_request");
    h.register_raw(&token, br#"{"token": "x", "csr": "y"}"#.to_vec())
        .await
        .assert_error(400, "malformed_request");
    let big =
        serde_json::json!({"token": token, "csr": "A".repeat(65 * 1024), "software_version": "1"});
    h.register_raw(&token, serde_json::to_vec(&big).unwrap())
        .await
        .assert_error(400, "malformed_request");
    // 400 malformed_token.
    h.register("pta1.nope", &csr, "1.0")
        .await
        .assert_error(400, "malformed_token");
    // 400 invalid_software_version.
    for version in ["", "v\u{7}1", &"9".repeat(65)] {
        h.register(&token, &csr, version)
            .await
            .assert_error(400, "invalid_software_version");
    }
    // 400 malformed_csr.
    h.register(
        &token,
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "1.0",
    )
    .await
    .assert_error(400, "malformed_csr");
    // 400 csr_signature_invalid: one bit of the signature flipped.
    let mut tampered = fresh_csr_der();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    h.register(&token, &csr_pem(&tampered), "1.0")
        .await
        .assert_error(400, "csr_signature_invalid");
    // 400 weak_key: RSA-1024, and e = 3.
    h.register(&token, &csr_pem(WEAK_1024_CSR), "1.0")
        .await
        .assert_error(400, "weak_key");
    h.register(&token, &csr_pem(EXP3_CSR), "1.0")
        .await
        .assert_error(400, "weak_key");
    // 403 unknown_token: well-formed, never issued (same pin).
    let pin = token.rsplit('.').next().unwrap();
    let unknown = format!("pta1.{}.{pin}", "A".repeat(43));
    h.register(&unknown, &csr, "1.0")
        .await
        .assert_error(403, "unknown_token");

    // None of the refusals above spent the token.
    let reply = h.register(&token, &csr, "1.0").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // 403 token_used.
    h.register(&token, &csr_pem(&fresh_csr_der()), "1.0")
        .await
        .assert_error(403, "token_used");

    // 403 token_expired: a 60 s token, 61 s later.
    let short = h.create_token("contoso", Some(60)).await;
    h.clock.advance(61_000);
    h.register(&short, &csr_pem(&fresh_csr_der()), "1.0")
        .await
        .assert_error(403, "token_expired");

    // 409 agent_limit_reached: limit 1, one agent registered already.
    let id: TenantId = h.json_tenant_id("contoso").await;
    h.store.set_agent_limit(&id, 1).await.unwrap();
    let another = h.create_token("contoso", None).await;
    h.register(&another, &csr_pem(&fresh_csr_der()), "1.0")
        .await
        .assert_error(409, "agent_limit_reached");
    // ... and that refusal left the token usable: raise the limit and it works.
    h.store.set_agent_limit(&id, 5).await.unwrap();
    let reply = h
        .register(&another, &csr_pem(&fresh_csr_der()), "1.0")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn registration_is_rate_limited() {
    registration_is_rate_limited_on(Harness::start(RateLimit::new(1, 3)).await).await;
}

async fn registration_is_rate_limited_on(h: Harness) {
    h.create_tenant("contoso").await;
    let token = h.create_token("contoso", None).await;
    let csr = csr_pem(&fresh_csr_der());
    for _ in 0..3 {
        h.register(&token, &csr, "")
            .await
            .assert_error(400, "invalid_software_version");
    }
    let reply = h.register(&token, &csr, "1.0").await;
    reply.assert_error(429, "rate_limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// `openssl <kind> -inform DER -noout -text` of `der`.
pub(crate) fn openssl_text(kind: &str, der: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args([kind, "-inform", "DER", "-noout", "-text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(der).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Harness {
    async fn json_tenant_id(&self, name: &str) -> TenantId {
        self.store.tenant_by_name(name).await.unwrap().unwrap().id
    }
}

/// The harness's agent-side verifier itself (no runtime needed): a chain that carries the
/// pinned CA is accepted; another pin, or a chain without the CA, is refused.
#[tokio::test]
async fn the_pinning_client_follows_section_13_2() {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::Arc;
    use std::time::SystemTime;

    use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, SanEntry};
    use pta_service_http::HttpServer;
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let now = SystemTime::now();
    let ca = Authority::create_root(
        AuthorityConfig::for_tenant("pin-test"),
        KeyPair::generate(KeySize::Rsa2048).unwrap(),
        now,
    )
    .unwrap();
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let issued = ca
        .issue_server(
            &Csr::new(&key, "localhost").unwrap(),
            &[SanEntry::Ip(IpAddr::from([127, 0, 0, 1]))],
            now,
        )
        .unwrap();
    let server_config = |chain: Vec<rustls::pki_types::CertificateDer<'static>>| {
        let pkcs8 = key.to_pkcs8_der().unwrap();
        Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                chain,
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec())),
            )
            .unwrap(),
        )
    };
    let router = || axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let pin = pin_of_der(ca.certificate_der().as_ref());

    // The chain carries the CA: the right pin connects, another does not.
    let mut chain = issued.chain.clone();
    chain.push(ca.certificate_der().clone());
    let server = HttpServer::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(server_config(chain)),
        router(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let reply = try_send(addr, &pinned_client(pin), "GET", "/", &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!((reply.status, reply.text().as_str()), (200, "ok"));
    let mut other = pin;
    other[0] ^= 1;
    assert!(matches!(
        try_send(addr, &pinned_client(other), "GET", "/", &[], Bytes::new()).await,
        Err(SendError::Tls(_))
    ));
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    // The leaf alone (no CA in the chain): nothing to pin, refused.
    let server = HttpServer::bind(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(server_config(issued.chain.clone())),
        router(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    match try_send(addr, &pinned_client(pin), "GET", "/", &[], Bytes::new()).await {
        Err(SendError::Tls(e)) => assert!(pin_refusal(&e), "{e}"),
        Ok(reply) => panic!("connected without the pinned CA in the chain: {reply:?}"),
    }
}

/// Whether a handshake failed on the client's pin (the verifier's typed refusal).
fn pin_refusal(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(pta_cert::is_pin_mismatch)
}
