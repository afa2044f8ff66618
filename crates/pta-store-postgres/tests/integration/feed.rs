//! The change feed on a shared database: sequence order is commit order, and the `LISTEN`
//! connection comes back after it is killed.

use std::time::Duration;

use pta_store::testing::{T0, tenant};
use pta_store::{ChangeKind, Revocation, RevocationReason, Store};

use crate::support::PgFixture;

/// A writer that took a number holds the counter until it commits: a later writer waits, so
/// a reader never sees a higher `seq` while a lower one is still uncommitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seq_order_is_commit_order() {
    let f = PgFixture::new();
    let store = f.store().await;
    let t = tenant(&store, "order.example", T0).await;
    let start = store.latest_change().await.unwrap();

    // Transaction A takes the next number, as append_change does, and stays open.
    let mut a = f.client().await;
    let tx = a.transaction().await.unwrap();
    let seq_a: i64 = tx
        .query_one(
            "UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tx.execute(
        "INSERT INTO changes (seq, kind, tenant_id) VALUES ($1, 'tenant_created', $2)",
        &[&seq_a, &t.id.to_string()],
    )
    .await
    .unwrap();

    // Transaction B (the store) must wait for A.
    let writer = store.clone();
    let b = tokio::spawn(async move {
        let r = Revocation::new(t.id, vec![0x42], None, RevocationReason::Unspecified, T0);
        writer.add_revocation(&r).await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.is_finished(), "the second writer waits for the counter");
    assert!(
        store.changes_since(start, 100).await.unwrap().is_empty(),
        "nothing visible yet"
    );
    tx.commit().await.unwrap();
    assert!(b.await.unwrap());

    let seen = store.changes_since(start, 100).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].seq, u64::try_from(seq_a).unwrap());
    assert!(seen[0].seq < seen[1].seq);
    assert!(matches!(
        seen[1].kind,
        ChangeKind::CertificateRevoked { .. }
    ));
    assert_eq!(store.latest_change().await.unwrap(), seen[1].seq);
}

/// A rolled-back writer takes no number for good: the next change gets it.
#[tokio::test]
async fn a_rolled_back_write_leaves_no_change() {
    let f = PgFixture::new();
    let store = f.store().await;
    let t = tenant(&store, "rollback.example", T0).await;
    let before = store.latest_change().await.unwrap();
    // A tenant with a taken name fails after nothing was appended.
    let dup = pta_store::Tenant::new(pta_store::TenantId::random().unwrap(), &t.name, T0);
    assert!(
        store
            .create_tenant(&dup, &pta_store::testing::authority("dup"))
            .await
            .is_err()
    );
    assert_eq!(store.latest_change().await.unwrap(), before);
    let u = tenant(&store, "next.example", T0).await;
    let seen = store.changes_since(before, 10).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].seq, before + 1);
    assert_eq!(seen[0].kind, ChangeKind::TenantCreated { tenant: u.id });
}

/// Another node's write wakes this node's signal (LISTEN/NOTIFY); after the listening
/// connection is killed, the signal fires on reconnect and later writes still wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signal_crosses_nodes_and_survives_a_lost_connection() {
    let f = PgFixture::new();
    let reader = f.store().await;
    let writer = f.store().await;
    let wait = Duration::from_secs(5);
    // Let the listener connect before subscribing.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut signal = reader.change_signal().unwrap();
    tenant(&writer, "cross.example", T0).await;
    assert_eq!(
        tokio::time::timeout(wait, signal.changed()).await.ok(),
        Some(true)
    );

    let mut signal = reader.change_signal().unwrap();
    let killed: i64 = f
        .client()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "a listening connection was found");
    assert_eq!(
        tokio::time::timeout(wait, signal.changed()).await.ok(),
        Some(true),
        "the signal fires after the reconnect"
    );
    // Give the new connection time to LISTEN, then a write wakes it again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut signal = reader.change_signal().unwrap();
    tenant(&writer, "after.example", T0).await;
    assert_eq!(
        tokio::time::timeout(wait, signal.changed()).await.ok(),
        Some(true)
    );
}

/// A database of schema version 1 (before the feed) migrates forward, keeping its data.
#[tokio::test]
async fn version_1_migrates_forward() {
    let f = PgFixture::new();
    let store = f.store().await;
    let t = tenant(&store, "old.example", T0).await;
    drop(store);
    f.client()
        .await
        .batch_execute(
            "DROP TABLE change_counter; DROP TABLE changes; DROP TABLE leases; \
             UPDATE pta_schema SET version = 1;",
        )
        .await
        .unwrap();
    let store = f.store().await;
    assert_eq!(
        store.tenant(&t.id).await.unwrap().map(|x| x.name),
        Some(t.name)
    );
    assert_eq!(store.latest_change().await.unwrap(), 0, "no backfill");
    let u = tenant(&store, "new.example", T0).await;
    let seen = store.changes_since(0, 10).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].kind, ChangeKind::TenantCreated { tenant: u.id });
}

/// Dropping the store ends its `LISTEN` task and closes that connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_ends_with_the_store() {
    let f = PgFixture::new();
    let observer = f.client().await;
    let database = f.url.rsplit('/').next().unwrap().to_owned();
    let listening = || async {
        let n: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = $1",
                &[&database],
            )
            .await
            .unwrap()
            .get(0);
        n
    };
    let store = f.store().await;
    let clone = store.clone();
    let mut up = false;
    for _ in 0..50 {
        if listening().await == 1 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "one LISTEN connection per store");
    drop(store);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listening().await, 1, "a clone keeps it");
    drop(clone);
    let mut gone = false;
    for _ in 0..50 {
        if listening().await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the LISTEN connection closed with the last clone");
}
