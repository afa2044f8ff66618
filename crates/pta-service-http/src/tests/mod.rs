//! The HTTP layer over a fake [`Api`](super::Api), through a real HTTPS client on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{ApiAuth, ApiOptions, RateLimit, RegistrationOptions, api_router, registration_router};
use pta_service::StoreError;
use pta_service::{ManualClock, ServiceError};
use support::{ADMIN, FakeApi, KEY_A, KEY_B, Running, T0, tenant_id};

fn options() -> ApiOptions {
    let mut options = ApiOptions::new(ApiAuth::new(
        Some(ADMIN.as_bytes()),
        [KEY_A.as_bytes(), KEY_B.as_bytes()],
    ));
    options.clock = Arc::new(ManualClock::new(T0));
    options.token_lifetime = Some(Duration::from_secs(900));
    options.agent_limit = Some(12);
    options
}

async fn api_server(fake: &Arc<FakeApi>) -> Running {
    Running::start(api_router(Arc::clone(fake) as _, options()), true).await
}

async fn registration_server(fake: &Arc<FakeApi>, limit: RateLimit) -> Running {
    Running::start(
        registration_router(Arc::clone(fake) as _, RegistrationOptions::new(limit)),
        true,
    )
    .await
}

fn sign_in_body(login: &str) -> serde_json::Value {
    json!({"login": login, "password": "correct horse", "client_ip": "198.51.100.4"})
}

// ----- sign-in -----

#[tokio::test]
async fn sign_in_success_has_the_documented_shape() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let body = json!({
        "login": "alice@contoso.com",
        "password": "p\u{e4}ss \"w\\o\"rd",
        "client_ip": "2001:db8::4",
        "location": "device-17",
    });
    let reply = server
        .post_json("/v1/tenants/contoso/sign-in", Some(KEY_A), &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["request_id"], "0123456789abcdef0011223344556677");
    assert_eq!(v["verdict"], "success");
    assert_eq!(v["decided_by"], "agent");
    assert_eq!(v["agent_id"], fake.agent.to_string());
    assert_eq!(
        v["warnings"],
        json!([{"kind": "password_expires_in_days", "value": 5}])
    );
    assert_eq!(v["latency_ms"], 42);
    assert!(v.get("locked_until_ms").is_none());
    // The fake got the tenant, login, the exact password bytes and the context.
    {
        let calls = fake.calls.lock().unwrap();
        let (tenant, login, password, context) = &calls.sign_ins[0];
        assert_eq!(*tenant, tenant_id(1));
        assert_eq!(login, "alice@contoso.com");
        assert_eq!(password.as_slice(), "p\u{e4}ss \"w\\o\"rd".as_bytes());
        assert_eq!(context.source, "2001:db8::4".parse::<IpAddr>().unwrap());
        assert_eq!(context.location.as_deref(), Some("device-17"));
    }
    server.stop().await;
}

#[tokio::test]
async fn sign_in_by_tenant_id_lockout_and_repeat() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let path = format!("/v1/tenants/{}/sign-in", tenant_id(2));
    let v = server
        .post_json(&path, Some(KEY_B), &sign_in_body("lock"))
        .await;
    assert_eq!(v.status, 200);
    let v = v.json();
    assert_eq!(v["decided_by"], "lockout");
    assert_eq!(v["verdict"], "account_locked");
    assert_eq!(v["locked_until_ms"], T0 + 60_000);
    assert!(v.get("agent_id").is_none());
    let v = server
        .post_json(&path, Some(KEY_B), &sign_in_body("repeat"))
        .await
        .json();
    assert_eq!(v["decided_by"], "repeat_rejected");
    assert_eq!(v["verdict"], "invalid_credentials");
    let calls = fake.calls.lock().unwrap();
    assert!(calls.sign_ins.iter().all(|c| c.0 == tenant_id(2)));
    assert_eq!(calls.sign_ins[0].3.location, None);
}

#[tokio::test]
async fn sign_in_errors_map_to_status_and_code() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    for (login, status, code) in [
        ("err-unknown-tenant", 404, "unknown_tenant"),
        ("err-invalid", 400, "invalid_request"),
        ("err-blocked", 429, "source_blocked"),
        ("err-no-agent", 503, "no_agent_available"),
        ("err-timeout", 504, "timeout"),
        ("err-agent", 502, "agent_error"),
        ("err-bad-reply", 502, "bad_reply"),
        ("err-lockout-store", 503, "lockout_unavailable"),
        ("err-internal", 500, "internal"),
    ] {
        let reply = server
            .post_json(
                "/v1/tenants/contoso/sign-in",
                Some(KEY_A),
                &sign_in_body(login),
            )
            .await;
        let body = reply.assert_error(status, code);
        match login {
            // Blocked until T0 + 90.5 s, clock at T0: 91 s.
            "err-blocked" => {
                assert_eq!(reply.header("retry-after"), Some("91"));
                assert_eq!(body["retry_after_secs"], 91);
            }
            "err-agent" => assert_eq!(body["agent_error"], "directory_unavailable"),
            // Temporary: the client may retry in a second.
            "err-lockout-store" => assert_eq!(reply.header("retry-after"), Some("1")),
            _ => assert!(reply.header("retry-after").is_none()),
        }
    }
    let reply = server
        .post_json(
            "/v1/tenants/contoso/sign-in",
            Some(KEY_A),
            &sign_in_body("err-agent-unknown"),
        )
        .await;
    assert_eq!(
        reply.assert_error(502, "agent_error")["agent_error"],
        "unknown_77"
    );
}

#[tokio::test]
async fn sign_in_needs_a_front_end_key() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let path = "/v1/tenants/contoso/sign-in";
    for bearer in [None, Some("wrong-key-0123456789"), Some(ADMIN)] {
        let reply = server.post_json(path, bearer, &sign_in_body("alice")).await;
        reply.assert_error(401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    // A front-end key does not open the admin endpoints.
    let reply = server.get("/v1/tenants", Some(KEY_A)).await;
    reply.assert_error(401, "unauthorized");
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert!(fake.calls.lock().unwrap().sign_ins.is_empty());
    // The 401 comes before the tenant is looked up: an unknown tenant is not revealed.
    let reply = server
        .post_json("/v1/tenants/nope/sign-in", None, &sign_in_body("alice"))
        .await;
    reply.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn sign_in_rejects_bad_requests() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let path = "/v1/tenants/contoso/sign-in";
    let auth = format!("Bearer {KEY_A}");
    let json_headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for body in [
        "not json",
        "{\"login\": \"a\"}",
        "{\"login\": \"a\", \"password\": 5, \"client_ip\": \"1.2.3.4\"}",
        "[]",
        "",
    ] {
        let reply = server
            .send("POST", path, &json_headers, body.to_owned())
            .await;
        reply.assert_error(400, "invalid_request");
    }
    for body in [
        json!({"login": "a", "password": "p", "client_ip": "999.1.1.1"}),
        json!({"login": "a", "password": "p", "client_ip": "1.2.3.4", "location": ""}),
        json!({"login": "a", "password": "p", "client_ip": "1.2.3.4", "location": "x".repeat(300)}),
    ] {
        server
            .post_json(path, Some(KEY_A), &body)
            .await
            .assert_error(400, "invalid_request");
    }
    // Unknown tenant.
    server
        .post_json("/v1/tenants/nope/sign-in", Some(KEY_A), &sign_in_body("a"))
        .await
        .assert_error(404, "unknown_tenant");
    // Over the body limit.
    let big = json!({"login": "a", "password": "x".repeat(70 * 1024), "client_ip": "1.2.3.4"});
    server
        .post_json(path, Some(KEY_A), &big)
        .await
        .assert_error(413, "request_too_large");
    // Not JSON by content type.
    let reply = server
        .send(
            "POST",
            path,
            &[
                ("authorization", auth.as_str()),
                ("content-type", "text/plain"),
            ],
            serde_json::to_vec(&sign_in_body("a")).unwrap(),
        )
        .await;
    reply.assert_error(415, "invalid_request");
    assert!(fake.calls.lock().unwrap().sign_ins.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn secrets_are_never_echoed_nor_logged() {
    let (logs, _guard) = support::capture_logs();
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let registration = registration_server(&fake, RateLimit::new(600, 100)).await;
    let secret = "Zq9-SECRET-PASSWORD-xq";
    let auth = format!("Bearer {KEY_A}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let path = "/v1/tenants/contoso/sign-in";
    let bodies = [
        // Wrong type after the password, a syntax error after it, a truncated body, the
        // password where a number belongs, a duplicated field.
        format!(r#"{{"login": "a", "password": "{secret}", "client_ip": 5}}"#),
        format!(r#"{{"login": "a", "password": "{secret}", "client_ip": "1.2.3.4" x}}"#),
        format!(r#"{{"login": "a", "password": "{secret}"#),
        format!(r#"{{"login": "a", "password": "x", "client_ip": "{secret}"}}"#),
        format!(r#"{{"login": "{secret}", "password": ["{secret}"], "client_ip": "1.2.3.4"}}"#),
    ];
    for body in &bodies {
        let reply = server.send("POST", path, &headers, body.clone()).await;
        reply.assert_error(400, "invalid_request");
        assert!(!reply.text().contains("SECRET"), "{}", reply.text());
    }
    // Accepted and refused sign-ins with the secret as password.
    for login in ["alice", "err-internal", "err-agent"] {
        let body = json!({"login": login, "password": secret, "client_ip": "1.2.3.4"});
        let reply = server.post_json(path, Some(KEY_A), &body).await;
        assert!(!reply.text().contains("SECRET"), "{}", reply.text());
    }
    // Registration: the token is a secret too.
    for token in ["backend", "unknown", "ok"] {
        let body = json!({"token": format!("{token}"), "csr": "x", "software_version": secret});
        let _ = registration
            .post_json("/v1/agents/register", None, &body)
            .await;
    }
    let body = format!(r#"{{"token": "{secret}", "csr": 7, "software_version": "1"}}"#);
    let reply = registration
        .send("POST", "/v1/agents/register", &[], body)
        .await;
    reply.assert_error(400, "malformed_request");
    assert!(!reply.text().contains("SECRET"));
    // Wrong bearer secrets are not logged either.
    let wrong = format!("Bearer {secret}");
    let _ = server
        .send(
            "GET",
            "/v1/tenants",
            &[("authorization", wrong.as_str())],
            Vec::new(),
        )
        .await;
    let _ = server.get("/v1/tenants", Some(ADMIN)).await;
    server.stop().await;
    registration.stop().await;
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("pta_service_http"),
        // Which lines arrive can vary when tests on other threads race tracing's callsite
        // registration; that some do shows the server's tasks log into the capture.
        "the capture works: {logs}"
    );
    for needle in ["SECRET", KEY_A, ADMIN, "correct horse"] {
        assert!(!logs.contains(needle), "{needle} in logs: {logs}");
    }
}

// ----- registration -----

#[tokio::test]
async fn registration_happy_path() {
    let fake = FakeApi::new();
    let server = registration_server(&fake, RateLimit::default()).await;
    let body = json!({"token": "good", "csr": "-----BEGIN CERTIFICATE REQUEST-----", "software_version": "1.0.0"});
    let reply = server.post_json("/v1/agents/register", None, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let v = reply.json();
    assert_eq!(v["agent_id"], fake.agent.to_string());
    assert_eq!(v["tenant"], tenant_id(1).to_string());
    assert_eq!(
        v["agent_endpoints"],
        json!(["agents.example:8443", "127.0.0.1:8443"])
    );
    let chain = pta_cert::certificates_from_pem(v["certificate_chain"].as_str().unwrap()).unwrap();
    let tls = support::tls();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].as_ref(), tls.leaf_der.as_slice());
    assert_eq!(chain[1].as_ref(), tls.ca_der.as_slice());
    let ca = pta_cert::certificates_from_pem(v["service_ca"].as_str().unwrap()).unwrap();
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0].as_ref(), tls.ca_der.as_slice());
    let calls = fake.calls.lock().unwrap();
    let (token, csr, source, version) = &calls.registrations[0];
    assert_eq!(token, "good");
    assert_eq!(csr, "-----BEGIN CERTIFICATE REQUEST-----");
    assert_eq!(*source, IpAddr::from([127, 0, 0, 1]));
    assert_eq!(version, "1.0.0");
}

#[tokio::test]
async fn registration_refusals_follow_the_protocol_table() {
    let fake = FakeApi::new();
    let server = registration_server(&fake, RateLimit::new(600, 100)).await;
    for (token, status, code) in [
        ("bad-version", 400, "invalid_software_version"),
        ("malformed", 400, "malformed_token"),
        ("bad-csr", 400, "malformed_csr"),
        ("bad-signature", 400, "csr_signature_invalid"),
        ("bad-algorithm", 400, "weak_key"),
        ("weak", 400, "weak_key"),
        ("unknown", 403, "unknown_token"),
        ("expired", 403, "token_expired"),
        ("used", 403, "token_used"),
        ("limit", 409, "agent_limit_reached"),
        ("backend", 503, "unavailable"),
        ("tenant-gone", 503, "unavailable"),
    ] {
        let body = json!({"token": token, "csr": "c", "software_version": "1"});
        let reply = server.post_json("/v1/agents/register", None, &body).await;
        let v = reply.assert_error(status, code);
        assert!(!v["message"].as_str().unwrap().contains("disk"), "{v}");
    }
    let calls = fake.calls.lock().unwrap().registrations.len();
    // Malformed requests never reach the service.
    for body in [
        "nope".to_owned(),
        r#"{"token": "t", "csr": "c"}"#.to_owned(),
        r#"{"token": 1, "csr": "c", "software_version": "1"}"#.to_owned(),
        format!(
            r#"{{"token": "t", "csr": "{}", "software_version": "1"}}"#,
            "A".repeat(65 * 1024)
        ),
    ] {
        let reply = server
            .send(
                "POST",
                "/v1/agents/register",
                &[("content-type", "application/json")],
                body,
            )
            .await;
        reply.assert_error(400, "malformed_request");
    }
    let reply = server
        .send(
            "POST",
            "/v1/agents/register",
            &[("content-type", "application/x-www-form-urlencoded")],
            r#"{"token": "t", "csr": "c", "software_version": "1"}"#,
        )
        .await;
    reply.assert_error(400, "malformed_request");
    assert_eq!(fake.calls.lock().unwrap().registrations.len(), calls);
    // Just under the limit is read (and refused by the fake for its token).
    let body = format!(
        r#"{{"token": "unknown", "csr": "{}", "software_version": "1"}}"#,
        "A".repeat(63 * 1024)
    );
    let reply = server.send("POST", "/v1/agents/register", &[], body).await;
    reply.assert_error(403, "unknown_token");
}

#[tokio::test]
async fn registration_is_rate_limited_per_source() {
    let fake = FakeApi::new();
    let server = registration_server(&fake, RateLimit::new(1, 2)).await;
    let body = json!({"token": "unknown", "csr": "c", "software_version": "1"});
    for _ in 0..2 {
        server
            .post_json("/v1/agents/register", None, &body)
            .await
            .assert_error(403, "unknown_token");
    }
    let reply = server.post_json("/v1/agents/register", None, &body).await;
    let v = reply.assert_error(429, "rate_limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(v["retry_after_secs"], retry);
    assert_eq!(fake.calls.lock().unwrap().registrations.len(), 2);
    // Other paths and methods on the registration listener.
    server
        .get("/v1/agents/register", None)
        .await
        .assert_error(405, "method_not_allowed");
    server
        .get("/v1/tenants", Some(ADMIN))
        .await
        .assert_error(404, "not_found");
}

// ----- admin -----

#[tokio::test]
async fn tenants_create_and_list() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let reply = server
        .post_json("/v1/tenants", Some(ADMIN), &json!({"name": "northwind"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["name"], "northwind");
    assert_eq!(v["agent_limit"], 12, "the configured default is applied");
    assert_eq!(v["created_at_ms"], T0);
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.calls.lock().unwrap().agent_limits,
        [(id.parse().unwrap(), 12)]
    );
    server
        .post_json("/v1/tenants", Some(ADMIN), &json!({"name": "northwind"}))
        .await
        .assert_error(409, "tenant_exists");
    for name in [
        "",
        "  ",
        "a\u{7}b",
        &"n".repeat(129),
        &tenant_id(9).to_string(),
    ] {
        server
            .post_json("/v1/tenants", Some(ADMIN), &json!({"name": name}))
            .await
            .assert_error(400, "invalid_request");
    }
    let v = server.get("/v1/tenants", Some(ADMIN)).await.json();
    let names: Vec<_> = v["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["contoso", "fabrikam", "northwind"]);
    server
        .get("/v1/tenants", None)
        .await
        .assert_error(401, "unauthorized");
    server
        .post_json("/v1/tenants", Some(KEY_A), &json!({"name": "x"}))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn tokens_are_created_with_lifetimes() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let reply = server
        .post_json(
            "/v1/tenants/contoso/tokens",
            Some(ADMIN),
            &json!({"lifetime_secs": 120}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let v = reply.json();
    assert!(v["token"].as_str().unwrap().starts_with("pta1."));
    assert_eq!(v["expires_at_ms"], T0 + 120_000);
    assert_eq!(v["tenant"], tenant_id(1).to_string());
    // Without a body or without the field: the configured default (900 s).
    let path = format!("/v1/tenants/{}/tokens", tenant_id(2));
    let auth = format!("Bearer {ADMIN}");
    let reply = server
        .send("POST", &path, &[("authorization", auth.as_str())], "")
        .await;
    assert_eq!(reply.json()["expires_at_ms"], T0 + 900_000);
    server.post_json(&path, Some(ADMIN), &json!({})).await;
    assert_eq!(
        fake.calls.lock().unwrap().token_lifetimes,
        [Some(120_000), Some(900_000), Some(900_000)]
    );
    for body in [
        json!({"lifetime_secs": 0}),
        json!({"lifetime_secs": 8 * 24 * 3600}),
        json!({"lifetime_secs": -1}),
        json!({"lifetime_secs": "1h"}),
        json!({"lifetme_secs": 60}),
    ] {
        server
            .post_json(&path, Some(ADMIN), &body)
            .await
            .assert_error(400, "invalid_request");
    }
    server
        .post_json("/v1/tenants/nope/tokens", Some(ADMIN), &json!({}))
        .await
        .assert_error(404, "unknown_tenant");
    server
        .post_json(&path, None, &json!({}))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn agents_list_and_revoke() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let v = server
        .get("/v1/tenants/contoso/agents", Some(ADMIN))
        .await
        .json();
    assert_eq!(v["tenant"], tenant_id(1).to_string());
    let agent = &v["agents"][0];
    assert_eq!(agent["agent_id"], fake.agent.to_string());
    assert_eq!(agent["status"], "active");
    assert_eq!(agent["software_version"], "1.2.3");
    assert_eq!(agent["certificate_serial"], "01ab");
    assert_eq!(agent["last_source"], "192.0.2.7");
    assert_eq!(agent["connections"], 2);
    assert_eq!(agent["first_seen_ms"], T0);
    let path = format!("/v1/agents/{}/revoke", fake.agent);
    let v = server
        .post_json(&path, Some(ADMIN), &json!({}))
        .await
        .json();
    assert_eq!(
        v,
        json!({"agent_id": fake.agent.to_string(), "revoked": true, "already_revoked": false})
    );
    let v = server
        .post_json(&path, Some(ADMIN), &json!({}))
        .await
        .json();
    assert_eq!(v["already_revoked"], true);
    let other = format!(
        "/v1/agents/{}/revoke",
        pta_service::AgentId::from_bytes([1; 16])
    );
    server
        .post_json(&other, Some(ADMIN), &json!({}))
        .await
        .assert_error(404, "unknown_agent");
    server
        .post_json("/v1/agents/not-an-id/revoke", Some(ADMIN), &json!({}))
        .await
        .assert_error(400, "invalid_request");
    server
        .post_json(&path, Some(KEY_A), &json!({}))
        .await
        .assert_error(401, "unauthorized");
    server
        .get("/v1/tenants/nope/agents", Some(ADMIN))
        .await
        .assert_error(404, "unknown_tenant");
    assert_eq!(fake.calls.lock().unwrap().revoked.len(), 2);
}

#[tokio::test]
async fn lockout_endpoints() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let v = server
        .get(
            "/v1/tenants/contoso/lockout/users/alice%40contoso.com",
            Some(ADMIN),
        )
        .await
        .json();
    assert_eq!(v["login"], "alice@contoso.com");
    assert_eq!(
        v["unfamiliar"],
        json!({"failures": 3, "level": 1, "locked_until_ms": T0 + 60_000})
    );
    assert_eq!(v["familiar"]["locked_until_ms"], serde_json::Value::Null);
    assert_eq!(v["remembered_bad_passwords"], 2);
    let v = server
        .post_json(
            "/v1/tenants/contoso/lockout/users/locked-user/unlock",
            Some(ADMIN),
            &json!({}),
        )
        .await
        .json();
    assert_eq!(v, json!({"login": "locked-user", "unlocked": true}));
    let v = server
        .post_json(
            "/v1/tenants/fabrikam/lockout/users/bob/unlock",
            Some(ADMIN),
            &json!({}),
        )
        .await
        .json();
    assert_eq!(v["unlocked"], false);
    let v = server
        .post_json(
            "/v1/lockout/sources/2001:db8::1/unblock",
            Some(ADMIN),
            &json!({}),
        )
        .await
        .json();
    assert_eq!(v, json!({"source": "2001:db8::1", "unblocked": true}));
    server
        .post_json(
            "/v1/lockout/sources/not-ip/unblock",
            Some(ADMIN),
            &json!({}),
        )
        .await
        .assert_error(400, "invalid_request");
    server
        .get("/v1/tenants/contoso/lockout/users/alice", None)
        .await
        .assert_error(401, "unauthorized");
    let calls = fake.calls.lock().unwrap();
    assert_eq!(
        calls.unlocked,
        [
            (tenant_id(1), "locked-user".to_owned()),
            (tenant_id(2), "bob".to_owned())
        ]
    );
    assert_eq!(calls.unblocked, ["2001:db8::1".parse::<IpAddr>().unwrap()]);
}

#[tokio::test]
async fn audit_query_parameters() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let v = server
        .get(
            "/v1/tenants/contoso/audit?from=10&until=20&limit=5",
            Some(ADMIN),
        )
        .await
        .json();
    let event = &v["events"][0];
    assert_eq!(event["kind"], "sign_in");
    assert_eq!(event["outcome"], "verdict:success");
    assert_eq!(event["login"], "alice@contoso.com");
    assert_eq!(event["latency_ms"], 12);
    assert_eq!(event["source"], "198.51.100.4");
    assert_eq!(event["time_ms"], T0);
    server.get("/v1/tenants/contoso/audit", Some(ADMIN)).await;
    {
        let calls = fake.calls.lock().unwrap();
        let q = calls.audit_queries[0];
        assert_eq!(
            (q.tenant, q.from, q.until, q.limit),
            (tenant_id(1), 10, 20, 5)
        );
        let q = calls.audit_queries[1];
        assert_eq!((q.from, q.until, q.limit), (0, i64::MAX as u64, 100));
    }
    for query in [
        "from=x",
        "limit=0",
        "limit=1001",
        "from=5&until=4",
        "color=red",
        "from=-1",
    ] {
        server
            .get(&format!("/v1/tenants/contoso/audit?{query}"), Some(ADMIN))
            .await
            .assert_error(400, "invalid_request");
    }
    assert_eq!(fake.calls.lock().unwrap().audit_queries.len(), 2);
}

// ----- unauthenticated endpoints, routing, failures -----

#[tokio::test]
async fn crl_metrics_and_health() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let reply = server.get("/v1/tenants/fabrikam/crl", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/pkix-crl"));
    assert_eq!(reply.body, [0x30, 0x03, 0x02, 0x01, 2]);
    server
        .get("/v1/tenants/nope/crl", None)
        .await
        .assert_error(404, "unknown_tenant");
    let reply = server.get("/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(reply.text().contains("pta_sign_ins_total 3"));
    let reply = server.get("/healthz", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        json!({"status": "ok", "tenants": 2, "agents": 5, "agents_connected": 4})
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_json() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    server.get("/", None).await.assert_error(404, "not_found");
    server
        .get("/v1/tenants/contoso/nothing", Some(ADMIN))
        .await
        .assert_error(404, "not_found");
    server
        .get("/v1/tenants/contoso/sign-in", Some(KEY_A))
        .await
        .assert_error(405, "method_not_allowed");
    let reply = server.send("DELETE", "/v1/tenants", &[], "").await;
    reply.assert_error(405, "method_not_allowed");
    server
        .post_json("/healthz", None, &json!({}))
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn service_failures_hide_their_cause() {
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    *fake.fail_tenants.lock().unwrap() = Some(|| {
        ServiceError::Store(StoreError::Backend(Box::new(std::io::Error::other(
            "disk on fire",
        ))))
    });
    let reply = server.get("/v1/tenants", Some(ADMIN)).await;
    let v = reply.assert_error(503, "unavailable");
    assert!(!reply.text().contains("disk"), "{v}");
    server
        .get("/healthz", None)
        .await
        .assert_error(503, "unavailable");
    *fake.fail_tenants.lock().unwrap() =
        Some(|| ServiceError::Store(StoreError::Corrupt { what: "tenant row" }));
    let reply = server.get("/v1/tenants/contoso/agents", Some(ADMIN)).await;
    reply.assert_error(500, "internal");
    assert!(!reply.text().contains("tenant row"));
}

#[tokio::test]
async fn plain_http_mode_and_shutdown() {
    let fake = FakeApi::new();
    let server = Running::start(api_router(Arc::clone(&fake) as _, options()), false).await;
    let reply = server.get("/healthz", None).await;
    assert_eq!(reply.status, 200);
    let addr = server.addr;
    server.stop().await;
    // Stopped: nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_body_that_stalls_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let registration = registration_server(&fake, RateLimit::default()).await;
    for (addr, path, auth) in [
        (
            server.addr,
            "/v1/tenants/contoso/sign-in",
            format!("authorization: Bearer {KEY_A}\r\n"),
        ),
        (registration.addr, "/v1/agents/register", String::new()),
    ] {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&support::tls().client));
        let mut tls = connector
            .connect(rustls::pki_types::ServerName::from(addr.ip()), tcp)
            .await
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\n\
             content-length: 100\r\n\r\n{{\"login\""
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 4096];
            loop {
                let n = tls.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                    break;
                }
            }
        })
        .await;
        assert!(read.is_ok(), "answered in time");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("request_timeout"), "{text}");
    }
    assert!(fake.calls.lock().unwrap().sign_ins.is_empty());
}

/// Throughput of the HTTP layer alone (the fake answers at once): sign-ins over one
/// keep-alive HTTPS connection, and new TLS connections per request. Prints figures; run with
/// `cargo test --release -p pta-service --lib -- --ignored measure_ --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, run by hand in release mode"]
async fn measure_https_sign_in_rate() {
    use axum::body::Bytes;
    use http_body_util::{BodyExt, Full};
    let fake = FakeApi::new();
    let server = api_server(&fake).await;
    let body = Bytes::from(serde_json::to_vec(&sign_in_body("alice")).unwrap());
    let auth = format!("Bearer {KEY_A}");

    // Keep-alive: one connection, sequential requests.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::clone(&support::tls().client))
        .connect(rustls::pki_types::ServerName::from(server.addr.ip()), tcp)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let n = 5_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let request = hyper::Request::post("/v1/tenants/contoso/sign-in")
            .header("host", "x")
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }
    let keep_alive = start.elapsed();

    // A new TLS connection per request.
    let m = 300;
    let start = std::time::Instant::now();
    for _ in 0..m {
        let reply = server
            .post_json(
                "/v1/tenants/contoso/sign-in",
                Some(KEY_A),
                &sign_in_body("alice"),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    let fresh = start.elapsed();
    println!(
        "keep-alive: {n} sign-ins in {keep_alive:?} = {:.0}/s ({:.1} us each); \
         new TLS 1.3 connection per request: {m} in {fresh:?} = {:.0}/s ({:.2} ms each)",
        f64::from(n) / keep_alive.as_secs_f64(),
        keep_alive.as_secs_f64() * 1e6 / f64::from(n),
        f64::from(m) / fresh.as_secs_f64(),
        fresh.as_secs_f64() * 1e3 / f64::from(m),
    );
}
