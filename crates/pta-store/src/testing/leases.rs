//! Leases: exclusive, renewed by the holder, taken over after expiry, released.

use std::sync::Arc;

use crate::{MAX_LEASE_HOLDER_LEN, Store, StoreError};

use super::{T0, handle};

/// One holder at a time; the holder renews; another takes over at expiry (not before);
/// release only by the holder; names are independent; bad arguments refused.
pub async fn leases(store: &dyn Store) {
    let ttl = 1_000;
    assert!(store.try_lease("sweep", "node-a", T0, ttl).await.unwrap());
    assert!(
        !store
            .try_lease("sweep", "node-b", T0 + 1, ttl)
            .await
            .unwrap()
    );
    // Another name is its own lease.
    assert!(
        store
            .try_lease("prune", "node-b", T0 + 1, 10 * ttl)
            .await
            .unwrap()
    );
    // Renewal by the holder moves the expiry to T0 + 1500.
    assert!(
        store
            .try_lease("sweep", "node-a", T0 + 500, ttl)
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lease("sweep", "node-b", T0 + 1_000, ttl)
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lease("sweep", "node-b", T0 + 1_499, ttl)
            .await
            .unwrap()
    );
    // Expired at T0 + 1500: taken over.
    assert!(
        store
            .try_lease("sweep", "node-b", T0 + 1_500, ttl)
            .await
            .unwrap()
    );
    assert!(
        !store
            .try_lease("sweep", "node-a", T0 + 1_600, ttl)
            .await
            .unwrap()
    );

    // Release: only by the holder.
    assert!(!store.release_lease("sweep", "node-a").await.unwrap());
    assert!(!store.release_lease("nothing", "node-a").await.unwrap());
    assert!(store.release_lease("sweep", "node-b").await.unwrap());
    assert!(!store.release_lease("sweep", "node-b").await.unwrap());
    assert!(
        store
            .try_lease("sweep", "node-a", T0 + 1_700, ttl)
            .await
            .unwrap()
    );
    // The other lease was untouched.
    assert!(
        !store
            .try_lease("prune", "node-a", T0 + 1_700, ttl)
            .await
            .unwrap()
    );

    let long = "h".repeat(MAX_LEASE_HOLDER_LEN + 1);
    for (name, holder, ttl) in [
        ("", "a", 1),
        ("x", "", 1),
        ("x", long.as_str(), 1),
        ("x", "a", 0),
    ] {
        assert!(matches!(
            store.try_lease(name, holder, T0, ttl).await,
            Err(StoreError::InvalidConfig { .. })
        ));
    }
    assert!(matches!(
        store.try_lease("x", "a", u64::MAX - 1, 10).await,
        Err(StoreError::OutOfRange { .. })
    ));
}

/// Racing holders over every handle try one free lease at once: exactly one wins, in each of
/// several rounds (a free lease, then an expired one).
pub async fn lease_race(stores: Vec<Arc<dyn Store>>) {
    for (round, now) in [(0_u64, T0), (1, T0 + 10_000)] {
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let store = handle(&stores, i);
                tokio::spawn(async move {
                    store
                        .try_lease("race", &format!("holder-{round}-{i}"), now, 5_000)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one holder wins");
    }
}
