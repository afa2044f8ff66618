//! Everything survives closing and reopening the SQLite file.

use pta_store::{
    AgentSeen, AgentStatus, AuditEvent, AuditKind, AuditOutcome, AuditQuery,
    DEFAULT_TOKEN_LIFETIME_MS, RegistrationToken, Revocation, RevocationReason, Store, TokenError,
    TokenRecord,
};

use pta_store_sqlite::SqliteStore;

use crate::support::{MIN, SqliteFixture, T0, agent, authority, ip, tenant};

#[tokio::test]
async fn state_survives_a_restart() {
    let f = SqliteFixture::new();
    let path = f.path();
    let store = f.store;

    let t = tenant(&store, "contoso.com", T0).await;
    let u = tenant(&store, "fabrikam.com", T0 + 1).await;
    store.set_agent_limit(&u.id, 7).await.unwrap();
    let mut a = agent(t.id, 1, T0);
    let b = agent(t.id, 2, T0 + 1);
    store.insert_agent(&a).await.unwrap();
    store.insert_agent(&b).await.unwrap();
    let seen = AgentSeen::new(T0 + MIN, ip("2001:db8::7"), "1.4.0");
    store.record_seen(&a.id, &seen).await.unwrap();
    (a.last_seen, a.last_source, a.software_version) =
        (seen.now, Some(seen.source), seen.software_version.clone());

    let used = RegistrationToken::generate().unwrap();
    let unused = RegistrationToken::generate().unwrap();
    for tok in [&used, &unused] {
        let rec = TokenRecord::new(tok, t.id, T0, DEFAULT_TOKEN_LIFETIME_MS);
        store.insert_token(&rec).await.unwrap();
    }
    store.consume_token(&used.hash(), T0 + 1).await.unwrap();

    let rev = Revocation::new(
        t.id,
        b.certificate_serial.clone(),
        Some(b.id),
        RevocationReason::KeyCompromise,
        T0 + 2,
    );
    store.add_revocation(&rev).await.unwrap();
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 1);
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 2);
    assert_eq!(store.next_crl_number(&u.id).await.unwrap(), 1);

    let ev = AuditEvent::new(T0 + 3, AuditKind::Revocation, AuditOutcome::Ok)
        .with_tenant(t.id)
        .with_agent(b.id);
    store.append_audit(std::slice::from_ref(&ev)).await.unwrap();

    let tenants_before = store.tenants().await.unwrap();
    let agents_before = store.agents(&t.id).await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.tenants().await.unwrap(), tenants_before);
    assert_eq!(tenants_before.len(), 2);
    assert_eq!(
        store
            .tenant_by_name("fabrikam.com")
            .await
            .unwrap()
            .unwrap()
            .agent_limit,
        7
    );
    let stored = store.authority(&t.id).await.unwrap().unwrap();
    let expected = authority("contoso.com");
    assert_eq!(stored.certificate, expected.certificate);
    assert_eq!(stored.key.expose(), expected.key.expose());
    assert_eq!(store.agents(&t.id).await.unwrap(), agents_before);
    assert_eq!(store.agent(&a.id).await.unwrap(), Some(a));
    assert_eq!(
        store.agent(&b.id).await.unwrap().unwrap().status,
        AgentStatus::Revoked
    );

    assert_eq!(
        store
            .consume_token(&used.hash(), T0 + 5)
            .await
            .err()
            .and_then(|e| e.token_error()),
        Some(TokenError::AlreadyUsed)
    );
    assert_eq!(
        store
            .consume_token(&unused.hash(), T0 + 5)
            .await
            .unwrap()
            .tenant,
        t.id
    );

    assert_eq!(store.revocations(&t.id).await.unwrap(), [rev]);
    assert!(
        store
            .is_revoked(&t.id, &b.certificate_serial)
            .await
            .unwrap()
    );
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 3);
    assert_eq!(store.next_crl_number(&u.id).await.unwrap(), 2);
    assert_eq!(
        store
            .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 10))
            .await
            .unwrap(),
        [ev]
    );
    drop(store);

    // And once more: the CRL number kept increasing through the second session too.
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 4);
}
