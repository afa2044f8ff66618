//! One account's lockout state and its transitions.

use crate::UserStatus;
use crate::time::{self, NEVER, Tick};
use crate::{ClassStatus, Decision, Location, LocationClass, Outcome, PasswordTag, Policy};

/// Locations remembered as familiar per account.
pub const FAMILIAR_SLOTS: usize = 4;
/// Bad-password tags remembered per account.
pub const BAD_PASSWORD_SLOTS: usize = 3;

const FAMILIAR: usize = 0;
const UNFAMILIAR: usize = 1;

/// One account's lockout state: per location class a failure count, a lockout level and a lock
/// end; the last [`BAD_PASSWORD_SLOTS`] bad-password tags; up to [`FAMILIAR_SLOTS`] familiar
/// locations. 96 bytes, no heap.
///
/// The methods are the pure policy: [`UserRecord::check`] reads, [`UserRecord::record`] writes,
/// both at a caller-given `now` (milliseconds). A store keeps one record per [`UserKey`] and
/// applies them under its lock (or in its transaction).
///
/// Each location class moves through the states of the [crate-level diagram](crate#states).
///
/// [`UserKey`]: crate::UserKey
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserRecord {
    pub(crate) familiar: [u64; FAMILIAR_SLOTS],
    pub(crate) familiar_at: [Tick; FAMILIAR_SLOTS],
    pub(crate) bad_tags: [u32; BAD_PASSWORD_SLOTS],
    pub(crate) bad_at: [Tick; BAD_PASSWORD_SLOTS],
    pub(crate) locked_until: [Tick; 2],
    pub(crate) last_failure: [Tick; 2],
    pub(crate) last_seen: Tick,
    pub(crate) failures: [u8; 2],
    pub(crate) level: [u8; 2],
}

/// A class's counters as they stand at some instant, after quiet-period decay.
#[derive(Clone, Copy)]
struct View {
    failures: u8,
    level: u8,
}

impl UserRecord {
    /// A record with no history, as for an account never seen.
    pub const EMPTY: Self = Self {
        familiar: [0; FAMILIAR_SLOTS],
        familiar_at: [NEVER; FAMILIAR_SLOTS],
        bad_tags: [0; BAD_PASSWORD_SLOTS],
        bad_at: [NEVER; BAD_PASSWORD_SLOTS],
        locked_until: [NEVER; 2],
        last_failure: [NEVER; 2],
        last_seen: NEVER,
        failures: [0; 2],
        level: [0; 2],
    };

    /// Whether an attempt from `location` with password tag `password` may proceed at `now`:
    /// [`Decision::Locked`] while that location's class is locked, else
    /// [`Decision::RepeatRejected`] for a bad password seen within `repeat_window`, else
    /// [`Decision::Allow`]. Never [`Decision::SourceBlocked`]: that is the source's record.
    pub fn check(
        &self,
        policy: &Policy,
        now: u64,
        location: Location,
        password: PasswordTag,
    ) -> Decision {
        let now_s = time::floor(now);
        let class = self.class_of(policy, location, now_s);
        let until = self.locked_until[class];
        if now_s < until {
            return Decision::Locked {
                until: time::to_ms(until),
            };
        }
        if let Some(window) = policy.repeat_window
            && let Some(slot) = self.bad_slot(password)
            && now_s < self.bad_at[slot].saturating_add(time::secs(window))
        {
            return Decision::RepeatRejected;
        }
        Decision::Allow
    }

    /// Applies the directory's `outcome` for an attempt at `now`.
    ///
    /// - [`Outcome::InvalidCredentials`]: a password among the last three bad ones refreshes its
    ///   time and counts for nothing; any other is remembered and counted in the location's
    ///   class. From lockout level 0 the class locks when the count reaches `threshold`; once
    ///   it has been locked, and until its level has decayed back to 0, each counted failure
    ///   locks it again, for twice as long as the last lock (capped).
    /// - [`Outcome::Success`]: resets the location's class, forgets the password if it was
    ///   remembered as bad, and makes the location familiar.
    /// - [`Outcome::Failure`] changes nothing.
    pub fn record(
        &mut self,
        policy: &Policy,
        now: u64,
        location: Location,
        password: PasswordTag,
        outcome: Outcome,
    ) {
        let now_s = time::floor(now);
        match outcome {
            Outcome::Failure => {}
            Outcome::Success => {
                self.last_seen = self.last_seen.max(now_s);
                let class = self.class_of(policy, location, now_s);
                self.reset_class(class);
                if let Some(slot) = self.bad_slot(password) {
                    self.bad_tags[slot] = 0;
                    self.bad_at[slot] = NEVER;
                }
                self.remember_location(policy, location, now_s);
            }
            Outcome::InvalidCredentials => {
                self.last_seen = self.last_seen.max(now_s);
                if let Some(slot) = self.bad_slot(password) {
                    self.bad_at[slot] = self.bad_at[slot].max(now_s);
                    return;
                }
                self.remember_bad(password, now_s);
                let class = self.class_of(policy, location, now_s);
                self.count_failure(policy, class, now, now_s);
            }
        }
    }

    /// Clears both classes' counters, levels and locks (an administrator's unlock). Familiar
    /// locations and remembered bad passwords stay.
    pub fn unlock(&mut self) {
        self.reset_class(FAMILIAR);
        self.reset_class(UNFAMILIAR);
    }

    /// The account's state at `now`, after quiet-period decay.
    #[must_use]
    pub fn status(&self, policy: &Policy, now: u64) -> UserStatus {
        let now_s = time::floor(now);
        let class = |c: usize| {
            let view = self.view(policy, c, now_s);
            let until = self.locked_until[c];
            ClassStatus {
                failures: view.failures,
                level: view.level,
                locked_until: (now_s < until).then(|| time::to_ms(until)),
            }
        };
        let window = time::secs(policy.familiar_window);
        let familiar_locations = (0..FAMILIAR_SLOTS)
            .filter(|&i| Self::live(self.familiar_at[i], window, now_s))
            .map(|i| Location::from_raw(self.familiar[i]))
            .collect();
        UserStatus {
            familiar: class(FAMILIAR),
            unfamiliar: class(UNFAMILIAR),
            familiar_locations,
            remembered_bad_passwords: self.bad_at.iter().filter(|&&at| at != NEVER).count(),
        }
    }

    /// Which class an attempt from `location` at `now` falls in.
    #[must_use]
    pub fn location_class(&self, policy: &Policy, now: u64, location: Location) -> LocationClass {
        match self.class_of(policy, location, time::floor(now)) {
            FAMILIAR => LocationClass::Familiar,
            _ => LocationClass::Unfamiliar,
        }
    }

    /// Whether the record has nothing left that could change a decision at `now`: no lock,
    /// counters decayed, no familiar location, no bad password within the quiet period or the
    /// repeat window. A store may drop such a record.
    #[must_use]
    pub fn is_lapsed(&self, policy: &Policy, now: u64) -> bool {
        let now_s = time::floor(now);
        let classes_clean = self.is_quiet(policy, now);
        let familiar_window = time::secs(policy.familiar_window);
        let no_familiar = self
            .familiar_at
            .iter()
            .all(|&at| !Self::live(at, familiar_window, now_s));
        let bad_window =
            time::secs(policy.quiet_period).max(policy.repeat_window.map_or(0, time::secs));
        let no_bad = self
            .bad_at
            .iter()
            .all(|&at| !Self::live(at, bad_window, now_s));
        classes_clean && no_familiar && no_bad
    }

    /// The stamp until which a running lock pins the record: a store must not drop it before
    /// then, or the lock would be lifted. `NEVER` (or a past stamp) when nothing is locked.
    pub(crate) fn pinned_until(&self) -> Tick {
        self.locked_until[FAMILIAR].max(self.locked_until[UNFAMILIAR])
    }

    /// Whether neither class holds anything that weighs on a decision at `now`: no running
    /// lock, no failure within the quiet period, lockout level 0. Such a record may still
    /// hold familiar locations and remembered bad passwords, which cost little to forget: a
    /// store evicts these records first.
    pub(crate) fn is_quiet(&self, policy: &Policy, now: u64) -> bool {
        let now_s = time::floor(now);
        [FAMILIAR, UNFAMILIAR].iter().all(|&c| {
            let view = self.view(policy, c, now_s);
            view.failures == 0 && view.level == 0 && now_s >= self.locked_until[c]
        })
    }

    /// The instant (as a stamp) of the record's last activity, counting a running lock as
    /// activity until it ends: the eviction order, within a rank, of a store under pressure.
    pub(crate) fn active_until(&self) -> Tick {
        self.last_seen
            .max(self.locked_until[FAMILIAR])
            .max(self.locked_until[UNFAMILIAR])
    }

    fn live(at: Tick, window: u32, now_s: Tick) -> bool {
        at != NEVER && now_s < at.saturating_add(window)
    }

    fn class_of(&self, policy: &Policy, location: Location, now_s: Tick) -> usize {
        if location.is_unknown() {
            return UNFAMILIAR;
        }
        let window = time::secs(policy.familiar_window);
        let raw = location.to_raw();
        let familiar = (0..FAMILIAR_SLOTS)
            .any(|i| self.familiar[i] == raw && Self::live(self.familiar_at[i], window, now_s));
        if familiar { FAMILIAR } else { UNFAMILIAR }
    }

    fn bad_slot(&self, password: PasswordTag) -> Option<usize> {
        let raw = password.to_raw();
        (0..BAD_PASSWORD_SLOTS).find(|&i| self.bad_at[i] != NEVER && self.bad_tags[i] == raw)
    }

    /// Puts `password` in an empty slot, or over the oldest one.
    fn remember_bad(&mut self, password: PasswordTag, now_s: Tick) {
        let slot = oldest(&self.bad_at);
        self.bad_tags[slot] = password.to_raw();
        self.bad_at[slot] = now_s;
    }

    /// Refreshes `location` if known, else puts it in an empty or lapsed slot, or over the one
    /// with the oldest success.
    fn remember_location(&mut self, policy: &Policy, location: Location, now_s: Tick) {
        if location.is_unknown() {
            return;
        }
        let raw = location.to_raw();
        let window = time::secs(policy.familiar_window);
        let slot = (0..FAMILIAR_SLOTS)
            .find(|&i| self.familiar[i] == raw && Self::live(self.familiar_at[i], window, now_s))
            .unwrap_or_else(|| oldest(&self.familiar_at));
        self.familiar[slot] = raw;
        self.familiar_at[slot] = self.familiar_at[slot].max(now_s);
    }

    /// The class's counters at `now_s`: after a quiet period with neither a failure nor a lock,
    /// the failure count is 0 and the level has dropped by one per full period.
    fn view(&self, policy: &Policy, class: usize, now_s: Tick) -> View {
        let mut view = View {
            failures: self.failures[class],
            level: self.level[class],
        };
        let quiet = time::secs(policy.quiet_period).max(1);
        let since = self.last_failure[class].max(self.locked_until[class]);
        if since != NEVER && now_s >= since.saturating_add(quiet) {
            let periods = (now_s - since) / quiet;
            view.failures = 0;
            view.level = view
                .level
                .saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX));
        }
        view
    }

    /// Counts a failure in `class`. From level 0 it locks when the count reaches the threshold;
    /// at a higher level (a lockout not yet decayed away) every counted failure locks again, for
    /// `lockout(level)`. A failure recorded during a running lock (one that raced it: `check`
    /// refuses attempts while locked) re-locks the same way, so a lock is never shortened and
    /// parallel guesses escalate it.
    fn count_failure(&mut self, policy: &Policy, class: usize, now: u64, now_s: Tick) {
        let view = self.view(policy, class, now_s);
        let mut failures = view.failures.saturating_add(1);
        let mut level = view.level;
        if level > 0 || failures >= policy.threshold {
            let end = time::ceil(now).saturating_add(policy.lockout_secs(level));
            self.locked_until[class] = self.locked_until[class].max(end);
            level = level.saturating_add(1).min(max_level(policy));
            failures = 0;
        }
        self.failures[class] = failures;
        self.level[class] = level;
        self.last_failure[class] = self.last_failure[class].max(now_s);
    }

    fn reset_class(&mut self, class: usize) {
        self.failures[class] = 0;
        self.level[class] = 0;
        self.locked_until[class] = NEVER;
        self.last_failure[class] = NEVER;
    }
}

/// The lowest level whose lockout is already the capped length (higher levels would add nothing
/// but a slower decay), and at least 1: a class that has been locked is at level 1 or above
/// until it decays, which is what makes the next counted failure lock it again.
fn max_level(policy: &Policy) -> u8 {
    let cap = time::secs(policy.max_lockout_duration);
    let mut level = 0u8;
    while level < 32 && policy.lockout_secs(level) < cap {
        level += 1;
    }
    level.max(1)
}

/// Index of the smallest stamp (an empty slot, `NEVER`, is smallest).
fn oldest(stamps: &[Tick]) -> usize {
    let mut best = 0;
    for (i, &at) in stamps.iter().enumerate() {
        if at < stamps[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SEC: u64 = 1000;
    const HOME: Location = Location::from_raw(7);
    const CAFE: Location = Location::from_raw(8);

    fn tag(n: u32) -> PasswordTag {
        PasswordTag::from_raw(n)
    }

    /// `n` distinct bad passwords from `location`, one per second from `start`.
    fn fail(r: &mut UserRecord, p: &Policy, start: u64, location: Location, n: u32) {
        for i in 0..n {
            r.record(
                p,
                start + u64::from(i) * SEC,
                location,
                tag(1000 + i),
                Outcome::InvalidCredentials,
            );
        }
    }

    #[test]
    fn record_is_small() {
        assert!(std::mem::size_of::<UserRecord>() <= 96);
    }

    #[test]
    fn tenth_failure_locks_for_sixty_seconds() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 9);
        assert_eq!(r.check(&p, 9 * SEC, CAFE, tag(1)), Decision::Allow);
        r.record(&p, 9 * SEC, CAFE, tag(1), Outcome::InvalidCredentials);
        let until = 69 * SEC;
        assert_eq!(
            r.check(&p, 9 * SEC, CAFE, tag(2)),
            Decision::Locked { until }
        );
        assert_eq!(
            r.check(&p, until - 1, CAFE, tag(2)),
            Decision::Locked { until }
        );
        assert_eq!(r.check(&p, until, CAFE, tag(2)), Decision::Allow);
    }

    #[test]
    fn fractional_now_rounds_the_lock_up() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 500, CAFE, 10);
        // Last failure at 9.5 s: the lock lasts at least 60 s, to the next whole second.
        assert_eq!(
            r.check(&p, 9_500, CAFE, tag(1)),
            Decision::Locked { until: 70_000 }
        );
    }

    /// The end of the running lock in the unfamiliar class, in milliseconds.
    fn lock_end(r: &UserRecord, p: &Policy, now: u64) -> Option<u64> {
        r.status(p, now).unfamiliar.locked_until
    }

    #[test]
    fn after_a_lockout_one_failure_relocks_for_twice_as_long() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10); // locked 60 s from 9 s -> 69 s, level 1
        let mut end = 69 * SEC;
        assert_eq!(lock_end(&r, &p, end - 1), Some(end));
        let mut lengths = Vec::new();
        for n in 0..9u32 {
            // The lock has ended: the class allows the attempt ...
            assert_eq!(r.check(&p, end, CAFE, tag(n)), Decision::Allow);
            assert_eq!(r.status(&p, end).unfamiliar.failures, 0);
            // ... and one wrong password locks it again.
            r.record(&p, end, CAFE, tag(n), Outcome::InvalidCredentials);
            let next = lock_end(&r, &p, end).unwrap();
            lengths.push((next - end) / SEC);
            end = next;
        }
        assert_eq!(lengths, [120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]);
        // The level stops at the first capped lockout (60 s * 2^6 >= 1 h).
        assert_eq!(r.status(&p, end).unfamiliar.level, 6);
    }

    #[test]
    fn a_repeat_does_not_relock() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10);
        // 1009 was the last wrong password: trying it again after the lock counts for nothing.
        r.record(&p, 69 * SEC, CAFE, tag(1009), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&r, &p, 69 * SEC), None);
        r.record(&p, 69 * SEC, CAFE, tag(1), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&r, &p, 69 * SEC), Some(189 * SEC));
    }

    #[test]
    fn decay_restores_the_full_threshold() {
        let p = Policy::default();
        let quiet = 3600 * SEC;
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10);
        let mut end = 69 * SEC;
        for n in 0..6 {
            r.record(&p, end, CAFE, tag(n), Outcome::InvalidCredentials);
            end = lock_end(&r, &p, end).unwrap();
        }
        assert_eq!(r.status(&p, end).unfamiliar.level, 6);
        // One level per quiet hour after the last lock ended. Three hours: level 3, and one
        // failure locks for 60 s * 2^3.
        let mut partly = r.clone();
        let t = end + 3 * quiet;
        assert_eq!(partly.status(&p, t).unfamiliar.level, 3);
        partly.record(&p, t, CAFE, tag(50), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&partly, &p, t), Some(t + 480 * SEC));
        // A second before the sixth quiet hour is over: still level 1, one failure re-locks.
        let mut almost = r.clone();
        let t = end + 6 * quiet - SEC;
        assert_eq!(almost.status(&p, t).unfamiliar.level, 1);
        almost.record(&p, t, CAFE, tag(50), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&almost, &p, t), Some(t + 120 * SEC));
        // Six quiet hours: level 0, and the full threshold applies again with a 60 s lock.
        let t = end + 6 * quiet;
        assert_eq!(r.status(&p, t).unfamiliar.level, 0);
        fail(&mut r, &p, t, CAFE, 9);
        assert_eq!(r.check(&p, t + 9 * SEC, CAFE, tag(1)), Decision::Allow);
        assert_eq!(r.status(&p, t + 9 * SEC).unfamiliar.failures, 9);
        r.record(&p, t + 9 * SEC, CAFE, tag(1), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&r, &p, t + 9 * SEC), Some(t + 69 * SEC));
    }

    #[test]
    fn success_after_a_lockout_restores_the_full_threshold() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10);
        r.record(&p, 69 * SEC, CAFE, tag(42), Outcome::Success);
        assert_eq!(r.status(&p, 69 * SEC).unfamiliar.level, 0);
        // CAFE is familiar now; the familiar class starts clean.
        fail(&mut r, &p, 70 * SEC, CAFE, 9);
        assert_eq!(r.status(&p, 79 * SEC).familiar.failures, 9);
        assert_eq!(r.check(&p, 79 * SEC, CAFE, tag(1)), Decision::Allow);
    }

    #[test]
    fn relocks_even_when_the_first_lockout_is_the_longest() {
        let p = Policy {
            max_lockout_duration: Duration::from_secs(60),
            ..Policy::default()
        };
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10);
        assert_eq!(r.status(&p, 69 * SEC).unfamiliar.level, 1);
        r.record(&p, 69 * SEC, CAFE, tag(1), Outcome::InvalidCredentials);
        assert_eq!(lock_end(&r, &p, 69 * SEC), Some(129 * SEC));
        assert_eq!(r.status(&p, 129 * SEC).unfamiliar.level, 1);
    }

    #[test]
    fn level_decays_one_step_per_quiet_period() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 10); // locked 60 s from 9 s -> 69 s
        r.record(&p, 69 * SEC, CAFE, tag(1), Outcome::InvalidCredentials); // 120 s -> 189 s
        let end = 189 * SEC;
        let st = r.status(&p, end);
        assert_eq!(st.unfamiliar.level, 2);
        assert_eq!(st.unfamiliar.locked_until, None);
        assert_eq!(r.status(&p, end + 3600 * SEC - 1).unfamiliar.level, 2);
        assert_eq!(r.status(&p, end + 3600 * SEC).unfamiliar.level, 1);
        assert_eq!(r.status(&p, end + 7200 * SEC).unfamiliar.level, 0);
        // A lockout after one quiet hour is at level 1 again: 120 s.
        let t = end + 3600 * SEC;
        r.record(&p, t, CAFE, tag(2), Outcome::InvalidCredentials);
        assert_eq!(
            r.check(&p, t, CAFE, tag(3)),
            Decision::Locked {
                until: t + 120 * SEC
            }
        );
    }

    #[test]
    fn failures_reset_after_a_quiet_period() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 9);
        assert_eq!(r.status(&p, 3600 * SEC).unfamiliar.failures, 9);
        assert_eq!(r.status(&p, 3608 * SEC).unfamiliar.failures, 0);
        fail(&mut r, &p, 3608 * SEC, CAFE, 1);
        assert_eq!(r.status(&p, 3608 * SEC).unfamiliar.failures, 1);
        assert!(r.check(&p, 3608 * SEC, CAFE, tag(5)).is_allow());
    }

    #[test]
    fn repeats_do_not_count_and_are_rejected_within_the_window() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        for i in 0..50 {
            r.record(
                &p,
                i * SEC,
                CAFE,
                tag(i as u32 % 3),
                Outcome::InvalidCredentials,
            );
        }
        assert_eq!(r.status(&p, 50 * SEC).unfamiliar.failures, 3);
        assert_eq!(
            r.check(&p, 50 * SEC, CAFE, tag(0)),
            Decision::RepeatRejected
        );
        assert_eq!(r.check(&p, 50 * SEC, CAFE, tag(9)), Decision::Allow);
        // Tag 0 was last seen at 48 s; the window is 300 s.
        assert_eq!(
            r.check(&p, 347 * SEC, CAFE, tag(0)),
            Decision::RepeatRejected
        );
        assert_eq!(r.check(&p, 348 * SEC, CAFE, tag(0)), Decision::Allow);
    }

    #[test]
    fn repeat_rejection_can_be_turned_off() {
        let p = Policy {
            repeat_window: None,
            ..Policy::default()
        };
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, CAFE, tag(1), Outcome::InvalidCredentials);
        assert_eq!(r.check(&p, 0, CAFE, tag(1)), Decision::Allow);
        r.record(&p, 0, CAFE, tag(1), Outcome::InvalidCredentials);
        assert_eq!(r.status(&p, 0).unfamiliar.failures, 1);
    }

    #[test]
    fn only_the_last_three_bad_passwords_are_remembered() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        for t in 1..=4 {
            r.record(
                &p,
                u64::from(t) * SEC,
                CAFE,
                tag(t),
                Outcome::InvalidCredentials,
            );
        }
        assert_eq!(r.check(&p, 5 * SEC, CAFE, tag(1)), Decision::Allow);
        for t in 2..=4 {
            assert_eq!(r.check(&p, 5 * SEC, CAFE, tag(t)), Decision::RepeatRejected);
        }
    }

    #[test]
    fn success_makes_location_familiar_and_classes_stay_apart() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, HOME, tag(42), Outcome::Success);
        assert_eq!(r.location_class(&p, 0, HOME), LocationClass::Familiar);
        assert_eq!(r.location_class(&p, 0, CAFE), LocationClass::Unfamiliar);
        fail(&mut r, &p, SEC, CAFE, 10);
        assert!(matches!(
            r.check(&p, 11 * SEC, CAFE, tag(42)),
            Decision::Locked { .. }
        ));
        assert_eq!(r.check(&p, 11 * SEC, HOME, tag(42)), Decision::Allow);
        let st = r.status(&p, 11 * SEC);
        assert_eq!(st.familiar.failures, 0);
        assert_eq!(st.familiar_locations, [HOME]);
    }

    #[test]
    fn familiarity_expires_after_the_window() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, HOME, tag(42), Outcome::Success);
        let month = p.familiar_window.as_millis() as u64;
        assert_eq!(
            r.location_class(&p, month - SEC, HOME),
            LocationClass::Familiar
        );
        assert_eq!(r.location_class(&p, month, HOME), LocationClass::Unfamiliar);
    }

    #[test]
    fn unknown_location_is_never_familiar() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, Location::UNKNOWN, tag(1), Outcome::Success);
        assert_eq!(
            r.location_class(&p, 0, Location::UNKNOWN),
            LocationClass::Unfamiliar
        );
        assert!(r.status(&p, 0).familiar_locations.is_empty());
    }

    #[test]
    fn at_most_four_familiar_locations_and_oldest_goes() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        for i in 1..=5u64 {
            r.record(&p, i * SEC, Location::from_raw(i), tag(0), Outcome::Success);
        }
        let st = r.status(&p, 6 * SEC);
        assert_eq!(st.familiar_locations.len(), FAMILIAR_SLOTS);
        assert!(!st.familiar_locations.contains(&Location::from_raw(1)));
        assert!(st.familiar_locations.contains(&Location::from_raw(5)));
    }

    #[test]
    fn success_resets_its_class_and_forgets_the_password() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 5);
        // The last three bad ones are 1002..=1004; the user then gets 1004 accepted (say, after
        // an administrator set it).
        assert_eq!(
            r.check(&p, 5 * SEC, CAFE, tag(1004)),
            Decision::RepeatRejected
        );
        r.record(&p, 5 * SEC, CAFE, tag(1004), Outcome::Success);
        let st = r.status(&p, 5 * SEC);
        assert_eq!(st.unfamiliar.failures, 0);
        assert_eq!(st.remembered_bad_passwords, 2);
        assert!(r.check(&p, 5 * SEC, CAFE, tag(1004)).is_allow());
    }

    #[test]
    fn failure_outcome_changes_nothing() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        fail(&mut r, &p, 0, CAFE, 3);
        let before = r.clone();
        r.record(&p, 10 * SEC, CAFE, tag(77), Outcome::Failure);
        assert_eq!(r, before);
    }

    #[test]
    fn failures_that_raced_the_lock_escalate_it() {
        // Eleven guesses checked before the lock was written, all recorded: the tenth locks for
        // 60 s, the eleventh re-locks at the next level.
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        for n in 0..11 {
            r.record(&p, 0, CAFE, tag(n), Outcome::InvalidCredentials);
        }
        assert_eq!(lock_end(&r, &p, 0), Some(120 * SEC));
        assert_eq!(r.status(&p, 0).unfamiliar.level, 2);
    }

    #[test]
    fn failure_during_a_lock_never_shortens_it() {
        let p = Policy {
            threshold: 1,
            ..Policy::default()
        };
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, CAFE, tag(1), Outcome::InvalidCredentials);
        r.record(&p, 0, CAFE, tag(2), Outcome::InvalidCredentials);
        // The second lockout (level 1, 120 s) supersedes the first (60 s).
        assert_eq!(
            r.check(&p, 0, CAFE, tag(3)),
            Decision::Locked { until: 120 * SEC }
        );
    }

    #[test]
    fn unlock_clears_locks_but_keeps_history() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(&p, 0, HOME, tag(42), Outcome::Success);
        fail(&mut r, &p, SEC, CAFE, 10);
        r.unlock();
        assert!(r.check(&p, 11 * SEC, CAFE, tag(5)).is_allow());
        let st = r.status(&p, 11 * SEC);
        assert_eq!(st.unfamiliar.level, 0);
        assert_eq!(st.familiar_locations, [HOME]);
        assert_eq!(st.remembered_bad_passwords, 3);
    }

    #[test]
    fn lapses_once_everything_has_decayed() {
        let p = Policy {
            familiar_window: Duration::from_secs(10),
            ..Policy::default()
        };
        let mut r = UserRecord::EMPTY;
        assert!(r.is_lapsed(&p, 0));
        r.record(&p, 0, HOME, tag(1), Outcome::Success);
        assert!(!r.is_lapsed(&p, 9 * SEC));
        assert!(r.is_lapsed(&p, 10 * SEC));
        fail(&mut r, &p, 20 * SEC, CAFE, 10);
        assert!(!r.is_lapsed(&p, 3600 * SEC));
        assert!(r.is_lapsed(&p, 100_000 * SEC));
    }

    #[test]
    fn extreme_times_saturate() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        for n in 0..20 {
            r.record(
                &p,
                u64::MAX - n,
                CAFE,
                tag(n as u32),
                Outcome::InvalidCredentials,
            );
        }
        let _ = r.check(&p, u64::MAX, CAFE, tag(0));
        let _ = r.status(&p, 0);
        assert!(!r.is_lapsed(&p, 0));
    }
}
