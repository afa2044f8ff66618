//! (e) Administration and status: unlock_user, unblock_source, user_status, source_status;
//! a corrupt record is a backend error, not a decision.

use pta_lockout::{Decision, LockoutError, LockoutStore, Outcome, Policy, Source, UserKey};
use redis::AsyncCommands;

use crate::{T0, attempt, raw, start_redis, store};

#[tokio::test]
async fn unlock_unblock_and_status() {
    let redis = start_redis();
    let policy = {
        let mut p = Policy::default();
        p.spray_threshold = 3;
        p
    };
    let s = store(&redis, policy).await;
    let mut conn = raw(&redis).await;
    let user = UserKey::from_raw(1);
    assert!(!s.unlock_user(user).await.unwrap());
    assert!(!s.unblock_source(Source::from_raw(1)).await.unwrap());
    assert_eq!(
        s.user_status(T0, user).await.unwrap(),
        pta_lockout::UserStatus::default()
    );

    // Lock account 1 (ten wrong passwords from ten sources, so no source is blocked).
    for t in 0..10u32 {
        s.record(
            T0,
            &attempt(1, u128::from(t) + 10, 3, t),
            Outcome::InvalidCredentials,
        )
        .await
        .unwrap();
    }
    let status = s.user_status(T0, user).await.unwrap();
    assert_eq!(status.unfamiliar.locked_until, Some(T0 + 60_000));
    assert_eq!(status.unfamiliar.level, 1);
    assert_eq!(status.remembered_bad_passwords, 3);
    assert!(matches!(
        s.check(T0, &attempt(1, 1, 3, 99)).await.unwrap(),
        Decision::Locked { .. }
    ));
    assert!(s.unlock_user(user).await.unwrap());
    assert_eq!(
        s.check(T0, &attempt(1, 1, 3, 99)).await.unwrap(),
        Decision::Allow
    );
    let status = s.user_status(T0, user).await.unwrap();
    assert_eq!(status.unfamiliar.locked_until, None);
    assert_eq!(status.unfamiliar.level, 0);
    // Bad passwords stay remembered, and the key keeps an expiry.
    assert_eq!(status.remembered_bad_passwords, 3);
    let pttl: i64 = conn.pttl(s.user_key(user)).await.unwrap();
    assert!(pttl > 0, "{pttl}");

    // Source 5 fails against three accounts: blocked for 30 minutes.
    let source = Source::from_raw(5);
    for n in 0..3u64 {
        s.record(T0, &attempt(100 + n, 5, 3, 1), Outcome::InvalidCredentials)
            .await
            .unwrap();
    }
    let until = T0 + 30 * 60_000;
    assert_eq!(
        s.check(T0, &attempt(200, 5, 3, 1)).await.unwrap(),
        Decision::SourceBlocked { until }
    );
    assert_eq!(
        s.source_status(T0, source).await.unwrap().blocked_until,
        Some(until)
    );
    assert!(s.unblock_source(source).await.unwrap());
    assert_eq!(
        s.check(T0, &attempt(200, 5, 3, 1)).await.unwrap(),
        Decision::Allow
    );
    assert_eq!(
        s.source_status(T0, source).await.unwrap(),
        pta_lockout::SourceStatus::default()
    );
}

#[tokio::test]
async fn a_corrupt_record_is_a_backend_error() {
    let redis = start_redis();
    let s = store(&redis, Policy::default()).await;
    let mut conn = raw(&redis).await;
    let () = conn
        .set(s.user_key(UserKey::from_raw(1)), b"U\x09garbage".as_slice())
        .await
        .unwrap();
    let a = attempt(1, 1, 3, 1);
    assert!(matches!(
        s.check(T0, &a).await,
        Err(LockoutError::Backend(_))
    ));
    assert!(matches!(
        s.record(T0, &a, Outcome::InvalidCredentials).await,
        Err(LockoutError::Backend(_))
    ));
    assert!(matches!(
        s.user_status(T0, UserKey::from_raw(1)).await,
        Err(LockoutError::Backend(_))
    ));
    // Nothing was written over it.
    let stored: Vec<u8> = conn.get(s.user_key(UserKey::from_raw(1))).await.unwrap();
    assert_eq!(stored, b"U\x09garbage");
}
