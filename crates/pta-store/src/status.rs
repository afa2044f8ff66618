//! The time-driven status policy: active, inactive, purge.

use crate::{AgentStatus, StoreError};

/// Ten minutes, in milliseconds.
const TEN_MINUTES_MS: u64 = 10 * 60 * 1_000;
/// Ten days, in milliseconds.
const TEN_DAYS_MS: u64 = 10 * 24 * 60 * 60 * 1_000;

/// When an agent without a connection becomes inactive and when it is purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusPolicy {
    /// Time without a connection after which an agent is inactive (default 10 min), ms.
    pub inactive_after_ms: u64,
    /// Time without a connection after which an agent is purged (default 10 days), ms;
    /// counted from the last time it was seen, like `inactive_after_ms`.
    pub purge_after_ms: u64,
}

impl Default for StatusPolicy {
    fn default() -> Self {
        Self {
            inactive_after_ms: TEN_MINUTES_MS,
            purge_after_ms: TEN_DAYS_MS,
        }
    }
}

/// What [`StatusPolicy::status`] says about an agent at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Liveness {
    /// Connected, or seen within the inactivity period.
    Active,
    /// Not connected for longer than the inactivity period.
    Inactive,
    /// Not connected for longer than the purge period: delete it from the registry.
    Purge,
}

/// What the runtime should do to a stored agent, from [`StatusPolicy::transition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Nothing.
    Keep,
    /// Store this status.
    Set(AgentStatus),
    /// Delete the agent (its revocations stay).
    Purge,
}

impl StatusPolicy {
    /// Checks the policy.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] if a period is zero or purging comes before
    /// inactivity.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.inactive_after_ms == 0 {
            return Err(StoreError::InvalidConfig {
                field: "inactive_after_ms",
            });
        }
        if self.purge_after_ms <= self.inactive_after_ms {
            return Err(StoreError::InvalidConfig {
                field: "purge_after_ms",
            });
        }
        Ok(())
    }

    /// An agent's liveness at `now` (Unix ms), given when it was last seen and whether it is
    /// connected right now. A connected agent is always active; a `last_seen` in the future
    /// (a clock stepping back) counts as just seen.
    ///
    /// For a fixed `last_seen` and no connection, the answer never goes back as `now` grows:
    /// `Active`, then `Inactive` from `last_seen + inactive_after_ms`, then `Purge` from
    /// `last_seen + purge_after_ms`.
    pub fn status(&self, now: u64, last_seen: u64, connected: bool) -> Liveness {
        if connected {
            return Liveness::Active;
        }
        let idle = now.saturating_sub(last_seen);
        if idle >= self.purge_after_ms {
            Liveness::Purge
        } else if idle >= self.inactive_after_ms {
            Liveness::Inactive
        } else {
            Liveness::Active
        }
    }

    /// What to do with an agent stored with `current` status: the liveness applied to the
    /// stored status. A revoked agent stays revoked until it is purged.
    pub fn transition(
        &self,
        now: u64,
        current: AgentStatus,
        last_seen: u64,
        connected: bool,
    ) -> Transition {
        let wanted = match (self.status(now, last_seen, connected), current) {
            (Liveness::Purge, _) => return Transition::Purge,
            (_, AgentStatus::Revoked) => AgentStatus::Revoked,
            (Liveness::Active, _) => AgentStatus::Active,
            (Liveness::Inactive, _) => AgentStatus::Inactive,
        };
        if wanted == current {
            Transition::Keep
        } else {
            Transition::Set(wanted)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{Liveness, StatusPolicy, Transition};
    use crate::AgentStatus;

    const MIN: u64 = 60_000;
    const DAY: u64 = 24 * 60 * MIN;

    #[test]
    fn defaults_are_ten_minutes_and_ten_days() {
        let p = StatusPolicy::default();
        assert!(p.validate().is_ok());
        let seen = 1_000_000;
        assert_eq!(p.status(seen, seen, false), Liveness::Active);
        assert_eq!(p.status(seen + 10 * MIN - 1, seen, false), Liveness::Active);
        assert_eq!(p.status(seen + 10 * MIN, seen, false), Liveness::Inactive);
        assert_eq!(
            p.status(seen + 10 * DAY - 1, seen, false),
            Liveness::Inactive
        );
        assert_eq!(p.status(seen + 10 * DAY, seen, false), Liveness::Purge);
        assert_eq!(p.status(seen + 100 * DAY, seen, true), Liveness::Active);
        assert_eq!(p.status(0, seen, false), Liveness::Active);
    }

    #[test]
    fn invalid_policies_are_refused() {
        let p = StatusPolicy {
            inactive_after_ms: 0,
            ..StatusPolicy::default()
        };
        assert!(p.validate().is_err());
        let mut p = StatusPolicy::default();
        p.purge_after_ms = p.inactive_after_ms;
        assert!(p.validate().is_err());
    }

    #[test]
    fn transitions_keep_revocation() {
        let p = StatusPolicy::default();
        let t = |now, current, connected| p.transition(now, current, 0, connected);
        assert_eq!(t(0, AgentStatus::Active, false), Transition::Keep);
        assert_eq!(
            t(11 * MIN, AgentStatus::Active, false),
            Transition::Set(AgentStatus::Inactive)
        );
        assert_eq!(
            t(11 * MIN, AgentStatus::Inactive, true),
            Transition::Set(AgentStatus::Active)
        );
        assert_eq!(t(11 * MIN, AgentStatus::Revoked, true), Transition::Keep);
        assert_eq!(t(11 * DAY, AgentStatus::Revoked, false), Transition::Purge);
        assert_eq!(t(11 * DAY, AgentStatus::Inactive, false), Transition::Purge);
    }

    proptest! {
        #[test]
        fn status_is_monotonic_in_time(
            last_seen in 0u64..1 << 50,
            a in 0u64..1 << 40,
            b in 0u64..1 << 40,
            inactive in 1u64..1 << 30,
            extra in 1u64..1 << 30,
        ) {
            let p = StatusPolicy {
                inactive_after_ms: inactive,
                purge_after_ms: inactive + extra,
            };
            let (early, late) = (last_seen + a.min(b), last_seen + a.max(b));
            prop_assert!(p.status(early, last_seen, false) <= p.status(late, last_seen, false));
            prop_assert_eq!(p.status(late, last_seen, true), Liveness::Active);
        }
    }
}
