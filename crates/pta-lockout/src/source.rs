//! One network source's spray-detection state and its transitions.

use crate::time::{self, NEVER, Tick};
use crate::{Decision, Outcome, Policy, SourceStatus, UserKey};

/// One source's spray-detection state: the distinct accounts it failed against within
/// `spray_window` (each with its latest failure), and the end of its block.
///
/// A source is blocked by the failure that brings it to `spray_threshold` distinct accounts
/// within the window; its list is then cleared, so after the block it starts afresh. Only
/// [`Outcome::InvalidCredentials`] counts; successes neither count nor excuse. The record of one
/// source never affects another's decisions.
///
/// The list holds at most `spray_threshold` entries of 12 bytes (16 with alignment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRecord {
    pub(crate) hits: Vec<(u64, Tick)>,
    pub(crate) blocked_until: Tick,
    pub(crate) last_seen: Tick,
}

impl SourceRecord {
    /// A record with no history, as for a source never seen.
    pub const EMPTY: Self = Self {
        hits: Vec::new(),
        blocked_until: NEVER,
        last_seen: NEVER,
    };

    /// [`Decision::SourceBlocked`] while the source is blocked, else [`Decision::Allow`].
    pub fn check(&self, now: u64) -> Decision {
        if time::floor(now) < self.blocked_until {
            Decision::SourceBlocked {
                until: time::to_ms(self.blocked_until),
            }
        } else {
            Decision::Allow
        }
    }

    /// Applies the directory's `outcome` for an attempt from this source against `user`.
    pub fn record(&mut self, policy: &Policy, now: u64, user: UserKey, outcome: Outcome) {
        if outcome != Outcome::InvalidCredentials {
            return;
        }
        let now_s = time::floor(now);
        self.last_seen = self.last_seen.max(now_s);
        self.forget_old(policy, now_s);
        let raw = user.to_raw();
        match self.hits.iter_mut().find(|(u, _)| *u == raw) {
            Some((_, at)) => *at = (*at).max(now_s),
            None => self.hits.push((raw, now_s)),
        }
        if self.hits.len() >= usize::from(policy.spray_threshold) {
            let end = time::ceil(now).saturating_add(time::secs(policy.spray_block_duration));
            self.blocked_until = self.blocked_until.max(end);
            self.hits = Vec::new();
        }
    }

    /// Lifts the block and forgets the counted accounts (an administrator's unblock).
    pub fn unblock(&mut self) {
        self.blocked_until = NEVER;
        self.hits = Vec::new();
    }

    /// The source's state at `now`.
    #[must_use]
    pub fn status(&self, policy: &Policy, now: u64) -> SourceStatus {
        let now_s = time::floor(now);
        let window = time::secs(policy.spray_window);
        SourceStatus {
            distinct_users: self
                .hits
                .iter()
                .filter(|&&(_, at)| now_s < at.saturating_add(window))
                .count(),
            blocked_until: (now_s < self.blocked_until).then(|| time::to_ms(self.blocked_until)),
        }
    }

    /// Whether nothing is left that could change a decision at `now`: not blocked, no failure
    /// within the window. A store may drop such a record.
    #[must_use]
    pub fn is_lapsed(&self, policy: &Policy, now: u64) -> bool {
        let status = self.status(policy, now);
        status.blocked_until.is_none() && status.distinct_users == 0
    }

    /// Heap bytes held by the record (its list's capacity).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.hits.capacity() * std::mem::size_of::<(u64, Tick)>()
    }

    /// The stamp at which the current block ends (`NEVER` if never blocked).
    pub(crate) fn blocked_until(&self) -> Tick {
        self.blocked_until
    }

    pub(crate) fn active_until(&self) -> Tick {
        self.last_seen.max(self.blocked_until)
    }

    fn forget_old(&mut self, policy: &Policy, now_s: Tick) {
        let window = time::secs(policy.spray_window);
        self.hits
            .retain(|&(_, at)| now_s < at.saturating_add(window));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn user(n: u64) -> UserKey {
        UserKey::from_raw(n)
    }

    #[test]
    fn thirtieth_distinct_user_blocks() {
        let p = Policy::default();
        let mut s = SourceRecord::EMPTY;
        for n in 0..29 {
            s.record(&p, n * 1000, user(n), Outcome::InvalidCredentials);
        }
        assert_eq!(s.check(29_000), Decision::Allow);
        assert_eq!(s.status(&p, 29_000).distinct_users, 29);
        s.record(&p, 29_000, user(29), Outcome::InvalidCredentials);
        let until = 29_000 + 30 * MIN;
        assert_eq!(s.check(29_000), Decision::SourceBlocked { until });
        assert_eq!(s.check(until - 1), Decision::SourceBlocked { until });
        assert_eq!(s.check(until), Decision::Allow);
    }

    #[test]
    fn same_user_counts_once() {
        let p = Policy::default();
        let mut s = SourceRecord::EMPTY;
        for n in 0..100 {
            s.record(&p, n, user(n % 5), Outcome::InvalidCredentials);
        }
        assert_eq!(s.status(&p, 100).distinct_users, 5);
        assert!(s.check(100).is_allow());
    }

    #[test]
    fn window_slides() {
        let p = Policy::default();
        let mut s = SourceRecord::EMPTY;
        // One new account every 21 s: at most 29 fall within any 10 minutes.
        for n in 0..200 {
            s.record(&p, n * 21_000, user(n), Outcome::InvalidCredentials);
            assert!(s.check(n * 21_000).is_allow(), "blocked at {n}");
        }
        assert!(s.status(&p, 200 * 21_000).distinct_users <= 29);
    }

    #[test]
    fn only_invalid_credentials_count() {
        let p = Policy::default();
        let mut s = SourceRecord::EMPTY;
        for n in 0..100 {
            s.record(&p, 0, user(n), Outcome::Success);
            s.record(&p, 0, user(n), Outcome::Failure);
        }
        assert_eq!(s, SourceRecord::EMPTY);
    }

    #[test]
    fn unblock_and_lapse() {
        let p = Policy {
            spray_threshold: 2,
            ..Policy::default()
        };
        let mut s = SourceRecord::EMPTY;
        s.record(&p, 0, user(1), Outcome::InvalidCredentials);
        assert!(!s.is_lapsed(&p, 0));
        assert!(s.is_lapsed(&p, 10 * MIN));
        s.record(&p, 0, user(2), Outcome::InvalidCredentials);
        assert!(matches!(s.check(0), Decision::SourceBlocked { .. }));
        assert_eq!(s.heap_bytes(), 0);
        s.unblock();
        assert!(s.check(0).is_allow());
        assert!(s.is_lapsed(&p, 0));
    }
}
