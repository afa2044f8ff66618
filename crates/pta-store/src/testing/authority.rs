//! Tenants, their authorities, the service authority, and CRL numbers.

use std::collections::HashSet;
use std::sync::Arc;

use crate::{Store, StoreError, Tenant, TenantId};

use super::{T0, authority, handle, tenant};

/// Tenants: created with their authority, found by id and by name, listed by name; a taken id
/// or name refused; the agent limit changed; unknown tenants reported as such.
pub async fn tenants(store: &dyn Store) {
    let b = tenant(store, "b.example", T0).await;
    let a = tenant(store, "a.example", T0 + 1).await;
    assert_eq!(store.tenant(&a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(
        store.tenant_by_name("b.example").await.unwrap().as_ref(),
        Some(&b)
    );
    assert_eq!(store.tenant_by_name("c.example").await.unwrap(), None);
    assert_eq!(
        store.tenant(&TenantId::random().unwrap()).await.unwrap(),
        None
    );
    let names: Vec<String> = store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["a.example", "b.example"]);

    let same_name = Tenant::new(TenantId::random().unwrap(), "a.example", T0);
    assert!(matches!(
        store.create_tenant(&same_name, &authority("x")).await,
        Err(StoreError::TenantExists)
    ));
    let same_id = Tenant::new(a.id, "other.example", T0);
    assert!(matches!(
        store.create_tenant(&same_id, &authority("y")).await,
        Err(StoreError::TenantExists)
    ));

    let stored = store.authority(&a.id).await.unwrap().unwrap();
    assert_eq!(stored.certificate, authority("a.example").certificate);
    assert_eq!(
        stored.key.expose(),
        authority("a.example").key.expose(),
        "the CA key comes back as stored"
    );
    assert!(
        store
            .authority(&TenantId::random().unwrap())
            .await
            .unwrap()
            .is_none()
    );

    store.set_agent_limit(&a.id, 3).await.unwrap();
    assert_eq!(store.tenant(&a.id).await.unwrap().unwrap().agent_limit, 3);
    assert!(matches!(
        store.set_agent_limit(&TenantId::random().unwrap(), 3).await,
        Err(StoreError::UnknownTenant)
    ));
}

/// CRL numbers: 1 first, then one more per call, per tenant; unknown tenants refused.
pub async fn crl_numbers(store: &dyn Store) {
    let t = tenant(store, "crl.example", T0).await;
    let u = tenant(store, "crl2.example", T0).await;
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 1);
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 2);
    assert_eq!(store.next_crl_number(&u.id).await.unwrap(), 1);
    assert_eq!(store.next_crl_number(&t.id).await.unwrap(), 3);
    assert!(matches!(
        store.next_crl_number(&TenantId::random().unwrap()).await,
        Err(StoreError::UnknownTenant)
    ));
}

/// Racing callers of `next_crl_number` on one tenant, over every handle, each get a distinct
/// number, and together exactly 1..=n.
pub async fn crl_numbers_race(stores: Vec<Arc<dyn Store>>) {
    let t = tenant(handle(&stores, 0).as_ref(), "crl-race.example", T0).await;
    let n = 40;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = handle(&stores, i);
            tokio::spawn(async move { store.next_crl_number(&t.id).await })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        let number = task.await.unwrap().unwrap();
        assert!(seen.insert(number), "CRL number {number} handed out twice");
    }
    let expected: HashSet<u64> = (1..=u64::try_from(n).unwrap()).collect();
    assert_eq!(seen, expected);
}

/// The service authority: absent at first; of racing initialisers over every handle exactly
/// one wins and every caller gets the winner; later calls keep it.
pub async fn service_authority_race(stores: Vec<Arc<dyn Store>>) {
    assert!(
        handle(&stores, 0)
            .service_authority()
            .await
            .unwrap()
            .is_none()
    );
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = handle(&stores, i);
            tokio::spawn(async move {
                let mine = authority(&format!("service {i}"));
                store.init_service_authority(&mine).await
            })
        })
        .collect();
    let mut winners = HashSet::new();
    for task in tasks {
        winners.insert(task.await.unwrap().unwrap().certificate);
    }
    assert_eq!(winners.len(), 1, "every caller gets the one winner");
    let Some(winner) = winners.into_iter().next() else {
        panic!("no winner")
    };
    for i in 0..stores.len() {
        let stored = handle(&stores, i)
            .service_authority()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.certificate, winner);
    }
    let late = handle(&stores, 0)
        .init_service_authority(&authority("late"))
        .await
        .unwrap();
    assert_eq!(late.certificate, winner);
}
