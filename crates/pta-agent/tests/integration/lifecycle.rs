//! Reconnect, fail-over, drain, renewal, expiry, the state-directory lock, and what reaches the
//! logs.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pta_agent::{Agent, Error};
use pta_directory::{Directory, DirectoryError, Outcome, Password};
use pta_wire::{CloseReason, Verdict};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_service_closes_with_bounded_backoff() {
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, config) = provisioned(&pki, vec![listener.addr.clone()]);
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let mut sealer = sealer();
    let first = listener.next_conn().await;
    assert_eq!(
        first.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    let closed_at = Instant::now();
    first.close(CloseReason::Normal);
    let second = listener.next_conn().await;
    // Back-off here is 50 ms doubling to 400 ms: well under two seconds.
    assert!(
        closed_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        closed_at.elapsed()
    );
    let mut sealer = crate::support::sealer();
    assert_eq!(
        second.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert_eq!(running.metrics.reconnects(), 1);
    let st = pta_agent::status(&dir).unwrap();
    assert!(st.running);
    let c = st.connection.expect("status file while running");
    assert_eq!(c.state, "connected");
    assert_eq!(c.endpoint.as_deref(), Some(listener.addr.as_str()));
    running.stop().await.unwrap();
    assert!(!pta_agent::status(&dir).unwrap().running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_the_second_endpoint() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, config) = provisioned(&pki, vec![dead, listener.addr.clone()]);
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let conn = listener.next_conn().await;
    let mut sealer = sealer();
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert_eq!(running.metrics.reconnects(), 0);
    running.stop().await.unwrap();
}

/// A directory that answers after a delay (to have a request in flight).
struct Slow(Arc<dyn Directory>, Duration);

#[async_trait]
impl Directory for Slow {
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError> {
        tokio::time::sleep(self.1).await;
        self.0.authenticate(login, password).await
    }
    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError> {
        self.0.change_password(login, old, new).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_on_shutdown_lets_the_in_flight_request_finish() {
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, config) = provisioned(&pki, vec![listener.addr.clone()]);
    let slow = Arc::new(Slow(memory_directory(), Duration::from_millis(800)));
    let running = Running::start(Agent::with_directory(&dir, config, slow).unwrap());
    let conn = listener.next_conn().await;
    let mut sealer = sealer();
    let (rx, key) = conn.submit(&mut sealer, Req::sign_in(GOOD.0, GOOD.1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = tokio::spawn(running.stop());
    let r = tokio::time::timeout(WAIT, rx)
        .await
        .unwrap()
        .expect("answered while draining");
    assert_eq!(verified(&r, &key), Verdict::Success);
    stopped.await.unwrap().unwrap();
    assert!(*conn.drained.lock().unwrap(), "the agent sent Drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renews_a_short_lived_certificate_over_the_session() {
    // One-hour certificates: less than 30 days left, so renewal is due at once.
    let pki = Pki::with_agent_lifetime(Duration::from_secs(3600));
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, mut config) = provisioned(&pki, vec![listener.addr.clone()]);
    config.renewal.max_jitter = Duration::ZERO;
    let before = pta_agent::status(&dir).unwrap().serial;
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let first = listener.next_conn().await;
    let mut sealer = sealer();
    // Sign-ins keep succeeding while the renewal happens on the same session.
    let start = Instant::now();
    let mut answered = 0;
    while listener.renewals.load(Ordering::SeqCst) == 0 || !dir.join("previous-key.pem").exists() {
        assert!(start.elapsed() < WAIT, "no renewal");
        assert_eq!(
            first.verdict(&mut sealer, GOOD.0, GOOD.1).await,
            Verdict::Success
        );
        answered += 1;
    }
    assert_eq!(
        first.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert!(answered >= 1);
    let after = pta_agent::status(&dir).unwrap().serial;
    assert_ne!(before, after, "a new certificate is installed");
    assert_eq!(running.metrics.renewals(), 1);
    // Later connections use the new certificate (and key).
    first.close(CloseReason::Normal);
    let second = listener.next_conn().await;
    assert_ne!(second.peer_leaf, first.peer_leaf);
    assert_ne!(second.recipient_key_id(), first.recipient_key_id());
    let mut sealer = crate::support::sealer();
    assert_eq!(
        second.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    // Connecting with it confirmed it: the previous pair is gone.
    assert!(!dir.join("previous-key.pem").exists());
    assert_eq!(listener.renewals.load(Ordering::SeqCst), 1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_expired_certificate_is_a_distinct_error() {
    let pki = Pki::with_agent_lifetime(Duration::from_secs(60));
    let (_tmp, dir) = state_dir();
    pki.provision(
        &dir,
        vec!["127.0.0.1:1".into()],
        now() - Duration::from_secs(3600),
    );
    let err = Agent::with_directory(&dir, test_config(vec![]), memory_directory()).unwrap_err();
    assert!(matches!(err, Error::CertificateExpired), "{err:?}");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("register"));
}

#[tokio::test]
async fn a_second_agent_on_the_same_state_dir_is_refused() {
    let pki = Pki::new();
    let (_tmp, dir, config) = provisioned(&pki, vec!["127.0.0.1:1".into()]);
    let first = Agent::with_directory(&dir, config.clone(), memory_directory()).unwrap();
    let err = Agent::with_directory(&dir, config.clone(), memory_directory()).unwrap_err();
    assert!(matches!(err, Error::Locked(_)), "{err:?}");
    assert_eq!(err.exit_code(), 4);
    assert!(pta_agent::status(&dir).unwrap().running);
    drop(first);
    Agent::with_directory(&dir, config, memory_directory()).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn passwords_never_reach_the_logs() {
    let captured = Captured::default();
    let _guard = captured.install();

    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, config) = provisioned(&pki, vec![listener.addr.clone()]);
    let agent = Agent::with_directory(&dir, config, memory_directory()).unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(agent.run(async move {
        let _ = rx.await;
    }));
    let conn = listener.next_conn().await;
    let mut sealer = sealer();
    let wrong = "Wr0ng-Secret-Value-42";
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, wrong).await,
        Verdict::InvalidCredentials
    );
    let mut change = Req::sign_in(GOOD.0, "");
    change.op = pta_wire::Operation::PasswordChange;
    let mut secret = (GOOD.1.len() as u32).to_be_bytes().to_vec();
    secret.extend_from_slice(GOOD.1.as_bytes());
    secret.extend_from_slice(b"x");
    change.secret = secret;
    let _ = conn.send(&mut sealer, change).await;
    let _ = stop.send(());
    tokio::time::timeout(WAIT, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let text = captured.text();
    assert!(
        text.contains("session established"),
        "logs captured: {text}"
    );
    for secret in [GOOD.1, wrong] {
        assert!(
            !text.contains(secret),
            "a password reached the logs:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listener_serves_prometheus_text() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, mut config) = provisioned(&pki, vec![listener.addr.clone()]);
    config.metrics =
        pta_agent::Config::from_toml(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"))
            .unwrap()
            .metrics;
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let conn = listener.next_conn().await;
    let mut sealer = sealer();
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, "nope").await,
        Verdict::InvalidCredentials
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut text))
        .await
        .unwrap()
        .unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for line in [
        "pta_agent_requests_total{verdict=\"Success\"} 1",
        "pta_agent_requests_total{verdict=\"InvalidCredentials\"} 1",
        "pta_agent_request_duration_seconds_count 2",
        "pta_agent_connected 1",
        "pta_agent_reconnects_total 0",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_session_key_survives_several_renewals() {
    // Renewal due at once and checked every second: several renewals on one session. The
    // service keeps sealing for the key of the certificate the session presented.
    let pki = Pki::with_agent_lifetime(Duration::from_secs(3600));
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, mut config) = provisioned(&pki, vec![listener.addr.clone()]);
    config.renewal.max_jitter = Duration::ZERO;
    config.renewal.check_interval = Duration::from_secs(1);
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let first = listener.next_conn().await;
    let start = Instant::now();
    while listener.renewals.load(Ordering::SeqCst) < 3 {
        assert!(start.elapsed() < WAIT, "not enough renewals");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A new sealer: its first envelope carries the session key wrapped for the session's key.
    let mut sealer = sealer();
    assert_eq!(
        first.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    assert!(running.metrics.renewals() >= 3);
    running.stop().await.unwrap();
}
