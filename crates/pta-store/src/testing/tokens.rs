//! Registration tokens: happy path, typed refusals, concurrent consumers.

use std::sync::Arc;

use crate::{
    DEFAULT_TOKEN_LIFETIME_MS, RegistrationToken, Store, StoreError, TenantId, TokenError,
    TokenRecord,
};

use super::{MIN, T0, handle, tenant};

fn kind<T>(r: Result<T, StoreError>) -> Option<TokenError> {
    r.err().and_then(|e| e.token_error())
}

/// A token's life: stored hashed, read without being spent, consumed once, refused as used,
/// expired or unknown, listed newest first, pruned.
pub async fn lifecycle(store: &dyn Store) {
    let t = tenant(store, "contoso.com", T0).await;
    let good = RegistrationToken::generate().unwrap();
    let rec = TokenRecord::new(&good, t.id, T0, DEFAULT_TOKEN_LIFETIME_MS);
    store.insert_token(&rec).await.unwrap();

    // Happy path: the record comes back with its tenant; the second use is refused.
    let used = store.consume_token(&good.hash(), T0 + MIN).await.unwrap();
    assert_eq!(used.tenant, t.id);
    assert_eq!(used.used_at, None);
    assert_eq!(
        kind(store.consume_token(&good.hash(), T0 + 2 * MIN).await),
        Some(TokenError::AlreadyUsed)
    );

    // Unknown.
    let never = RegistrationToken::generate().unwrap();
    assert_eq!(
        kind(store.consume_token(&never.hash(), T0).await),
        Some(TokenError::Unknown)
    );

    // Expired at exactly one hour, and stays expired (not marked used).
    let late = RegistrationToken::generate().unwrap();
    let late_rec = TokenRecord::new(&late, t.id, T0, DEFAULT_TOKEN_LIFETIME_MS);
    store.insert_token(&late_rec).await.unwrap();
    let expiry = T0 + 60 * MIN;
    assert_eq!(
        kind(store.consume_token(&late.hash(), expiry).await),
        Some(TokenError::Expired)
    );
    assert_eq!(
        kind(store.consume_token(&late.hash(), expiry + 1).await),
        Some(TokenError::Expired)
    );

    // A used token that has also expired is reported as used.
    assert_eq!(
        kind(store.consume_token(&good.hash(), expiry + 1).await),
        Some(TokenError::AlreadyUsed)
    );

    // The admin's list: newest first, use recorded.
    let listed = store.tokens(&t.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    let first = listed.iter().find(|r| r.hash == good.hash()).unwrap();
    assert_eq!(first.used_at, Some(T0 + MIN));
    assert!(
        listed
            .iter()
            .any(|r| r.hash == late.hash() && r.used_at.is_none())
    );

    // Insertion errors.
    assert!(matches!(
        store.insert_token(&rec).await,
        Err(StoreError::TokenExists)
    ));
    let stranger = TokenRecord::new(&never, TenantId::random().unwrap(), T0, 1);
    assert!(matches!(
        store.insert_token(&stranger).await,
        Err(StoreError::UnknownTenant)
    ));

    // Pruning removes tokens expired before the horizon; they become unknown.
    assert_eq!(store.prune_tokens(expiry).await.unwrap(), 0);
    assert_eq!(store.prune_tokens(expiry + 1).await.unwrap(), 2);
    assert_eq!(
        kind(store.consume_token(&late.hash(), expiry + 2).await),
        Some(TokenError::Unknown)
    );
    assert!(store.tokens(&t.id).await.unwrap().is_empty());
}

/// Many tasks race to consume each of several tokens; exactly one wins each race.
/// `stores` are handles on the same state (for SQLite: separate connections to one file).
pub async fn consume_race(stores: Vec<Arc<dyn Store>>) {
    let t = tenant(handle(&stores, 0).as_ref(), "race.example", T0).await;
    for round in 0..5 {
        let token = RegistrationToken::generate().unwrap();
        let rec = TokenRecord::new(&token, t.id, T0, DEFAULT_TOKEN_LIFETIME_MS);
        handle(&stores, 0).insert_token(&rec).await.unwrap();
        let hash = token.hash();
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = handle(&stores, i);
            tasks.push(tokio::spawn(async move {
                store.consume_token(&hash, T0 + 1).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(r) => {
                    assert_eq!(r.tenant, t.id);
                    won += 1;
                }
                Err(e) => assert_eq!(e.token_error(), Some(TokenError::AlreadyUsed), "{e}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}
