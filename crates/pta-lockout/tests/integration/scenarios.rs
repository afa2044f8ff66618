//! End-to-end stories told on virtual time through the in-memory store.

use std::time::Duration;

use pta_lockout::{
    Attempt, Decision, DirectoryMismatch, Location, LockoutSecret, Outcome, Policy, Source,
};

use crate::{SEC, attempt, store};

#[test]
fn attacker_elsewhere_cannot_lock_the_user_out_at_home() {
    let s = store(Policy::default());
    let home = 10;
    let attacker = 66;
    // Alice signs in from home once.
    s.record(0, &attempt(1, 1, home, 1), Outcome::Success);
    // An attacker guesses from another network, one guess a second, for an hour.
    let mut locked = 0;
    let mut tried = 0;
    for i in 0..3600u64 {
        let now = 1_000 * SEC + i * SEC;
        let a = attempt(1, 2, attacker, 1000 + i as u32);
        match s.check(now, &a) {
            Decision::Allow => {
                tried += 1;
                s.record(now, &a, Outcome::InvalidCredentials);
            }
            Decision::Locked { .. } => locked += 1,
            other => panic!("unexpected {other:?}"),
        }
        // Alice at home is never locked.
        assert_eq!(s.check(now, &attempt(1, 1, home, 1)), Decision::Allow);
    }
    // Ten guesses, then one after each lockout: 60+120+240+480+960 s of lockouts and the
    // 1920 s one running past the hour.
    assert_eq!(tried, 15, "attacker got {tried} guesses");
    assert_eq!(locked, 3600 - 15);
}

/// An attacker against one account from an unfamiliar location, one guess a second at most,
/// each a new password. A `patient` attacker, once locked out, waits for the lockout level to
/// decay back to 0 (one quiet hour per level) as long as a full round of `threshold` guesses
/// still fits into the day afterwards; otherwise it guesses whenever allowed.
/// Returns the guesses that reached the directory in the first hour and the first day.
fn attack(patient: bool) -> (u32, u32) {
    let policy = Policy::default();
    let quiet = policy.quiet_period.as_secs();
    let round = u64::from(policy.threshold);
    let s = store(policy);
    let day = 24 * 3600;
    let (mut hour, mut total) = (0, 0);
    // When the level will be back to 0 if the attacker stops guessing (seconds).
    let mut decayed_at = 0;
    for second in 0..day {
        let now = second * SEC;
        let a = attempt(1, 2, 66, total);
        if !s.check(now, &a).is_allow() {
            continue;
        }
        if patient && second < decayed_at && decayed_at + round <= day {
            continue;
        }
        s.record(now, &a, Outcome::InvalidCredentials);
        let after = s.user_status(now, a.user).unfamiliar;
        if let Some(until) = after.locked_until {
            decayed_at = until / SEC + u64::from(after.level) * quiet;
        }
        total += 1;
        if second < 3600 {
            hour += 1;
        }
    }
    (hour, total)
}

#[test]
fn guesses_an_attacker_gets_in_an_hour_and_a_day() {
    // Guessing whenever allowed: 10, then one per lockout (60, 120, ... s, 1 h from the
    // seventh lockout on).
    assert_eq!(attack(false), (15, 38));
    // Waiting out each decay: 10 guesses per 61 min 9 s (9 s of guessing, the 60 s lock, the
    // quiet hour), 24 rounds (the last from 23:26:27), then 5 re-locking guesses in the 33
    // minutes left. The quiet period, not the re-lock, is what limits a patient attacker.
    assert_eq!(attack(true), (10, 245));
}

#[test]
fn decay_restores_the_full_threshold_through_the_store() {
    let s = store(Policy::default());
    let user = attempt(1, 1, 5, 0).user;
    // Lock, then re-lock once: level 2, the last lock ending at 9 + 60 + 120 = 189 s.
    for t in 0..10u64 {
        s.record(
            t * SEC,
            &attempt(1, 1, 5, t as u32),
            Outcome::InvalidCredentials,
        );
    }
    s.record(69 * SEC, &attempt(1, 1, 5, 10), Outcome::InvalidCredentials);
    assert_eq!(
        s.user_status(69 * SEC, user).unfamiliar.locked_until,
        Some(189 * SEC)
    );
    // Two quiet hours later the level is 0: nine wrong passwords do not lock, the tenth does.
    let t0 = 189 * SEC + 2 * 3600 * SEC;
    for t in 0..10u64 {
        let now = t0 + t * SEC;
        let a = attempt(1, 1, 5, 100 + t as u32);
        assert_eq!(s.check(now, &a), Decision::Allow, "guess {t}");
        s.record(now, &a, Outcome::InvalidCredentials);
    }
    let last = t0 + 9 * SEC;
    assert_eq!(
        s.check(last, &attempt(1, 1, 5, 999)),
        Decision::Locked {
            until: last + 60 * SEC
        }
    );
}

#[test]
fn device_with_a_stale_password_does_not_reach_the_directory_every_time() {
    let s = store(Policy::default());
    let phone = attempt(1, 1, 10, 42);
    // The phone retries its old password every 30 s for an hour.
    let mut reached_directory = 0;
    for i in 0..120u64 {
        let now = i * 30 * SEC;
        match s.check(now, &phone) {
            Decision::Allow => {
                reached_directory += 1;
                s.record(now, &phone, Outcome::InvalidCredentials);
            }
            Decision::RepeatRejected => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Once per 5-minute window at most, and never counted: no lock, one remembered failure.
    assert!(reached_directory <= 12, "{reached_directory}");
    let status = s.user_status(3599 * SEC, phone.user);
    assert_eq!(status.unfamiliar.failures, 1);
    assert_eq!(status.unfamiliar.locked_until, None);
    // The user types the new password and gets through.
    assert!(s.check(3600 * SEC, &attempt(1, 1, 10, 43)).is_allow());
}

#[test]
fn a_spray_blocks_the_source_and_nothing_else() {
    let s = store(Policy::default());
    let sprayer = 7;
    for user in 0..30u64 {
        let a = attempt(user, sprayer, 5, 1);
        assert!(s.check(user * SEC, &a).is_allow());
        s.record(user * SEC, &a, Outcome::InvalidCredentials);
    }
    let until = 29 * SEC + 30 * 60 * SEC;
    assert_eq!(
        s.check(30 * SEC, &attempt(99, sprayer, 5, 2)),
        Decision::SourceBlocked { until }
    );
    // The sprayed accounts are not locked, and another source is not blocked.
    assert!(s.check(30 * SEC, &attempt(0, 8, 5, 2)).is_allow());
    assert!(s.check(until, &attempt(99, sprayer, 5, 2)).is_allow());
}

#[test]
fn directory_failures_never_count() {
    let s = store(Policy::default());
    for i in 0..1000u64 {
        let a = attempt(1, 1, 1, i as u32);
        assert!(s.check(i, &a).is_allow());
        s.record(i, &a, Outcome::Failure);
    }
    assert_eq!(s.memory_usage().users, 0);
    assert_eq!(s.memory_usage().sources, 0);
}

#[test]
fn keys_from_the_secret_drive_the_store() {
    let secret = LockoutSecret::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    let s = store(Policy::default());
    let ip = "203.0.113.9".parse().unwrap();
    let alice = secret.user_key("contoso", "alice");
    let bob = secret.user_key("contoso", "bob");
    let make = |user, pw: &[u8]| {
        Attempt::new(
            user,
            Source::from_ip(ip),
            Location::from_ip(ip),
            secret.password_tag(user, pw),
        )
    };
    s.record(0, &make(alice, b"Summer2024!"), Outcome::InvalidCredentials);
    assert_eq!(
        s.check(SEC, &make(alice, b"Summer2024!")),
        Decision::RepeatRejected
    );
    // The same password against another account is a different tag.
    assert!(s.check(SEC, &make(bob, b"Summer2024!")).is_allow());
}

#[test]
fn policy_against_a_typical_active_directory() {
    // AD defaults on recent Windows: 10 attempts, 10 minutes.
    let found = Policy::default().check_against_directory(10, Duration::from_secs(600));
    assert_eq!(found.len(), 2);
    assert!(matches!(
        found[0],
        DirectoryMismatch::ThresholdTooHigh {
            recommended_max: 5,
            ..
        }
    ));
    let mut tuned = Policy::default();
    tuned.threshold = 5;
    tuned.lockout_duration = Duration::from_secs(600);
    assert!(
        tuned
            .check_against_directory(10, Duration::from_secs(600))
            .is_empty()
    );
}
