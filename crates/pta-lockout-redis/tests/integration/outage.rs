//! (c) Redis stopped mid-run: calls fail as backend errors within the timeout; Redis back on
//! the same port: the same store works again.

use std::time::{Duration, Instant};

use pta_lockout::{Decision, LockoutError, LockoutStore, Outcome, Policy, Source, UserKey};
use pta_lockout_redis::RedisLockoutError;

use crate::{T0, attempt, start_redis, store};

fn assert_backend<T: std::fmt::Debug>(result: Result<T, LockoutError>, what: &str) {
    match result {
        Err(LockoutError::Backend(inner)) => {
            assert!(
                inner.downcast_ref::<RedisLockoutError>().is_some(),
                "{what}: {inner:?}"
            );
        }
        other => panic!("{what}: expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn calls_fail_as_backend_errors_while_redis_is_gone_and_work_when_it_is_back() {
    let mut redis = start_redis();
    let timeout = Duration::from_secs(1);
    let s = store(&redis, Policy::default()).await;
    let a = attempt(1, 1, 3, 1);
    s.record(T0, &a, Outcome::InvalidCredentials).await.unwrap();
    assert_eq!(s.check(T0, &a).await.unwrap(), Decision::RepeatRejected);

    redis.stop();
    // Twice each: the first call sees the connection drop, the second a failed reconnect.
    for round in 0..2 {
        let started = Instant::now();
        assert_backend(s.check(T0, &a).await, "check");
        assert_backend(
            s.record(T0, &attempt(1, 1, 3, 2), Outcome::InvalidCredentials)
                .await,
            "record",
        );
        assert_backend(s.unlock_user(UserKey::from_raw(1)).await, "unlock_user");
        assert_backend(
            s.unblock_source(Source::from_raw(1)).await,
            "unblock_source",
        );
        assert_backend(s.user_status(T0, UserKey::from_raw(1)).await, "user_status");
        assert_backend(
            s.source_status(T0, Source::from_raw(1)).await,
            "source_status",
        );
        // Six calls, each bounded by the timeout (plus scheduling slack on a loaded machine).
        let elapsed = started.elapsed();
        assert!(
            elapsed < 6 * timeout + Duration::from_secs(2),
            "round {round}: {elapsed:?}"
        );
    }
    // Outcome::Failure never touches Redis: it succeeds even now.
    s.record(T0, &a, Outcome::Failure).await.unwrap();

    redis
        .restart()
        .expect("redis-server restarts on the same port");
    // The connection manager reconnects on its own; allow it a few rounds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let decision = loop {
        match s.check(T0, &a).await {
            Ok(d) => break d,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("store did not recover: {e:?}"),
        }
    };
    // The restarted Redis is empty: the remembered bad password is gone.
    assert_eq!(decision, Decision::Allow);
    // And the same store counts and locks again.
    for t in 0..10 {
        s.record(T0, &attempt(1, 1, 3, 100 + t), Outcome::InvalidCredentials)
            .await
            .unwrap();
    }
    assert_eq!(
        s.check(T0, &attempt(1, 1, 3, 999)).await.unwrap(),
        Decision::Locked { until: T0 + 60_000 }
    );
}
