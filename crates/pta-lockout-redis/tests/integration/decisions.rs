//! (a) The Redis store decides exactly as the in-memory store on the same attempts.

use pta_lockout::{
    Decision, LockoutStore, MemoryStore, MemoryStoreLimits, Outcome, Policy, Source, UserKey,
};

use crate::{T0, attempt, start_redis, store};

#[tokio::test]
async fn tenth_wrong_password_locks_and_a_success_resets() {
    let redis = start_redis();
    let s = store(&redis, Policy::default()).await;
    let mut now = T0;
    for t in 0..9 {
        let a = attempt(1, 1, 5, t);
        assert_eq!(s.check(now, &a).await.unwrap(), Decision::Allow);
        s.record(now, &a, Outcome::InvalidCredentials)
            .await
            .unwrap();
        now += 1_000;
    }
    assert_eq!(
        s.user_status(now, UserKey::from_raw(1))
            .await
            .unwrap()
            .unfamiliar
            .failures,
        9
    );
    // A success from the same (unfamiliar) class resets it; nine more do not lock either.
    s.record(now, &attempt(1, 1, 5, 500), Outcome::Success)
        .await
        .unwrap();
    let status = s.user_status(now, UserKey::from_raw(1)).await.unwrap();
    assert_eq!(status.unfamiliar.failures, 0);
    // The success made location 5 familiar: fail from location 6 (unfamiliar) now.
    for t in 0..9 {
        let a = attempt(1, 1, 6, 100 + t);
        assert_eq!(s.check(now, &a).await.unwrap(), Decision::Allow);
        s.record(now, &a, Outcome::InvalidCredentials)
            .await
            .unwrap();
        now += 1_000;
    }
    let tenth = attempt(1, 1, 6, 200);
    assert_eq!(s.check(now, &tenth).await.unwrap(), Decision::Allow);
    s.record(now, &tenth, Outcome::InvalidCredentials)
        .await
        .unwrap();
    let until = now + 60_000;
    assert_eq!(
        s.check(now, &attempt(1, 1, 6, 999)).await.unwrap(),
        Decision::Locked { until }
    );
    // The familiar class is not locked.
    assert_eq!(
        s.check(now, &attempt(1, 1, 5, 999)).await.unwrap(),
        Decision::Allow
    );
    assert_eq!(
        s.check(until, &attempt(1, 1, 6, 999)).await.unwrap(),
        Decision::Allow
    );
    // A repeat of the last bad password is answered without the directory.
    assert_eq!(
        s.check(until, &attempt(1, 1, 6, 200)).await.unwrap(),
        Decision::RepeatRejected
    );
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test]
async fn same_decisions_as_the_memory_store_on_a_random_sequence() {
    let redis = start_redis();
    // A low threshold and spray threshold, so locks, re-locks and blocks all happen.
    let policy = {
        let mut p = Policy::default();
        p.threshold = 3;
        p.spray_threshold = 4;
        p
    };
    let s = store(&redis, policy.clone()).await;
    let memory = MemoryStore::new(policy, MemoryStoreLimits::default()).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = T0;
    let (mut locked, mut blocked, mut repeats) = (0, 0, 0);
    // 400 events, at most 8 s apart: under an hour in all, so no record lapses (the memory
    // store keeps lapsed records, Redis deletes them; that differs only after a quiet period).
    for step in 0..400 {
        now += rng.below(8_000);
        let a = attempt(
            rng.below(4),
            u128::from(rng.below(5) as u8),
            rng.below(3),
            rng.below(12) as u32,
        );
        let expected = LockoutStore::check(&memory, now, &a).await.unwrap();
        let got = s.check(now, &a).await.unwrap();
        assert_eq!(got, expected, "step {step} at {now}: {a:?}");
        match got {
            Decision::Locked { .. } => locked += 1,
            Decision::SourceBlocked { .. } => blocked += 1,
            Decision::RepeatRejected => repeats += 1,
            _ => {}
        }
        if got.is_allow() {
            let outcome = match rng.below(10) {
                0..=6 => Outcome::InvalidCredentials,
                7 | 8 => Outcome::Success,
                _ => Outcome::Failure,
            };
            LockoutStore::record(&memory, now, &a, outcome)
                .await
                .unwrap();
            s.record(now, &a, outcome).await.unwrap();
        }
        for user in 0..4 {
            let key = UserKey::from_raw(user);
            assert_eq!(
                s.user_status(now, key).await.unwrap(),
                memory.user_status(now, key),
                "step {step}: user {user}"
            );
        }
        for source in 0..5u128 {
            let source = Source::from_raw(source);
            assert_eq!(
                s.source_status(now, source).await.unwrap(),
                memory.source_status(now, source),
                "step {step}: source {source:?}"
            );
        }
    }
    assert!(
        locked > 0 && blocked > 0 && repeats > 0,
        "{locked} {blocked} {repeats}"
    );
}
