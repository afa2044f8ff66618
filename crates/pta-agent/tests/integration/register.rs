//! Registration (PROTOCOL.md section 13).

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering;

use pta_agent::{Error, JoinToken, Refusal, RegisterOptions, register};
use pta_cert::KeySize;

use crate::support::*;

fn options(reg: &RegServer, token: JoinToken, dir: &std::path::Path) -> RegisterOptions {
    let mut o = RegisterOptions::new(reg.url.clone(), token, dir);
    o.key_size = KeySize::Rsa2048;
    o.timeout = WAIT;
    o
}

#[tokio::test]
async fn happy_path_writes_0600_files_and_a_chain_that_verifies() {
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let (_tmp, state) = state_dir();
    let info = register(&options(&reg, pki.token(), &state)).await.unwrap();
    assert_eq!(info.agent_id, "agent-1");
    assert_eq!(info.tenant, TENANT);
    assert_eq!(info.endpoints, vec!["127.0.0.1:1".to_string()]);
    assert_eq!(reg.requests.load(Ordering::SeqCst), 1);
    let mode = |p: &str| {
        std::fs::metadata(state.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700);
    for f in ["key.pem", "chain.pem", "service-ca.pem", "agent.json"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
    // The chain verifies against the tenant's CA and names the agent.
    let loaded = pta_cert::StateStore::open(&state).unwrap().load().unwrap();
    let mut trust = pta_cert::TenantTrust::new();
    trust.insert_authority(&pki.tenant).unwrap();
    let who = trust.identify(&loaded.current.chain).unwrap();
    assert_eq!(
        (who.agent_id.as_str(), who.tenant.as_str()),
        ("agent-1", TENANT)
    );
    assert_eq!(&loaded.service_ca, pki.service_ca.certificate_der());
    // And the status reads it back.
    let st = pta_agent::status(&state).unwrap();
    assert_eq!(st.agent_id, "agent-1");
    assert!(!st.running);
    assert!(!st.serial.is_empty());
}

#[tokio::test]
async fn wrong_pin_is_refused_before_any_request_is_sent() {
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let (_tmp, dir) = state_dir();
    let other = "ab".repeat(32);
    let token = JoinToken::parse(&pki.token_text(&other)).unwrap();
    let err = register(&options(&reg, token, dir.as_path()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PinMismatch(_)), "{err:?}");
    assert_eq!(
        reg.requests.load(Ordering::SeqCst),
        0,
        "the server saw a request"
    );
    assert!(!dir.as_path().join("key.pem").exists());
    assert!(!dir.as_path().join("agent.json").exists());
}

#[tokio::test]
async fn every_refusal_code_is_mapped() {
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let cases = [
        (400, "malformed_request", Refusal::MalformedRequest),
        (400, "malformed_token", Refusal::MalformedToken),
        (
            400,
            "invalid_software_version",
            Refusal::InvalidSoftwareVersion,
        ),
        (400, "malformed_csr", Refusal::MalformedCsr),
        (400, "csr_signature_invalid", Refusal::CsrSignatureInvalid),
        (400, "weak_key", Refusal::WeakKey),
        (403, "unknown_token", Refusal::UnknownToken),
        (403, "token_expired", Refusal::TokenExpired),
        (403, "token_used", Refusal::TokenUsed),
        (409, "agent_limit_reached", Refusal::AgentLimitReached),
        (
            429,
            "rate_limited",
            Refusal::RateLimited {
                retry_after_secs: Some(17),
            },
        ),
        (503, "unavailable", Refusal::Unavailable),
        (418, "teapot", Refusal::Unknown { status: 418 }),
    ];
    for (status, code, want) in cases {
        *reg.mode.lock().unwrap() = RegMode::Refuse(status, code);
        let (_tmp, dir) = state_dir();
        let err = register(&options(&reg, pki.token(), dir.as_path()))
            .await
            .unwrap_err();
        match err {
            Error::Refused(got) => assert_eq!(got, want, "{code}"),
            other => panic!("{code}: {other:?}"),
        }
        assert!(!dir.as_path().join("agent.json").exists());
    }
}

#[tokio::test]
async fn second_registration_needs_force() {
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let (_tmp, dir) = state_dir();
    let mut o = options(&reg, pki.token(), dir.as_path());
    register(&o).await.unwrap();
    let err = register(&o).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered(_)), "{err:?}");
    assert_eq!(reg.requests.load(Ordering::SeqCst), 1);
    o.force = true;
    let info = register(&o).await.unwrap();
    assert_eq!(info.agent_id, "agent-2");
    assert_eq!(
        pta_agent::status(dir.as_path()).unwrap().agent_id,
        "agent-2"
    );
    assert!(!dir.as_path().join("previous-key.pem").exists());
}

#[tokio::test]
async fn registration_through_tinyproxy() {
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let proxy = pta_testkit::Tinyproxy::start(None).expect("tinyproxy starts");
    let (_tmp, dir) = state_dir();
    let mut o = options(&reg, pki.token(), dir.as_path());
    o.proxy = Some(pta_agent::ProxySettings::parse(&proxy.url()).unwrap());
    register(&o).await.unwrap();
    let port = reg.url.rsplit(':').next().unwrap();
    assert!(
        proxy.log().contains(&format!("CONNECT 127.0.0.1:{port}")),
        "proxy log: {}",
        proxy.log()
    );
}

#[test]
fn malformed_tokens_name_the_part() {
    assert!(matches!(
        JoinToken::parse("pta1.abc"),
        Err(pta_agent::TokenError::Shape)
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn the_token_never_reaches_the_logs() {
    let captured = Captured::default();
    let _guard = captured.install();
    let pki = Pki::new();
    let reg = RegServer::start(pki.clone(), vec!["127.0.0.1:1".into()]).await;
    let (_tmp, dir) = state_dir();
    let token = pki.token();
    let secret = token.expose().split('.').nth(1).unwrap().to_owned();
    register(&options(&reg, token.clone(), &dir)).await.unwrap();
    *reg.mode.lock().unwrap() = RegMode::Refuse(403, "token_used");
    let (_tmp2, dir2) = state_dir();
    let err = register(&options(&reg, token, &dir2)).await.unwrap_err();
    let text = captured.text();
    assert!(text.contains("registered"), "{text}");
    assert!(
        !text.contains(&secret),
        "the token reached the logs:\n{text}"
    );
    assert!(!err.to_string().contains(&secret));
    assert!(!format!("{err:?}").contains(&secret));
}
