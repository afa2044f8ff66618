//! Operations through the whole path: service restart, revocation, the directory going away
//! and coming back, an HTTP proxy between agent and service.

use std::time::{Duration, Instant};

use pta_service::{DecidedBy, SignInError};
use pta_testkit::{Role, Slapd, Tinyproxy};
use pta_wire::{ErrorCode, Verdict};

use crate::support::{Relay, Stack, WAIT, hex, one_agent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_restart_agents_reconnect_without_registering_again() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut stack = Stack::start().await;
    let agent = one_agent(&stack, &slapd, &slapd.ldaps_url(), "").await;
    let good = slapd.user(Role::Good).unwrap();
    assert_eq!(
        stack.verdict(good.login, good.password).await,
        Verdict::Success
    );
    let agent_addr = stack.service.agent_addr();

    stack.restart().await;
    assert_eq!(stack.service.agent_addr(), agent_addr, "same agent port");
    let took = stack.wait_connected(&agent.id).await;
    eprintln!("restart: agent reconnected {took:?} after the service came back");
    assert!(took < Duration::from_secs(5), "reconnected in {took:?}");
    // The same registration: one agent in the store, same serial, nothing new registered.
    assert_eq!(stack.agent_count().await, 1);
    let r = stack.sign_in(good.login, good.password).await.unwrap();
    assert_eq!(r.verdict, Verdict::Success);
    assert_eq!(r.decided_by, DecidedBy::Agent(agent.id.parse().unwrap()));
    assert_eq!(
        hex(&stack.record(&agent.id).await.certificate_serial),
        agent.serial()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_agent_is_disconnected_and_cannot_reconnect() {
    let slapd = Slapd::start().expect("slapd starts");
    let stack = Stack::start().await;
    let mut agent = one_agent(&stack, &slapd, &slapd.ldaps_url(), "").await;
    let good = slapd.user(Role::Good).unwrap();
    assert_eq!(
        stack.verdict(good.login, good.password).await,
        Verdict::Success
    );

    // Through the admin API, as an operator would.
    let (status, body) = stack
        .admin_post(&format!("/v1/agents/{}/revoke", agent.id))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], true);
    let start = Instant::now();
    while stack.connections(&agent.id).await > 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "still connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It never gets a session again.
    for _ in 0..30 {
        assert_eq!(stack.connections(&agent.id).await, 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(
        stack.sign_in(good.login, good.password).await,
        Err(SignInError::NoAgentAvailable)
    ));
    assert_eq!(
        stack.record(&agent.id).await.status,
        pta_service::AgentStatus::Revoked
    );
    // Told `Revoked`, the agent stops for good and says why.
    let exit = agent
        .wait_exit(WAIT)
        .await
        .expect("the revoked agent exits");
    eprintln!("revoked agent exited with {exit:?}");
    assert!(!exit.success());
    let log = agent.log_text();
    assert!(
        log.to_lowercase().contains("revoked"),
        "the agent's log says why:\n{log}"
    );
    // Started again (as a supervisor would), it fails the TLS handshake on every attempt.
    let before = log.len();
    agent.start();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        assert_eq!(stack.connections(&agent.id).await, 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    agent.kill();
    let again = agent.log_text()[before..].to_owned();
    let status = agent.status_text();
    eprintln!("restarted revoked agent log:\n{again}\nstatus:\n{status}");
    // The service's CRL check refuses the certificate: rustls' alert, at every attempt.
    let refusals = again.matches("CertificateRevoked").count();
    assert!(refusals >= 2, "refused {refusals} times:\n{again}");
    agent.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_down_is_an_error_and_recovers_without_agent_restart() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut relay = Relay::start(slapd.ldaps_port()).await;
    let stack = Stack::start().await;
    let agent = one_agent(
        &stack,
        &slapd,
        &format!("ldaps://127.0.0.1:{}", relay.port),
        "",
    )
    .await;
    let good = slapd.user(Role::Good).unwrap();
    assert_eq!(
        stack.verdict(good.login, good.password).await,
        Verdict::Success
    );
    let before = stack
        .service
        .lockout_status(&stack.tenant, good.login)
        .await
        .unwrap();

    relay.cut();
    for password in [good.password, "Wrong-Passw0rd!", "Other-Wrong-1"] {
        match stack.sign_in(good.login, password).await {
            Err(SignInError::Agent(ErrorCode::DirectoryUnavailable)) => {}
            other => panic!("directory down gave {other:?}"),
        }
    }
    // Errors never count toward lockout.
    let during = stack
        .service
        .lockout_status(&stack.tenant, good.login)
        .await
        .unwrap();
    assert_eq!(during, before);
    assert_eq!(during.familiar.failures + during.unfamiliar.failures, 0);

    relay.restore().await;
    let start = Instant::now();
    loop {
        match stack.sign_in(good.login, good.password).await {
            Ok(r) => {
                assert_eq!(r.verdict, Verdict::Success);
                break;
            }
            Err(SignInError::Agent(ErrorCode::DirectoryUnavailable)) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(start.elapsed() < WAIT, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("directory back: recovered after {:?}", start.elapsed());
    assert_eq!(
        stack.connections(&agent.id).await,
        1,
        "same agent process and session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_reaches_the_service_only_through_tinyproxy() {
    let slapd = Slapd::start().expect("slapd starts");
    let proxy = Tinyproxy::start(None).expect("tinyproxy starts");
    let stack = Stack::start().await;
    let agent = one_agent(
        &stack,
        &slapd,
        &slapd.ldaps_url(),
        &format!("[proxy]\nurl = \"{}\"\n", proxy.url()),
    )
    .await;
    let good = slapd.user(Role::Good).unwrap();
    assert_eq!(
        stack.verdict(good.login, good.password).await,
        Verdict::Success
    );
    let log = proxy.log();
    let registration = stack.registration_url();
    let registration_port = registration.rsplit(':').next().unwrap();
    let agent_port = stack.service.agent_addr().port();
    for (what, port) in [
        ("registration", registration_port.to_owned()),
        ("the agent session", agent_port.to_string()),
    ] {
        assert!(
            log.contains(&format!("CONNECT 127.0.0.1:{port} HTTP/1.1")),
            "{what} went through the proxy:\n{log}"
        );
    }
    assert_eq!(stack.connections(&agent.id).await, 1);
    // Only through it: with the proxy gone the session dies and the agent finds no other way.
    drop(proxy);
    let start = Instant::now();
    while stack.connections(&agent.id).await > 0 {
        assert!(start.elapsed() < WAIT, "session survived the proxy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..20 {
        assert_eq!(stack.connections(&agent.id).await, 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(
        stack.sign_in(good.login, good.password).await,
        Err(SignInError::NoAgentAvailable)
    ));
}
