//! (b) Two stores (two service nodes) on one Redis, recording at once: no update is lost.

use std::sync::Arc;
use std::time::Duration;

use pta_lockout::{Decision, LockoutStore, Outcome, Policy, Source, UserKey};

use crate::{T0, attempt, start_redis, store_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_nodes_lose_no_update_and_lock_exactly_at_the_threshold() {
    let redis = start_redis();
    const THRESHOLD: u8 = 40;
    let policy = {
        let mut p = Policy::default();
        p.threshold = THRESHOLD;
        p.spray_threshold = 1024;
        p
    };
    // A generous timeout: 39 writers contend for one key on a loaded machine.
    let timeout = Duration::from_secs(20);
    let nodes = [
        Arc::new(store_with(&redis, policy.clone(), timeout).await),
        Arc::new(store_with(&redis, policy.clone(), timeout).await),
    ];
    // THRESHOLD - 1 wrong passwords (all different) for account 1 from one source, each on its
    // own task, alternating between the nodes, all at the same instant; each against a
    // different account too (account 100 + i) from the same source, for the source's record.
    let mut tasks = Vec::new();
    for i in 0..u32::from(THRESHOLD) - 1 {
        let node = Arc::clone(&nodes[i as usize % 2]);
        tasks.push(tokio::spawn(async move {
            let a = attempt(1, 7, 3, i);
            assert_eq!(node.check(T0, &a).await.unwrap(), Decision::Allow);
            node.record(T0, &a, Outcome::InvalidCredentials)
                .await
                .unwrap();
            let b = attempt(100 + u64::from(i), 7, 3, i);
            node.record(T0, &b, Outcome::InvalidCredentials)
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let user = UserKey::from_raw(1);
    for node in &nodes {
        let status = node.user_status(T0, user).await.unwrap();
        assert_eq!(
            status.unfamiliar.failures,
            THRESHOLD - 1,
            "a failure was lost"
        );
        assert_eq!(status.unfamiliar.locked_until, None);
        assert_eq!(status.remembered_bad_passwords, 3);
        // 39 distinct accounts... plus account 1.
        let source = node.source_status(T0, Source::from_raw(7)).await.unwrap();
        assert_eq!(source.distinct_users, usize::from(THRESHOLD));
        assert_eq!(
            node.check(T0, &attempt(1, 8, 3, 999)).await.unwrap(),
            Decision::Allow
        );
    }
    // The threshold-th failure, on either node, locks on both.
    nodes[1]
        .record(T0, &attempt(1, 7, 3, 9_999), Outcome::InvalidCredentials)
        .await
        .unwrap();
    let until = T0 + 60_000;
    for node in &nodes {
        assert_eq!(
            node.check(T0, &attempt(1, 8, 3, 12_345)).await.unwrap(),
            Decision::Locked { until }
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_failures_on_a_lock_escalate_it_and_never_shorten_it() {
    let redis = start_redis();
    let policy = {
        let mut p = Policy::default();
        p.threshold = 1;
        p
    };
    let timeout = Duration::from_secs(20);
    let a = Arc::new(store_with(&redis, policy.clone(), timeout).await);
    let b = Arc::new(store_with(&redis, policy, timeout).await);
    // Four failures at once: one locks (level 0 -> 1, 60 s), the other three re-lock
    // (120, 240, 480 s): the lock ends at the longest, and the level is 4.
    let mut tasks = Vec::new();
    for i in 0..4u32 {
        let node = Arc::clone(if i % 2 == 0 { &a } else { &b });
        tasks.push(tokio::spawn(async move {
            node.record(
                T0,
                &attempt(1, u128::from(i), 3, i),
                Outcome::InvalidCredentials,
            )
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let status = a.user_status(T0, UserKey::from_raw(1)).await.unwrap();
    assert_eq!(status.unfamiliar.level, 4);
    assert_eq!(status.unfamiliar.locked_until, Some(T0 + 480_000));
}
