//! Property tests of the policy's invariants, on arbitrary policies and event sequences.

use std::time::Duration;

use proptest::prelude::*;
use pta_lockout::{
    Decision, Location, MemoryStore, MemoryStoreLimits, Outcome, PasswordTag, Policy, UserRecord,
};

use crate::{SEC, attempt, store};

/// One thing that can happen to a store.
#[derive(Clone, Debug)]
enum Event {
    /// Time passes (milliseconds).
    Wait(u64),
    /// An attempt is checked and, if allowed, its outcome recorded.
    Try {
        user: u64,
        source: u128,
        location: u64,
        tag: u32,
        outcome: Outcome,
    },
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        3 => Just(Outcome::InvalidCredentials),
        1 => Just(Outcome::Success),
        1 => Just(Outcome::Failure),
    ]
}

fn event(users: u64, sources: u128) -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => (0u64..200_000).prop_map(Event::Wait),
        4 => (0..users, 0..sources, 0u64..4, 0u32..12, outcome()).prop_map(
            |(user, source, location, tag, outcome)| Event::Try {
                user,
                source,
                location,
                tag,
                outcome,
            }
        ),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        1u8..15,
        1u64..120,
        1u64..4000,
        1u16..10,
        prop::option::of(1u64..600),
    )
        .prop_map(|(threshold, lockout, quiet, spray, repeat)| {
            let mut p = Policy::default();
            p.threshold = threshold;
            p.lockout_duration = Duration::from_secs(lockout);
            p.max_lockout_duration = Duration::from_secs(lockout * 16);
            p.quiet_period = Duration::from_secs(quiet);
            p.repeat_window = repeat.map(Duration::from_secs);
            p.spray_threshold = spray;
            p
        })
}

/// Drives `events` through `s`, calling `seen` with every decision.
fn run(s: &MemoryStore, events: &[Event], mut seen: impl FnMut(u64, &Event, Decision)) -> u64 {
    let mut now = 1_000_000;
    for e in events {
        match *e {
            Event::Wait(ms) => now += ms,
            Event::Try {
                user,
                source,
                location,
                tag,
                outcome,
            } => {
                let a = attempt(user, source, location, tag);
                let d = s.check(now, &a);
                seen(now, e, d);
                if d.is_allow() {
                    s.record(now, &a, outcome);
                }
            }
        }
    }
    now
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// From lockout level 0 (an account never locked), fewer wrong passwords than the
    /// threshold, in any order, classes and times, never lock. (Once locked, one failure
    /// re-locks until the level decays: see the next property.)
    #[test]
    fn never_locked_from_level_zero_below_the_threshold(
        p in policy(),
        events in prop::collection::vec(event(1, 3), 0..80),
    ) {
        let s = store(p.clone());
        // Keep the first `threshold - 1` wrong passwords; later ones become directory failures.
        let mut budget = usize::from(p.threshold) - 1;
        let events: Vec<Event> = events
            .into_iter()
            .map(|e| match e {
                Event::Try { user, source, location, tag, outcome: Outcome::InvalidCredentials } => {
                    let outcome = if budget > 0 {
                        budget -= 1;
                        Outcome::InvalidCredentials
                    } else {
                        Outcome::Failure
                    };
                    Event::Try { user, source, location, tag, outcome }
                }
                other => other,
            })
            .collect();
        run(&s, &events, |_, _, d| assert!(!matches!(d, Decision::Locked { .. }), "{d:?}"));
    }

    /// `threshold` distinct wrong passwords within a quiet period lock the class, until exactly
    /// the next whole second after `lockout_duration` from the last one; the lock ends exactly
    /// at `until`.
    #[test]
    fn locked_once_reached_and_until_is_exact(
        p in policy(),
        start in 0u64..1_000_000_000_000,
        gap in 0u64..1_500,
    ) {
        prop_assume!(gap * u64::from(p.threshold) < p.quiet_period.as_millis() as u64);
        let s = store(p.clone());
        // Records keep whole seconds: from a whole second on, a span shorter than the quiet
        // period also stays shorter once every time is cut to its second (from any other start
        // the last failure could fall a second further and the first one decay).
        let mut now = start / SEC * SEC;
        for t in 0..u32::from(p.threshold) {
            // A source per attempt, so that a low spray threshold does not interfere.
            let a = attempt(1, u128::from(t) + 100, 1, t);
            prop_assert!(s.check(now, &a).is_allow());
            s.record(now, &a, Outcome::InvalidCredentials);
            now += gap;
        }
        let last = now - gap;
        let until = last.div_ceil(SEC) * SEC + p.lockout_duration.as_millis() as u64;
        let fresh = attempt(1, 2, 1, 999); // source 2 never failed
        prop_assert_eq!(s.check(last, &fresh), Decision::Locked { until });
        prop_assert_eq!(s.check(until - 1, &fresh), Decision::Locked { until });
        prop_assert_eq!(s.check(until, &fresh), Decision::Allow);
    }

    /// After `threshold` failures and `relocks` further single failures, each at the end of
    /// the previous lock, the lockout level is `1 + relocks` (capped where the lockout length
    /// is), and each lock was twice as long as the one before (capped). After the last lock
    /// ends and `wait` more seconds pass, the level has dropped by one per full quiet period:
    /// above 0, one fresh wrong password locks again for `lockout(level)`; at 0, the full
    /// threshold applies again and the lock is the first one's length.
    #[test]
    fn after_a_lockout_one_failure_relocks_until_decay(
        p in policy(),
        start in 0u64..1_000_000_000_000,
        relocks in 0u32..6,
        wait in 0u64..20_000,
    ) {
        let s = store(p.clone());
        let base = p.lockout_duration.as_millis() as u64;
        let cap = p.max_lockout_duration.as_millis() as u64;
        let lockout = |level: u32| (base << level).min(cap);
        let top = (1..32).find(|&l| lockout(l) >= cap).unwrap_or(32).max(1);
        // Every wrong password is new and comes from a new source (no repeat, no spray block);
        // probes come from source 1, which never fails.
        let mut n = 0u32;
        let mut fail = |now: u64| {
            n += 1;
            let a = attempt(7, 1000 + u128::from(n), 1, n);
            let d = s.check(now, &a);
            s.record(now, &a, Outcome::InvalidCredentials);
            d
        };
        let probe = |now: u64| s.check(now, &attempt(7, 1, 1, 0));
        let locked_until = |now: u64| s.user_status(now, attempt(7, 1, 1, 0).user).unfamiliar.locked_until;
        for _ in 0..p.threshold {
            prop_assert!(fail(start).is_allow());
        }
        let mut end = locked_until(start).unwrap();
        for k in 1..=relocks {
            prop_assert!(fail(end).is_allow());
            let next = locked_until(end).unwrap();
            prop_assert_eq!(next - end, lockout(k.min(top)));
            end = next;
        }
        let level = s.user_status(end, attempt(7, 1, 1, 0).user).unfamiliar.level;
        prop_assert_eq!(u32::from(level), (1 + relocks).min(top));
        let now = end + wait * SEC;
        let decayed = u32::from(level).saturating_sub(u32::try_from(wait / p.quiet_period.as_secs()).unwrap());
        prop_assert!(probe(now).is_allow());
        if decayed > 0 {
            prop_assert!(fail(now).is_allow());
            prop_assert_eq!(probe(now), Decision::Locked { until: now + lockout(decayed) });
        } else {
            for _ in 1..p.threshold {
                prop_assert!(fail(now).is_allow());
                prop_assert!(probe(now).is_allow());
            }
            prop_assert!(fail(now).is_allow());
            prop_assert_eq!(probe(now), Decision::Locked { until: now + base });
        }
    }

    /// Recording the same wrong password again (at the same instant) changes no counter and no
    /// decision, whatever came before.
    #[test]
    fn repeats_never_count(
        p in policy(),
        events in prop::collection::vec(event(2, 2), 0..60),
        tag in 0u32..12,
        location in 0u64..4,
    ) {
        let s = store(p.clone());
        let now = run(&s, &events, |_, _, _| {});
        let a = attempt(0, 0, location, tag);
        s.record(now, &a, Outcome::InvalidCredentials);
        let status = s.user_status(now, a.user);
        let probes: Vec<_> = (0..4).map(|l| s.check(now, &attempt(0, 9, l, 100))).collect();
        for _ in 0..20 {
            s.record(now, &a, Outcome::InvalidCredentials);
        }
        prop_assert_eq!(s.user_status(now, a.user), status);
        let again: Vec<_> = (0..4).map(|l| s.check(now, &attempt(0, 9, l, 100))).collect();
        prop_assert_eq!(again, probes);
    }

    /// Cycling through at most three wrong passwords counts at most three failures.
    #[test]
    fn three_passwords_count_at_most_three(
        tags in prop::collection::vec(0u32..3, 1..200),
        gaps in prop::collection::vec(0u64..400_000, 200),
    ) {
        let mut p = Policy::default();
        p.threshold = 4;
        p.repeat_window = None;
        let mut r = UserRecord::EMPTY;
        let mut now = 0;
        for (tag, gap) in tags.iter().zip(&gaps) {
            now += gap;
            r.record(&p, now, Location::from_raw(1), PasswordTag::from_raw(*tag),
                Outcome::InvalidCredentials);
            prop_assert!(r.check(&p, now, Location::from_raw(1), PasswordTag::from_raw(9))
                .is_allow());
            prop_assert!(r.status(&p, now).unfamiliar.failures <= 3);
        }
    }

    /// Failures from unfamiliar locations never touch the familiar class, and the other way
    /// round.
    #[test]
    fn familiar_and_unfamiliar_never_mix(
        p in policy(),
        tries in prop::collection::vec((0u32..50, 0u64..5_000), 0..80),
        from_home in any::<bool>(),
    ) {
        let s = store(p.clone());
        let home = 1;
        s.record(0, &attempt(1, 1, home, 500), Outcome::Success);
        let mut now = 0;
        for (tag, gap) in tries {
            now += gap;
            // Locations 2 and 3 are unfamiliar, as is the unknown location 0.
            let location = if from_home { home } else { [0, 2, 3][tag as usize % 3] };
            let a = attempt(1, 1, location, tag);
            if s.check(now, &a).is_allow() {
                s.record(now, &a, Outcome::InvalidCredentials);
            }
            let status = s.user_status(now, a.user);
            let untouched = if from_home { status.unfamiliar } else { status.familiar };
            prop_assert_eq!(untouched.failures, 0);
            prop_assert_eq!(untouched.level, 0);
            prop_assert_eq!(untouched.locked_until, None);
            let other = if from_home { 2 } else { home };
            // From source 2, which never failed (so no spray block interferes).
            let d = s.check(now, &attempt(1, 2, other, 777));
            prop_assert!(d.is_allow(), "{:?}", d);
        }
    }

    /// The store never holds more records than its caps, whatever happens (with thresholds low
    /// enough that shards fill with locked accounts, which are never evicted).
    #[test]
    fn memory_stays_under_the_cap(
        max_users in 1usize..40,
        max_sources in 1usize..10,
        shards in 1usize..9,
        threshold in 1u8..11,
        events in prop::collection::vec(event(200, 50), 0..300),
    ) {
        let mut limits = MemoryStoreLimits::default();
        limits.max_users = max_users;
        limits.max_sources = max_sources;
        limits.shards = shards;
        let mut policy = Policy::default();
        policy.threshold = threshold;
        let s = MemoryStore::new(policy, limits).unwrap();
        run(&s, &events, |_, _, _| {
            let usage = s.memory_usage();
            assert!(usage.users <= max_users, "{usage:?}");
            assert!(usage.sources <= max_sources, "{usage:?}");
        });
        let usage = s.memory_usage();
        prop_assert!(usage.users <= max_users && usage.sources <= max_sources);
    }

    /// An account whose lock is running stays locked, with the same end, however many other
    /// accounts fail, succeed or get locked in a store of any size: eviction never lifts a lock.
    #[test]
    fn a_locked_user_stays_locked_whatever_others_do(
        max_users in 1usize..40,
        shards in 1usize..9,
        threshold in 1u8..4,
        events in prop::collection::vec(event(200, 50), 0..300),
    ) {
        let mut limits = MemoryStoreLimits::default();
        limits.max_users = max_users;
        limits.shards = shards;
        let mut policy = Policy::default();
        policy.threshold = threshold;
        policy.lockout_duration = Duration::from_secs(3600);
        let s = MemoryStore::new(policy, limits).unwrap();
        // Account 1000 (the events use 0 to 199) is locked at the events' start.
        let start = 1_000_000;
        for t in 0..u32::from(threshold) {
            s.record(start, &attempt(1000, 1000 + u128::from(t), 1, t), Outcome::InvalidCredentials);
        }
        let probe = attempt(1000, 999, 1, 9999);
        let until = match s.check(start, &probe) {
            Decision::Locked { until } => until,
            other => panic!("not locked: {other:?}"),
        };
        let end = run(&s, &events, |now, _, _| {
            if now < until {
                assert_eq!(s.check(now, &probe), Decision::Locked { until });
            }
            assert!(s.memory_usage().users <= max_users);
        });
        prop_assert_eq!(s.check(end, &probe).is_allow(), end >= until);
    }

    /// Whatever sources 0 to 4 do, source 5 (never failing) is never blocked.
    #[test]
    fn spray_blocking_never_blocks_another_source(
        p in policy(),
        events in prop::collection::vec(event(60, 5), 0..200),
        user in 0u64..60,
    ) {
        let s = store(p);
        run(&s, &events, |now, _, _| {
            let d = s.check(now, &attempt(user, 5, 0, 1234));
            assert!(!matches!(d, Decision::SourceBlocked { .. }), "{d:?}");
        });
    }

    /// `Outcome::Failure` events leave every decision as it would be without them.
    #[test]
    fn failures_are_invisible(
        p in policy(),
        events in prop::collection::vec(event(3, 3), 0..100),
    ) {
        let with = store(p.clone());
        let without = store(p);
        let mut seen_with = Vec::new();
        run(&with, &events, |now, e, d| seen_with.push((now, format!("{e:?}"), d)));
        let filtered: Vec<Event> = events
            .iter()
            .map(|e| match e {
                Event::Try { outcome: Outcome::Failure, .. } => Event::Wait(0),
                other => other.clone(),
            })
            .collect();
        let mut seen_without = Vec::new();
        run(&without, &filtered, |now, _, d| seen_without.push((now, d)));
        // Failure tries became waits, so compare only the decisions of the other tries.
        let kept: Vec<(u64, Decision)> = seen_with
            .into_iter()
            .filter(|(_, e, _)| !e.contains("Failure"))
            .map(|(now, _, d)| (now, d))
            .collect();
        prop_assert_eq!(kept, seen_without);
    }

    /// The fuzz hook's invariants hold on arbitrary bytes.
    #[test]
    fn fuzz_hook_holds(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        pta_lockout::fuzzing::event_sequence(&data);
    }
}

#[test]
fn no_panic_at_extreme_times() {
    let s = store(Policy::default());
    for now in [0, 1, 999, u64::MAX / 2, u64::MAX - 1, u64::MAX, 5, 0] {
        for tag in 0..12 {
            let a = attempt(1, 1, 1, tag);
            let _ = s.check(now, &a);
            s.record(now, &a, Outcome::InvalidCredentials);
        }
        s.record(now, &attempt(1, 1, 2, 99), Outcome::Success);
        let _ = s.user_status(now, attempt(1, 1, 1, 0).user);
    }
    // Time went back to 0 after u64::MAX: the saturated lock still holds there.
    assert!(matches!(
        s.check(0, &attempt(1, 1, 1, 500)),
        Decision::Locked { .. }
    ));
}
