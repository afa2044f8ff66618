//! (d) Every key written expires; lapsed records are deleted.

use pta_lockout::{LockoutStore, Outcome, Policy, Source, UserKey};
use redis::AsyncCommands;

use crate::{T0, attempt, raw, start_redis, store};

#[tokio::test]
async fn written_keys_expire_with_the_policy_windows() {
    let redis = start_redis();
    let policy = Policy::default();
    let s = store(&redis, policy.clone()).await;
    let mut conn = raw(&redis).await;

    s.record(T0, &attempt(1, 2, 3, 4), Outcome::InvalidCredentials)
        .await
        .unwrap();
    let user_key = s.user_key(UserKey::from_raw(1));
    let source_key = s.source_key(Source::from_raw(2));
    assert_eq!(user_key, "pta:lockout:u:0000000000000001");
    assert_eq!(source_key, "pta:lockout:s:00000000000000000000000000000002");
    // One failure matters for one quiet period (1 h); a source's for the spray window (10 min).
    let pttl: i64 = conn.pttl(&user_key).await.unwrap();
    assert!(
        (3_590_000..=3_610_000).contains(&pttl),
        "account PTTL {pttl}"
    );
    let pttl: i64 = conn.pttl(&source_key).await.unwrap();
    assert!((590_000..=610_000).contains(&pttl), "source PTTL {pttl}");

    // A success makes the location familiar for 30 days: the expiry grows with it.
    s.record(T0, &attempt(1, 2, 3, 5), Outcome::Success)
        .await
        .unwrap();
    let pttl: i64 = conn.pttl(&user_key).await.unwrap();
    let days_30 = 30 * 24 * 3_600_000;
    assert!((days_30..=days_30 + 10_000).contains(&pttl), "PTTL {pttl}");

    // A success from an unknown location on a fresh account leaves nothing worth keeping.
    s.record(
        T0,
        &pta_lockout::Attempt::new(
            UserKey::from_raw(9),
            Source::from_raw(2),
            pta_lockout::Location::UNKNOWN,
            pta_lockout::PasswordTag::from_raw(1),
        ),
        Outcome::Success,
    )
    .await
    .unwrap();
    let exists: bool = conn.exists(s.user_key(UserKey::from_raw(9))).await.unwrap();
    assert!(!exists);

    // Every key under the prefix has an expiry.
    let keys: Vec<String> = conn.keys("pta:lockout:*").await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let pttl: i64 = conn.pttl(&key).await.unwrap();
        assert!(pttl > 0, "{key}: {pttl}");
    }
}

#[tokio::test]
async fn the_prefix_is_configurable() {
    let redis = start_redis();
    let mut config = pta_lockout_redis::RedisLockoutConfig::new(redis.url());
    config.key_prefix = String::from("tenant-a:");
    let s = pta_lockout_redis::RedisLockoutStore::connect(Policy::default(), config)
        .await
        .unwrap();
    s.record(T0, &attempt(255, 1, 3, 4), Outcome::InvalidCredentials)
        .await
        .unwrap();
    let mut conn = raw(&redis).await;
    let mut keys: Vec<String> = conn.keys("*").await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        [
            "tenant-a:s:00000000000000000000000000000001",
            "tenant-a:u:00000000000000ff"
        ]
    );
}
