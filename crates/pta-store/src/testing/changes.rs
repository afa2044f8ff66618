//! The change feed: what is appended, in which order, and the wake-up.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    Change, ChangeKind, Revocation, RevocationReason, Store, StoreError, Tenant, TenantId,
};

use super::{T0, agent, authority, handle, tenant};

/// How long a signal may take to arrive, and a race reader to see everything.
const WAIT: Duration = Duration::from_secs(2);

fn revocation(tenant: TenantId, serial: Vec<u8>, agent: Option<crate::AgentId>) -> Revocation {
    Revocation::new(tenant, serial, agent, RevocationReason::KeyCompromise, T0)
}

/// The feed: empty at first; a created tenant and an added revocation each append one change
/// with the right contents, in order; a repeated revocation, a refused tenant and other writes
/// append nothing; `changes_since` honours `after` and `limit`; `latest_change` is the last
/// `seq`.
pub async fn change_feed(store: &dyn Store) {
    assert_eq!(store.latest_change().await.unwrap(), 0);
    assert!(store.changes_since(0, 100).await.unwrap().is_empty());

    let t = tenant(store, "feed.example", T0).await;
    let a = agent(t.id, 1, T0);
    store.insert_agent(&a).await.unwrap();
    assert!(
        store
            .add_revocation(&revocation(t.id, vec![0x01, 1], Some(a.id)))
            .await
            .unwrap()
    );
    // Nothing changed: no change.
    assert!(
        !store
            .add_revocation(&revocation(t.id, vec![0x01, 1], Some(a.id)))
            .await
            .unwrap()
    );
    let taken = Tenant::new(TenantId::random().unwrap(), "feed.example", T0);
    assert!(matches!(
        store.create_tenant(&taken, &authority("x")).await,
        Err(StoreError::TenantExists)
    ));
    assert!(matches!(
        store
            .add_revocation(&revocation(TenantId::random().unwrap(), vec![9], None))
            .await,
        Err(StoreError::UnknownTenant)
    ));
    // Writes the feed does not carry.
    store.set_agent_limit(&t.id, 5).await.unwrap();
    store.next_crl_number(&t.id).await.unwrap();
    let u = tenant(store, "feed2.example", T0).await;
    assert!(
        store
            .add_revocation(&revocation(u.id, vec![0x7f; 20], None))
            .await
            .unwrap()
    );

    let all = store.changes_since(0, 100).await.unwrap();
    let kinds: Vec<ChangeKind> = all.iter().map(|c| c.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ChangeKind::TenantCreated { tenant: t.id },
            ChangeKind::CertificateRevoked {
                tenant: t.id,
                serial: vec![0x01, 1],
                agent: Some(a.id),
            },
            ChangeKind::TenantCreated { tenant: u.id },
            ChangeKind::CertificateRevoked {
                tenant: u.id,
                serial: vec![0x7f; 20],
                agent: None,
            },
        ]
    );
    assert!(all[0].seq > 0, "seq starts above 0");
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq strictly increasing: {all:?}"
    );
    assert_eq!(store.latest_change().await.unwrap(), all[3].seq);

    // `after` and `limit`.
    assert_eq!(
        store.changes_since(all[1].seq, 100).await.unwrap(),
        all[2..]
    );
    assert_eq!(store.changes_since(all[0].seq, 2).await.unwrap(), all[1..3]);
    assert_eq!(store.changes_since(0, 1).await.unwrap(), all[..1]);
    assert!(
        store
            .changes_since(all[3].seq, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.changes_since(u64::MAX, 100).await.unwrap().is_empty());
    assert!(store.changes_since(0, 0).await.unwrap().is_empty());
}

/// The wake-up: the store has a signal, and it fires (within 2 s) after a created tenant and
/// after an added revocation.
pub async fn change_signal(store: &dyn Store) {
    let mut signal = store
        .change_signal()
        .expect("the backend offers a change signal");
    let t = tenant(store, "signal.example", T0).await;
    let fired = tokio::time::timeout(WAIT, signal.changed()).await;
    assert_eq!(
        fired.ok(),
        Some(true),
        "the signal fires after create_tenant"
    );

    let mut signal = store.change_signal().unwrap();
    store
        .add_revocation(&revocation(t.id, vec![0x05], None))
        .await
        .unwrap();
    let fired = tokio::time::timeout(WAIT, signal.changed()).await;
    assert_eq!(
        fired.ok(),
        Some(true),
        "the signal fires after add_revocation"
    );
}

/// Racing writers on every handle revoke serials (and create tenants) while a reader on
/// another handle follows the feed with a cursor, as a node does: the reader sees every
/// change exactly once, none skipped, in increasing `seq`.
pub async fn change_feed_race(stores: Vec<Arc<dyn Store>>) {
    let first = handle(&stores, 0);
    let t = tenant(first.as_ref(), "feed-race.example", T0).await;
    let start = first.latest_change().await.unwrap();
    let writers = 6;
    let per_writer: u8 = 15;

    let reader_store = handle(&stores, 1);
    let expected = usize::from(per_writer) * writers + writers;
    let reader = tokio::spawn(async move {
        let mut cursor = start;
        let mut seen: Vec<Change> = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT * 5;
        while seen.len() < expected && tokio::time::Instant::now() < deadline {
            let batch = reader_store.changes_since(cursor, 7).await.unwrap();
            if let Some(last) = batch.last() {
                cursor = last.seq;
            } else {
                tokio::task::yield_now().await;
            }
            seen.extend(batch);
        }
        seen
    });

    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = handle(&stores, w);
            tokio::spawn(async move {
                let mut made = Vec::new();
                for i in 0..per_writer {
                    let serial = vec![0x10, u8::try_from(w).unwrap(), i];
                    let r = revocation(t.id, serial.clone(), None);
                    assert!(store.add_revocation(&r).await.unwrap());
                    made.push(ChangeKind::CertificateRevoked {
                        tenant: t.id,
                        serial,
                        agent: None,
                    });
                }
                let other = Tenant::new(TenantId::random().unwrap(), format!("w{w}.example"), T0);
                store
                    .create_tenant(&other, &authority(&format!("w{w}")))
                    .await
                    .unwrap();
                made.push(ChangeKind::TenantCreated { tenant: other.id });
                made
            })
        })
        .collect();
    let mut written = HashSet::new();
    for task in tasks {
        for kind in task.await.unwrap() {
            written.insert(format!("{kind:?}"));
        }
    }
    let seen = reader.await.unwrap();
    assert!(
        seen.windows(2).all(|w| w[0].seq < w[1].seq),
        "the reader saw seq in increasing order"
    );
    let seen_kinds: Vec<String> = seen.iter().map(|c| format!("{:?}", c.kind)).collect();
    let unique: HashSet<String> = seen_kinds.iter().cloned().collect();
    assert_eq!(unique.len(), seen_kinds.len(), "no change seen twice");
    assert_eq!(
        unique, written,
        "the reader following its cursor saw every change, none skipped"
    );
    // And a fresh read of the whole range agrees.
    let all = first.changes_since(start, 10_000).await.unwrap();
    assert_eq!(all, seen);
}
