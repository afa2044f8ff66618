//! The audit log: range queries, order, retention by age and by count.

use crate::{
    AgentId, AuditError, AuditEvent, AuditKind, AuditOutcome, AuditQuery, AuditRetention, Store,
    TenantId,
};
use pta_wire::Verdict;

use super::{DAY, T0, ip};

fn sign_in(tenant: TenantId, time: u64, login: &str) -> AuditEvent {
    AuditEvent::new(
        time,
        AuditKind::SignIn,
        AuditOutcome::Verdict(Verdict::InvalidCredentials),
    )
    .with_tenant(tenant)
    .with_login(login)
    .with_agent(AgentId::from_bytes([7; 16]))
    .with_latency_ms(42)
    .with_source(ip("198.51.100.7"))
}

/// The audit log: append in order, range queries per tenant, retention by age and by count.
pub async fn log(store: &dyn Store) {
    let t = TenantId::random().unwrap();
    let u = TenantId::random().unwrap();
    // Ten events for `t` at T0 + 0, 10, ..., 90; two more at the same instant; one for `u`;
    // one with no tenant.
    let mut events: Vec<AuditEvent> = (0..10)
        .map(|i| sign_in(t, T0 + i * 10, &format!("user{i}")))
        .collect();
    events.push(sign_in(t, T0 + 50, "same-ms-second"));
    events.push(
        AuditEvent::new(
            T0 + 50,
            AuditKind::Registration,
            AuditOutcome::Error(AuditError::TokenReused),
        )
        .with_tenant(t),
    );
    events.push(sign_in(u, T0 + 50, "other-tenant"));
    events.push(AuditEvent::new(
        T0 + 50,
        AuditKind::Registration,
        AuditOutcome::Error(AuditError::TokenUnknown),
    ));
    store.append_audit(&events[..5]).await.unwrap();
    store.append_audit(&events[5..]).await.unwrap();
    store.append_audit(&[]).await.unwrap();

    // [T0 + 20, T0 + 60): 20, 30, 40, 50, 50 (appended later), 50 (registration).
    let q = AuditQuery::new(t, T0 + 20, T0 + 60, 100);
    let got = store.audit_events(&q).await.unwrap();
    let logins: Vec<Option<&str>> = got.iter().map(|e| e.login.as_deref()).collect();
    assert_eq!(
        logins,
        [
            Some("user2"),
            Some("user3"),
            Some("user4"),
            Some("user5"),
            Some("same-ms-second"),
            None
        ]
    );
    assert_eq!(got[0], events[2], "every field survives the round trip");
    assert_eq!(got[5].outcome, AuditOutcome::Error(AuditError::TokenReused));
    // Limit keeps the oldest.
    let q = AuditQuery::new(t, T0, u64::MAX, 3);
    let got = store.audit_events(&q).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].login.as_deref(), Some("user2"));
    // Empty and inverted ranges.
    assert!(
        store
            .audit_events(&AuditQuery::new(t, T0 + 91, u64::MAX, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .audit_events(&AuditQuery::new(t, T0 + 50, T0 + 50, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .audit_events(&AuditQuery::new(t, T0 + 60, T0 + 20, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .audit_events(&AuditQuery::new(u, 0, u64::MAX, 10))
            .await
            .unwrap()
            .len(),
        1
    );

    // Retention by age: everything before T0 + 30 goes (t: 0, 10, 20).
    let retention = AuditRetention::default();
    let now = T0 + 30 + retention.max_age_ms;
    assert_eq!(retention.horizon(now), T0 + 30);
    assert_eq!(
        store
            .prune_audit(retention.horizon(now), retention.max_rows)
            .await
            .unwrap(),
        3
    );
    let left = store
        .audit_events(&AuditQuery::new(t, 0, u64::MAX, 100))
        .await
        .unwrap();
    assert_eq!(left.len(), 9);
    assert_eq!(left[0].time, T0 + 30);

    // Retention by count: 11 rows left in all (9 for t, 1 for u, 1 without tenant); keep the
    // 4 newest, t's 60, 70, 80, 90.
    assert_eq!(store.prune_audit(0, 4).await.unwrap(), 7);
    let left = store
        .audit_events(&AuditQuery::new(t, 0, u64::MAX, 100))
        .await
        .unwrap();
    let times: Vec<u64> = left.iter().map(|e| e.time - T0).collect();
    assert_eq!(times, [60, 70, 80, 90]);
    assert!(
        store
            .audit_events(&AuditQuery::new(u, 0, u64::MAX, 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.prune_audit(0, 4).await.unwrap(), 0);
    assert_eq!(store.prune_audit(T0 + 10 * DAY, 100).await.unwrap(), 4);
}
