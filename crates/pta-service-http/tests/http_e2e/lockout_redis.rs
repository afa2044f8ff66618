//! Sign-in over HTTP with the lockout state in a real Redis (pta-testkit) that is stopped
//! mid-run: 503 `lockout_unavailable` with `Retry-After`, nothing counted, and sign-ins pass
//! the lockout check again once Redis is back, without restarting the service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pta_lockout::Policy;
use pta_lockout_redis::{RedisLockoutConfig, RedisLockoutStore};
use pta_service_http::RateLimit;

use crate::support::{FRONT_END, Harness, Reply, send, service_options};

async fn sign_in(h: &Harness) -> Reply {
    let auth = format!("Bearer {FRONT_END}");
    let body = serde_json::json!({"login": "alice@contoso.com", "password": "pw", "client_ip": "198.51.100.4"});
    send(
        h.api.addr,
        &h.api_client,
        "POST",
        "/v1/tenants/contoso/sign-in",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        serde_json::to_vec(&body).unwrap().into(),
    )
    .await
}

fn metric(h: &Harness, prefix: &str) -> u64 {
    let text = h.service.as_ref().unwrap().metrics_text();
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_answers_503_lockout_unavailable_then_recovers() {
    let mut redis = pta_testkit::Redis::start().unwrap();
    let mut config = RedisLockoutConfig::new(redis.url());
    config.timeout = Duration::from_millis(500);
    let store = RedisLockoutStore::connect(Policy::default(), config)
        .await
        .unwrap();
    let mut options = service_options();
    options.lockout_store = Some(Arc::new(store));
    options.sign_in_deadline = Duration::from_secs(2);
    let h = Harness::start_with(RateLimit::default(), options).await;
    h.create_tenant("contoso").await;

    // Redis up: the lockout check passes and the pick finds no agent.
    sign_in(&h).await.assert_error(503, "no_agent_available");
    let checks = "pta_lockout_store_seconds_count{op=\"check\"}";
    assert_eq!(metric(&h, checks), 1);

    // Redis gone: refused before any agent is looked for, with Retry-After, uncounted.
    redis.stop();
    let reply = sign_in(&h).await;
    reply.assert_error(503, "lockout_unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(
        metric(&h, "pta_sign_in_errors_total{kind=\"lockout_unavailable\"}"),
        1
    );
    assert_eq!(
        metric(&h, "pta_sign_in_errors_total{kind=\"no_agent\"}"),
        1,
        "no agent was looked for"
    );
    assert_eq!(metric(&h, "pta_lockout_store_errors_total"), 1);
    assert_eq!(metric(&h, checks), 2, "the failed call is timed too");

    // Redis back on the same port: the same service passes the check again.
    redis.restart().unwrap();
    let start = Instant::now();
    loop {
        let reply = sign_in(&h).await;
        if reply.status == 503 && reply.json()["error"] == "no_agent_available" {
            break;
        }
        reply.assert_error(503, "lockout_unavailable");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // No sign-in reached a verdict at any point.
    let text = h.service.as_ref().unwrap().metrics_text();
    assert!(!text.contains("pta_sign_ins_total{"), "{text}");
    if let Some(service) = &h.service {
        service.shutdown().await;
    }
}
