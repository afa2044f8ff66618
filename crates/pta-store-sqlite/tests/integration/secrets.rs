//! No token and no password reaches the database file.

use base64ct::{Base64UrlUnpadded, Encoding};
use pta_store::Verdict;
use pta_store::{
    AgentSeen, AuditEvent, AuditKind, AuditOutcome, CaFingerprint, DEFAULT_TOKEN_LIFETIME_MS,
    JoinToken, RegistrationToken, Store, TokenRecord,
};

use crate::support::{SqliteFixture, T0, agent, contains, dir_bytes, ip, tenant};

/// A full scenario: tenant, token, registration, heartbeat, a sign-in with a password, audit.
/// Then the files are searched for the token (bytes, base64, printed form) and the password.
#[tokio::test]
async fn no_token_or_password_in_the_file() {
    // Built at run time, so the test binary's constant does not matter and the string is
    // held by this test only.
    let password = format!("Tr0ub4dor&3-{}", "correct-horse");
    let f = SqliteFixture::new();
    let store: &dyn Store = &f.store;

    let t = tenant(store, "contoso.com", T0).await;
    let token = RegistrationToken::generate().unwrap();
    let printed =
        JoinToken::new(token.clone(), CaFingerprint::of_certificate(b"service CA")).to_printed();
    let b64 = Base64UrlUnpadded::encode_string(token.expose());
    let record = TokenRecord::new(&token, t.id, T0, DEFAULT_TOKEN_LIFETIME_MS);
    store.insert_token(&record).await.unwrap();

    // The agent presents the printed token.
    let presented = JoinToken::parse(&printed).unwrap();
    store
        .consume_token(&presented.token().hash(), T0 + 10)
        .await
        .unwrap();
    let a = agent(t.id, 1, T0 + 20);
    store.insert_agent(&a).await.unwrap();
    store
        .record_seen(&a.id, &AgentSeen::new(T0 + 30, ip("192.0.2.5"), "1.0.0"))
        .await
        .unwrap();

    // A sign-in: the password goes to the (future) pipeline, never to the store; what is
    // audited is the login and the verdict.
    let ev = AuditEvent::new(
        T0 + 40,
        AuditKind::SignIn,
        AuditOutcome::Verdict(Verdict::Success),
    )
    .with_tenant(t.id)
    .with_login("alice@contoso.com")
    .with_agent(a.id)
    .with_latency_ms(18)
    .with_source(ip("198.51.100.1"));
    store.append_audit(&[ev]).await.unwrap();

    let check = |bytes: &[u8], when: &str| {
        // The search works: what should be there is found.
        assert!(
            contains(bytes, token.hash().as_bytes()),
            "{when}: hash not found"
        );
        assert!(
            contains(bytes, b"alice@contoso.com"),
            "{when}: login not found"
        );
        // What must not be there is not.
        assert!(!contains(bytes, token.expose()), "{when}: raw token");
        assert!(!contains(bytes, b64.as_bytes()), "{when}: base64 token");
        assert!(
            !contains(bytes, printed.as_bytes()),
            "{when}: printed token"
        );
        assert!(!contains(bytes, password.as_bytes()), "{when}: password");
    };
    // While open (data in the WAL) and after closing (checkpointed into the database).
    check(&dir_bytes(f.dir.path()), "open");
    drop(f.store);
    check(&dir_bytes(f.dir.path()), "closed");
}
