//! Hooks for the fuzz targets (not a stable API).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::{
    Attempt, ClassStatus, Decision, Location, MemoryStore, MemoryStoreLimits, Outcome, PasswordTag,
    Policy, Source, UserKey, UserStatus,
};

/// Decodes a small policy, store limits and a sequence of events from `data`, drives a
/// [`MemoryStore`] with them on monotonic virtual time, and asserts after each event:
///
/// - the store never holds more records than its caps;
/// - a lock is only reported for an account with at least `threshold` wrong passwords recorded
///   since its last unlock, ends in the future and no later than the longest lockout from now;
/// - a recorded wrong password either changes nothing in its location class (a repeat) or is
///   counted exactly as the policy says: from level 0 below the threshold it adds one failure;
///   at the threshold, or at any level above 0 (a lockout not yet decayed), it locks the class
///   until `ceil(now) + lockout(level)` (never shortening a running lock) and raises the level
///   by one, up to the first capped level;
/// - a recorded success leaves its location class clean (no failures, level 0, no lock);
/// - a lock stays, with at least the same end, until it ends, the account signs in from that
///   class or an administrator unlocks it, however many other accounts fill the store;
/// - an account the store refuses to track (shard full of locks) has no state at all;
/// - a block is only reported for a source that failed against at least `spray_threshold`
///   distinct accounts since its last unblock, and ends within the block duration;
/// - a repeat rejection is only reported for a tag recorded as wrong for that account within
///   the repeat window;
/// - [`Outcome::Failure`] changes neither the account's nor the source's state;
/// - right after an unlock (unblock) the account (source) is neither locked (blocked).
pub fn event_sequence(data: &[u8]) {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let policy = Policy {
        threshold: 1 + next() % 5,
        lockout_duration: Duration::from_secs(1 + u64::from(next() % 90)),
        max_lockout_duration: Duration::from_secs(90 + u64::from(next()) * 30),
        quiet_period: Duration::from_secs(1 + u64::from(next()) * 20),
        familiar_window: Duration::from_secs(1 + u64::from(next()) * 60),
        repeat_window: match next() % 4 {
            0 => None,
            n => Some(Duration::from_millis(u64::from(n) * 150_500)),
        },
        spray_threshold: 1 + u16::from(next() % 6),
        spray_window: Duration::from_secs(1 + u64::from(next()) * 5),
        spray_block_duration: Duration::from_secs(1 + u64::from(next()) * 10),
    };
    let limits = MemoryStoreLimits {
        max_users: 1 + usize::from(next() % 12),
        max_sources: 1 + usize::from(next() % 6),
        shards: 1 + usize::from(next() % 4),
    };
    let Ok(store) = MemoryStore::new(policy.clone(), limits) else {
        return;
    };
    let mut now = (u64::from(next()) << 34) | (u64::from(next()) * 7);

    let mut model = Model::default();
    let lock_slack = policy.max_lockout_duration.as_millis() as u64 + 1_000;
    let block_slack = policy.spray_block_duration.as_millis() as u64 + 1_000;
    let repeat_slack = policy
        .repeat_window
        .map_or(0, |w| w.as_millis() as u64 + 2_000);

    while let (Some(op), Some(a), Some(b)) = (bytes.next(), bytes.next(), bytes.next()) {
        let user = u64::from(a % 8);
        let source = u128::from((a >> 3) % 4);
        let location = Location::from_raw(u64::from(b % 3));
        let tag = u32::from((b >> 2) % 6);
        let attempt = Attempt::new(
            UserKey::from_raw(user),
            Source::from_raw(source),
            location,
            PasswordTag::from_raw(tag),
        );
        match op % 9 {
            0 => now = now.saturating_add(u64::from(b) * 997),
            1 => now = now.saturating_add(u64::from(b) * 60_000),
            2 | 3 => match store.check(now, &attempt) {
                Decision::Allow => {}
                Decision::Locked { until } => {
                    assert!(until > now && until <= now.saturating_add(lock_slack));
                    let wrong = model.wrong.get(&user).copied().unwrap_or(0);
                    assert!(
                        wrong >= usize::from(policy.threshold),
                        "locked after {wrong}"
                    );
                    let status = store.user_status(now, attempt.user);
                    assert!(
                        status.familiar.locked_until == Some(until)
                            || status.unfamiliar.locked_until == Some(until)
                    );
                }
                Decision::SourceBlocked { until } => {
                    assert!(until > now && until <= now.saturating_add(block_slack));
                    let distinct = model.sprayed.get(&source).map_or(0, HashSet::len);
                    assert!(distinct >= usize::from(policy.spray_threshold));
                }
                Decision::RepeatRejected => {
                    let at = model.bad_at.get(&(user, tag)).copied();
                    assert!(at.is_some_and(|at| now < at.saturating_add(repeat_slack)));
                }
            },
            4 | 5 => {
                let (class, before) = class_status(&store, now, attempt);
                let untracked = store.untracked_attempts();
                store.record(now, &attempt, Outcome::InvalidCredentials);
                *model.wrong.entry(user).or_default() += 1;
                model.sprayed.entry(source).or_default().insert(user);
                model.bad_at.insert((user, tag), now);
                let after = pick(&store.user_status(now, attempt.user), class);
                if store.untracked_attempts() > untracked {
                    assert_eq!(store.user_status(now, attempt.user), UserStatus::default());
                } else if after != before && !saturates(&policy, now) {
                    assert_eq!(after, counted(&policy, now, before));
                }
                if let Some(until) = after.locked_until {
                    let end = model.locks.entry((user, class)).or_default();
                    *end = (*end).max(until);
                }
            }
            6 => {
                let (class, _) = class_status(&store, now, attempt);
                let untracked = store.untracked_attempts();
                store.record(now, &attempt, Outcome::Success);
                model.locks.remove(&(user, class));
                let after = pick(&store.user_status(now, attempt.user), class);
                assert_eq!(after, ClassStatus::default());
                if store.untracked_attempts() > untracked {
                    assert_eq!(store.user_status(now, attempt.user), UserStatus::default());
                }
            }
            7 => {
                let user_before = store.user_status(now, attempt.user);
                let source_before = store.source_status(now, attempt.source);
                store.record(now, &attempt, Outcome::Failure);
                assert_eq!(store.user_status(now, attempt.user), user_before);
                assert_eq!(store.source_status(now, attempt.source), source_before);
            }
            _ => {
                if b & 1 == 0 {
                    store.unlock_user(attempt.user);
                    model.wrong.remove(&user);
                    model.locks.retain(|&(u, _), _| u != user);
                    assert!(!matches!(
                        store.check(now, &attempt),
                        Decision::Locked { .. }
                    ));
                } else {
                    store.unblock_source(attempt.source);
                    model.sprayed.remove(&source);
                    assert!(!matches!(
                        store.check(now, &attempt),
                        Decision::SourceBlocked { .. }
                    ));
                }
            }
        }
        let usage = store.memory_usage();
        assert!(usage.users <= limits.max_users);
        assert!(usage.sources <= limits.max_sources);
        model.locks.retain(|_, &mut until| now < until);
        for (&(user, familiar), &until) in &model.locks {
            let status = store.user_status(now, UserKey::from_raw(user));
            let held = pick(&status, familiar).locked_until;
            assert!(
                held >= Some(until),
                "lock of {user} lifted: {held:?} < {until}"
            );
        }
    }
}

/// The class (`true`: familiar) an attempt falls in, as its account's status shows, and that
/// class's counters.
fn class_status(store: &MemoryStore, now: u64, attempt: Attempt) -> (bool, ClassStatus) {
    let status = store.user_status(now, attempt.user);
    let familiar = status.familiar_locations.contains(&attempt.location);
    (familiar, pick(&status, familiar))
}

fn pick(status: &UserStatus, familiar: bool) -> ClassStatus {
    if familiar {
        status.familiar
    } else {
        status.unfamiliar
    }
}

/// Whether a lock set at `now` could reach the stamps' saturation (about 136 years after the
/// epoch), where exact ends are not promised.
fn saturates(policy: &Policy, now: u64) -> bool {
    now / 1000 + policy.max_lockout_duration.as_secs() + 2 >= u64::from(u32::MAX)
}

/// What a counted wrong password at `now` makes of a class that stood at `before`.
fn counted(policy: &Policy, now: u64, before: ClassStatus) -> ClassStatus {
    let base = policy.lockout_duration.as_millis() as u64;
    let cap = policy.max_lockout_duration.as_millis() as u64;
    let lockout = |level: u8| {
        base.checked_shl(u32::from(level))
            .map_or(cap, |l| l.min(cap))
    };
    let failures = before.failures.saturating_add(1);
    if before.level == 0 && failures < policy.threshold {
        return ClassStatus { failures, ..before };
    }
    let top = (1..32u8).find(|&l| lockout(l) >= cap).unwrap_or(32);
    let end = now.div_ceil(1000) * 1000 + lockout(before.level);
    ClassStatus {
        failures: 0,
        level: before.level.saturating_add(1).min(top),
        locked_until: Some(before.locked_until.map_or(end, |until| until.max(end))),
    }
}

/// What the store may at most remember, as counted from the outside.
#[derive(Default)]
struct Model {
    /// Wrong passwords recorded per account since its last unlock.
    wrong: HashMap<u64, usize>,
    /// Distinct accounts failed per source since its last unblock.
    sprayed: HashMap<u128, HashSet<u64>>,
    /// Latest time each (account, tag) was recorded as wrong.
    bad_at: HashMap<(u64, u32), u64>,
    /// Longest lock seen per (account, class is familiar), until it ends or is lifted by a
    /// success in that class or an unlock.
    locks: HashMap<(u64, bool), u64>,
}

/// Decodes `data` as a stored account record and as a stored source record; whatever decodes
/// must encode back to exactly the same bytes and decode again to an equal record. Then as a
/// store snapshot: if it restores, the store's own snapshot restores into a fresh store with
/// the same counts. Decoding never panics, whatever the bytes.
pub fn stored_records(data: &[u8]) {
    snapshot(data);
    if let Ok(record) = crate::UserRecord::decode(data) {
        let mut out = Vec::new();
        record.encode(&mut out);
        assert_eq!(out, data, "an account record re-encodes to other bytes");
        assert_eq!(crate::UserRecord::decode(&out).ok(), Some(record));
    }
    if let Ok(record) = crate::SourceRecord::decode(data) {
        let mut out = Vec::new();
        record.encode(&mut out);
        assert_eq!(out, data, "a source record re-encodes to other bytes");
        assert_eq!(crate::SourceRecord::decode(&out).ok(), Some(record));
    }
}

fn snapshot(data: &[u8]) {
    let fresh = || MemoryStore::new(Policy::default(), MemoryStoreLimits::default());
    let (Ok(a), Ok(b)) = (fresh(), fresh()) else {
        return;
    };
    if let Ok(first) = a.restore(0, data) {
        let again = b.restore(0, &a.snapshot(0));
        assert!(
            again.is_ok(),
            "a store's own snapshot does not restore: {again:?}"
        );
        let Ok(again) = again else {
            return;
        };
        assert_eq!(again.users, a.memory_usage().users, "account records lost");
        assert!(first.users >= again.users, "records appeared from nowhere");
    }
}
