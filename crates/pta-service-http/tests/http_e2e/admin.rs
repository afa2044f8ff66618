//! Admin endpoints, the CRL, `/healthz` and `/metrics` against the real service.

use pta_service::AgentStatus;
use pta_service_http::RateLimit;

use crate::registration::openssl_text;
use crate::support::{FRONT_END, Harness, csr_pem, fresh_csr_der, send};

#[tokio::test]
async fn admin_tenants_tokens_agents_revocation_and_crl() {
    let h = Harness::start(RateLimit::default()).await;
    let tenant = h.create_tenant("contoso").await;
    h.admin_post("/v1/tenants", serde_json::json!({"name": "contoso"}))
        .await
        .assert_error(409, "tenant_exists");
    let v = h.admin_get("/v1/tenants").await.json();
    assert_eq!(v["tenants"][0]["id"], tenant);
    assert_eq!(v["tenants"][0]["name"], "contoso");

    // A token by tenant id, with its expiry as stored.
    let reply = h
        .admin_post(
            &format!("/v1/tenants/{tenant}/tokens"),
            serde_json::json!({"lifetime_secs": 600}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let v = reply.json();
    let token = v["token"].as_str().unwrap().to_owned();
    let tokens = h.store.tokens(&tenant.parse().unwrap()).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(v["expires_at_ms"], tokens[0].expires_at);
    assert_eq!(tokens[0].expires_at - tokens[0].created_at, 600_000);
    h.admin_post("/v1/tenants/nope/tokens", serde_json::json!({}))
        .await
        .assert_error(404, "unknown_tenant");

    // Register an agent, list it, revoke it, see it on the CRL.
    let reply = h
        .register(&token, &csr_pem(&fresh_csr_der()), "2.0.0")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let agent = reply.json()["agent_id"].as_str().unwrap().to_owned();
    let v = h.admin_get("/v1/tenants/contoso/agents").await.json();
    assert_eq!(v["agents"][0]["agent_id"], agent);
    assert_eq!(v["agents"][0]["status"], "active");
    assert_eq!(v["agents"][0]["software_version"], "2.0.0");
    let serial = v["agents"][0]["certificate_serial"]
        .as_str()
        .unwrap()
        .to_owned();

    let before = h.get("/v1/tenants/contoso/crl").await;
    assert_eq!(before.status, 200);
    assert_eq!(before.header("content-type"), Some("application/pkix-crl"));
    let text = openssl_text("crl", &before.body);
    assert!(text.contains("Certificate Revocation List"), "{text}");
    assert!(!normalized(&text).contains(&trimmed(&serial)), "{text}");

    let v = h
        .admin_post(&format!("/v1/agents/{agent}/revoke"), serde_json::json!({}))
        .await
        .json();
    assert_eq!(v["revoked"], true);
    assert_eq!(v["already_revoked"], false);
    let v = h
        .admin_post(&format!("/v1/agents/{agent}/revoke"), serde_json::json!({}))
        .await
        .json();
    assert_eq!(v["already_revoked"], true);
    let record = h
        .store
        .agent(&agent.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.status, AgentStatus::Revoked);
    let v = h
        .admin_get(&format!("/v1/tenants/{tenant}/agents"))
        .await
        .json();
    assert_eq!(v["agents"][0]["status"], "revoked");
    h.admin_post(
        "/v1/agents/01010101-0101-4101-8101-010101010101/revoke",
        serde_json::json!({}),
    )
    .await
    .assert_error(404, "unknown_agent");

    let after = h.get(&format!("/v1/tenants/{tenant}/crl")).await;
    let text = openssl_text("crl", &after.body);
    assert!(
        normalized(&text).contains(&trimmed(&serial)),
        "serial {serial} on the CRL: {text}"
    );
    h.get("/v1/tenants/nope/crl")
        .await
        .assert_error(404, "unknown_tenant");

    // The audit log has the token, the registration and the revocation.
    let v = h
        .admin_get(&format!("/v1/tenants/{tenant}/audit?limit=50"))
        .await
        .json();
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["token_created", "registration", "revocation"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // The token appears nowhere in the audit answer.
    assert!(
        !h.admin_get(&format!("/v1/tenants/{tenant}/audit"))
            .await
            .text()
            .contains(&token[5..20])
    );
}

/// openssl's text, lowercase, without the colons of its hex dumps.
fn normalized(text: &str) -> String {
    text.to_lowercase().replace(':', "")
}

/// A hex serial as openssl prints it: lowercase here, without leading zero bytes.
fn trimmed(serial: &str) -> String {
    serial.to_lowercase().trim_start_matches("00").to_owned()
}

#[tokio::test]
async fn healthz_metrics_and_lockout() {
    let h = Harness::start(RateLimit::default()).await;
    h.create_tenant("contoso").await;
    let reply = h.get("/healthz").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let v = reply.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["tenants"], 1);
    assert_eq!(v["agents"], 0);
    assert_eq!(v["agents_connected"], 0);
    let reply = h.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let v = h.admin_get("/v1/tenants/contoso/lockout/users/alice").await;
    assert_eq!(v.status, 200, "{}", v.text());
    assert_eq!(v.json()["unfamiliar"]["failures"], 0);
    let v = h
        .admin_post(
            "/v1/tenants/contoso/lockout/users/alice/unlock",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(v.json()["unlocked"], false);
    let v = h
        .admin_post(
            "/v1/lockout/sources/192.0.2.1/unblock",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(v.json()["unblocked"], false);
}

#[tokio::test]
async fn sign_in_without_an_agent_is_503() {
    let h = Harness::start(RateLimit::default()).await;
    h.create_tenant("contoso").await;
    let auth = format!("Bearer {FRONT_END}");
    let body = serde_json::json!({"login": "alice@contoso.com", "password": "pw", "client_ip": "198.51.100.4"});
    let reply = send(
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
    .await;
    reply.assert_error(503, "no_agent_available");
}
