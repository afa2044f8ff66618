//! The agent registry: records, the agent limit, revocation, status over time, source
//! changes.

use std::collections::HashSet;
use std::sync::Arc;

use crate::{
    AgentId, AgentSeen, AgentStatus, AuditKind, AuditQuery, Revocation, RevocationReason,
    SourceChange, StatusPolicy, Store, StoreError, TenantId, Transition, check_agent_limit,
};

use super::{DAY, MIN, T0, agent, handle, ip, tenant};

/// Agent records: insert, read, heartbeat, renewal, status, revocation (also of another
/// tenant's serial), listing by first seen, purge; unknown ids and duplicates refused.
pub async fn registry(store: &dyn Store) {
    let t = tenant(store, "fabrikam.com", T0).await;
    let other = tenant(store, "other.example", T0).await;
    let a = agent(t.id, 1, T0);
    store.insert_agent(&a).await.unwrap();
    assert_eq!(store.agent(&a.id).await.unwrap().as_ref(), Some(&a));
    assert!(matches!(
        store.insert_agent(&a).await,
        Err(StoreError::AgentExists)
    ));
    assert!(matches!(
        store
            .insert_agent(&agent(TenantId::random().unwrap(), 9, T0))
            .await,
        Err(StoreError::UnknownTenant)
    ));

    // Heartbeat: last seen, source, version.
    let seen = AgentSeen::new(T0 + MIN, ip("192.0.2.10"), "1.2.3");
    store.record_seen(&a.id, &seen).await.unwrap();
    // Renewal: new serial and key.
    store
        .set_certificate(&a.id, &[0x02, 0x01], b"spki-renewed")
        .await
        .unwrap();
    let got = store.agent(&a.id).await.unwrap().unwrap();
    assert_eq!(got.last_seen, T0 + MIN);
    assert_eq!(got.first_seen, T0);
    assert_eq!(got.last_source, Some(ip("192.0.2.10")));
    assert_eq!(got.software_version, "1.2.3");
    assert_eq!(got.certificate_serial, [0x02, 0x01]);
    assert_eq!(got.public_key, b"spki-renewed");

    store
        .set_agent_status(&a.id, AgentStatus::Inactive)
        .await
        .unwrap();
    assert_eq!(
        store.agent(&a.id).await.unwrap().unwrap().status,
        AgentStatus::Inactive
    );

    let nobody = AgentId::random().unwrap();
    assert!(matches!(
        store.record_seen(&nobody, &seen).await,
        Err(StoreError::UnknownAgent)
    ));
    assert!(matches!(
        store.set_certificate(&nobody, &[1], b"k").await,
        Err(StoreError::UnknownAgent)
    ));
    assert!(matches!(
        store.set_agent_status(&nobody, AgentStatus::Active).await,
        Err(StoreError::UnknownAgent)
    ));

    // The limit: lower it to 3; the inactive agent counts.
    store.set_agent_limit(&t.id, 3).await.unwrap();
    assert_eq!(store.tenant(&t.id).await.unwrap().unwrap().agent_limit, 3);
    let b = agent(t.id, 2, T0 + 1);
    let c = agent(t.id, 3, T0 + 2);
    store.insert_agent(&b).await.unwrap();
    assert_eq!(check_agent_limit(store, &t.id).await.unwrap(), 2);
    store.insert_agent(&c).await.unwrap();
    assert_eq!(store.agent_count(&t.id).await.unwrap(), 3);
    assert!(matches!(
        check_agent_limit(store, &t.id).await,
        Err(StoreError::AgentLimitReached { limit: 3 })
    ));
    let d = agent(t.id, 4, T0 + 3);
    assert!(matches!(
        store.insert_agent(&d).await,
        Err(StoreError::AgentLimitReached { limit: 3 })
    ));
    // Other tenants are unaffected.
    store.insert_agent(&agent(other.id, 1, T0)).await.unwrap();
    assert!(matches!(
        check_agent_limit(store, &TenantId::random().unwrap()).await,
        Err(StoreError::UnknownTenant)
    ));

    // Revoking one frees a slot, marks the agent, and is idempotent.
    let rev = Revocation::new(
        t.id,
        b.certificate_serial.clone(),
        Some(b.id),
        RevocationReason::KeyCompromise,
        T0 + 5,
    );
    assert!(store.add_revocation(&rev).await.unwrap());
    assert!(!store.add_revocation(&rev).await.unwrap());
    assert_eq!(
        store.agent(&b.id).await.unwrap().unwrap().status,
        AgentStatus::Revoked
    );
    assert!(
        store
            .is_revoked(&t.id, &b.certificate_serial)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&other.id, &b.certificate_serial)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_revoked(&t.id, &c.certificate_serial)
            .await
            .unwrap()
    );
    assert_eq!(store.agent_count(&t.id).await.unwrap(), 2);
    store.insert_agent(&d).await.unwrap();

    // A revocation naming another tenant's agent does not touch that agent.
    let foreign = Revocation::new(
        other.id,
        vec![9],
        Some(a.id),
        RevocationReason::Unspecified,
        T0,
    );
    assert!(store.add_revocation(&foreign).await.unwrap());
    assert_ne!(
        store.agent(&a.id).await.unwrap().unwrap().status,
        AgentStatus::Revoked
    );

    // Listing: the tenant's agents only, by first seen.
    let ids: Vec<AgentId> = store
        .agents(&t.id)
        .await
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids, [a.id, b.id, c.id, d.id]);

    // Purge deletes the agent; its revocation stays.
    assert!(store.delete_agent(&b.id).await.unwrap());
    assert!(!store.delete_agent(&b.id).await.unwrap());
    assert_eq!(store.agent(&b.id).await.unwrap(), None);
    assert!(
        store
            .is_revoked(&t.id, &b.certificate_serial)
            .await
            .unwrap()
    );
    assert_eq!(store.revocations(&t.id).await.unwrap(), [rev]);
}

/// Concurrent registrations never exceed the limit: 24 racing inserts against a limit of 5.
/// `stores` are handles on one state (for a database: separate connections or pools, as
/// several nodes would hold); the inserts are spread over them.
pub async fn limit_race(stores: Vec<Arc<dyn Store>>) {
    let store = handle(&stores, 0);
    let t = tenant(store.as_ref(), "busy.example", T0).await;
    store.set_agent_limit(&t.id, 5).await.unwrap();
    let tasks: Vec<_> = (0..24u8)
        .map(|n| {
            let store = handle(&stores, usize::from(n));
            tokio::spawn(async move { store.insert_agent(&agent(t.id, n, T0)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::AgentLimitReached { limit: 5 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(store.agent_count(&t.id).await.unwrap(), 5);
}

/// What a listener's periodic sweep does: apply the policy to every agent at `now`.
async fn sweep(
    store: &dyn Store,
    tenant: &TenantId,
    policy: &StatusPolicy,
    now: u64,
    connected: &HashSet<AgentId>,
) {
    for a in store.agents(tenant).await.unwrap() {
        match policy.transition(now, a.status, a.last_seen, connected.contains(&a.id)) {
            Transition::Keep => {}
            Transition::Set(s) => store.set_agent_status(&a.id, s).await.unwrap(),
            Transition::Purge => {
                assert!(store.delete_agent(&a.id).await.unwrap());
            }
        }
    }
}

/// The status policy applied over stored agents as time passes: active, inactive, back,
/// purged; revoked agents stay revoked.
pub async fn status_over_time(store: &dyn Store) {
    let policy = StatusPolicy::default();
    let t = tenant(store, "clock.example", T0).await;
    let a = agent(t.id, 1, T0);
    let b = agent(t.id, 2, T0);
    store.insert_agent(&a).await.unwrap();
    store.insert_agent(&b).await.unwrap();
    let status = |id| async move { store.agent(&id).await.unwrap().map(|x| x.status) };

    // The injected clock; `b` stays connected, `a` goes away at T0.
    let mut now = T0;
    let connected: HashSet<AgentId> = [b.id].into();
    for step in [MIN, 8 * MIN] {
        now += step;
        sweep(store, &t.id, &policy, now, &connected).await;
        assert_eq!(
            status(a.id).await,
            Some(AgentStatus::Active),
            "at +{}",
            now - T0
        );
    }
    now = T0 + 10 * MIN;
    sweep(store, &t.id, &policy, now, &connected).await;
    assert_eq!(status(a.id).await, Some(AgentStatus::Inactive));
    assert_eq!(status(b.id).await, Some(AgentStatus::Active));

    // `a` reconnects from another address: active again, and the move is audited.
    now += MIN;
    let record = store.agent(&a.id).await.unwrap().unwrap();
    let first = SourceChange::detect(&record, ip("192.0.2.1"), &record.public_key, false);
    assert!(first.is_empty(), "first contact is not a change");
    store
        .record_seen(&a.id, &AgentSeen::new(now, ip("192.0.2.1"), "1.0"))
        .await
        .unwrap();
    let connected_a: HashSet<AgentId> = [a.id, b.id].into();
    sweep(store, &t.id, &policy, now, &connected_a).await;
    assert_eq!(status(a.id).await, Some(AgentStatus::Active));

    now += MIN;
    let record = store.agent(&a.id).await.unwrap().unwrap();
    let change = SourceChange::detect(&record, ip("203.0.113.50"), &record.public_key, false);
    assert!(change.new_source && !change.new_key);
    let rekey = SourceChange::detect(&record, ip("192.0.2.1"), b"other-key", false);
    assert!(rekey.new_key && !rekey.new_source);
    let renewal = SourceChange::detect(&record, ip("192.0.2.1"), b"other-key", true);
    assert!(renewal.is_empty());
    store
        .append_audit(&change.audit_events(now, &record, ip("203.0.113.50")))
        .await
        .unwrap();
    let audit = store
        .audit_events(&AuditQuery::new(t.id, T0, u64::MAX, 10))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].kind, AuditKind::AgentNewSource);
    assert_eq!(audit[0].agent, Some(a.id));
    assert_eq!(audit[0].source, Some(ip("203.0.113.50")));

    // `a` goes away for good: inactive after 10 minutes, still there just before 10 days,
    // purged at 10 days. `b`, connected all along, stays.
    let last_seen = T0 + 11 * MIN;
    let none = HashSet::from([b.id]);
    sweep(store, &t.id, &policy, last_seen + 10 * MIN, &none).await;
    assert_eq!(status(a.id).await, Some(AgentStatus::Inactive));
    sweep(store, &t.id, &policy, last_seen + 10 * DAY - 1, &none).await;
    assert_eq!(status(a.id).await, Some(AgentStatus::Inactive));
    sweep(store, &t.id, &policy, last_seen + 10 * DAY, &none).await;
    assert_eq!(status(a.id).await, None);
    assert_eq!(status(b.id).await, Some(AgentStatus::Active));
    assert_eq!(store.agent_count(&t.id).await.unwrap(), 1);
}
