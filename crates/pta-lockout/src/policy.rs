//! The policy's settings, their defaults, and the comparison with the directory's own lockout.

use std::time::Duration;

use crate::{LockoutError, time};

/// Smart-lockout settings. Defaults follow Microsoft Entra smart lockout.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `threshold` | 10 | counted failures in one location class that lock it from lockout level 0 (after a lockout, one failure re-locks until the level has decayed to 0) |
/// | `lockout_duration` | 60 s | first lockout; each further lockout doubles it |
/// | `max_lockout_duration` | 1 h | cap on the doubling |
/// | `quiet_period` | 1 h | without failures or locks for this long, the failure count resets and the lockout level drops by one per period; at level 0 the full `threshold` applies again |
/// | `familiar_window` | 30 days | a location stays familiar this long after a success from it |
/// | `repeat_window` | `Some(5 min)` | a repeat of a recent bad password is rejected without asking the directory; `None` turns that off (repeats still never count) |
/// | `spray_threshold` | 30 | distinct accounts a source may fail against within `spray_window` |
/// | `spray_window` | 10 min | sliding window for spray detection |
/// | `spray_block_duration` | 30 min | how long a spraying source is refused |
///
/// All times have a resolution of one second (durations round up).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Counted failures (in one location class) after which that class is locked, from lockout
    /// level 0. Once the class has been locked, and until its level has decayed back to 0, a
    /// single counted failure locks it again. 1 to 255.
    pub threshold: u8,
    /// Length of the first lockout.
    pub lockout_duration: Duration,
    /// Longest lockout: doubling stops here.
    pub max_lockout_duration: Duration,
    /// Quiet time (no counted failure, no running lock) after which the failure count resets
    /// and the lockout level steps down by one; again after each further period.
    pub quiet_period: Duration,
    /// How long a successful sign-in keeps its location familiar.
    pub familiar_window: Duration,
    /// Window in which a repeated bad password is answered without the directory.
    pub repeat_window: Option<Duration>,
    /// Distinct accounts a source may fail against within `spray_window` before it is blocked:
    /// the failure against the `spray_threshold`-th distinct account blocks it. 1 to 1024.
    pub spray_threshold: u16,
    /// Sliding window over which spray failures are counted.
    pub spray_window: Duration,
    /// How long a source that sprayed is refused.
    pub spray_block_duration: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            threshold: 10,
            lockout_duration: Duration::from_secs(60),
            max_lockout_duration: Duration::from_secs(60 * 60),
            quiet_period: Duration::from_secs(60 * 60),
            familiar_window: Duration::from_secs(30 * 24 * 60 * 60),
            repeat_window: Some(Duration::from_secs(5 * 60)),
            spray_threshold: 30,
            spray_window: Duration::from_secs(10 * 60),
            spray_block_duration: Duration::from_secs(30 * 60),
        }
    }
}

/// A way in which the cloud policy does not protect the on-prem account, from
/// [`Policy::check_against_directory`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryMismatch {
    /// The cloud threshold is more than half the directory's. Failures from familiar and from
    /// unfamiliar locations are counted separately, so the directory can see up to twice the
    /// cloud threshold before the cloud locks both: lower `threshold` to `recommended_max`.
    ThresholdTooHigh {
        /// The policy's threshold.
        cloud: u8,
        /// The directory's lockout threshold.
        directory: u32,
        /// The highest cloud threshold that keeps the directory safe: half the directory's.
        recommended_max: u32,
    },
    /// The cloud lockout is shorter than the directory's, so attempts resume while the
    /// directory still counts earlier ones: raise `lockout_duration` to at least `directory`.
    DurationTooShort {
        /// The policy's first lockout duration.
        cloud: Duration,
        /// The directory's lockout duration (or its "reset counter after" time).
        directory: Duration,
    },
}

impl Policy {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`LockoutError::InvalidConfig`] naming the first field that is zero (or, for
    /// `spray_threshold`, above 1024), or `max_lockout_duration` shorter than
    /// `lockout_duration`.
    pub fn validate(&self) -> Result<(), LockoutError> {
        let bad = |field| Err(LockoutError::InvalidConfig { field });
        if self.threshold == 0 {
            return bad("threshold");
        }
        if self.lockout_duration.is_zero() {
            return bad("lockout_duration");
        }
        if self.max_lockout_duration < self.lockout_duration {
            return bad("max_lockout_duration");
        }
        if self.quiet_period.is_zero() {
            return bad("quiet_period");
        }
        if self.familiar_window.is_zero() {
            return bad("familiar_window");
        }
        if self.repeat_window.is_some_and(|w| w.is_zero()) {
            return bad("repeat_window");
        }
        if self.spray_threshold == 0 || self.spray_threshold > Self::MAX_SPRAY_THRESHOLD {
            return bad("spray_threshold");
        }
        if self.spray_window.is_zero() {
            return bad("spray_window");
        }
        if self.spray_block_duration.is_zero() {
            return bad("spray_block_duration");
        }
        Ok(())
    }

    /// Highest accepted `spray_threshold`: a source's record holds one entry per account, so
    /// this bounds its size.
    pub const MAX_SPRAY_THRESHOLD: u16 = 1024;

    /// Compares this policy with the directory's own lockout (`lockoutThreshold` and
    /// `lockoutDuration` in Active Directory; `pwdMaxFailure` and `pwdLockoutDuration` in
    /// OpenLDAP's ppolicy) and lists what leaves the on-prem account exposed. An empty list means
    /// the cloud locks first and longer. A `directory_threshold` of 0 means the directory never
    /// locks, which no cloud threshold can undercut.
    #[must_use]
    pub fn check_against_directory(
        &self,
        directory_threshold: u32,
        directory_duration: Duration,
    ) -> Vec<DirectoryMismatch> {
        let mut found = Vec::new();
        let recommended_max = directory_threshold / 2;
        if directory_threshold != 0 && u32::from(self.threshold) > recommended_max {
            found.push(DirectoryMismatch::ThresholdTooHigh {
                cloud: self.threshold,
                directory: directory_threshold,
                recommended_max,
            });
        }
        if self.lockout_duration < directory_duration {
            found.push(DirectoryMismatch::DurationTooShort {
                cloud: self.lockout_duration,
                directory: directory_duration,
            });
        }
        found
    }

    /// The lockout length, in seconds, for a lockout at `level` (0 for the first).
    pub(crate) fn lockout_secs(&self, level: u8) -> u32 {
        let base = time::secs(self.lockout_duration);
        let cap = time::secs(self.max_lockout_duration);
        let factor = 2u32.saturating_pow(u32::from(level));
        base.saturating_mul(factor).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_entra() {
        let p = Policy::default();
        p.validate().unwrap();
        assert_eq!(p.threshold, 10);
        assert_eq!(p.lockout_duration, Duration::from_secs(60));
        assert_eq!(p.repeat_window, Some(Duration::from_secs(300)));
        assert_eq!(p.spray_threshold, 30);
    }

    #[test]
    fn zero_fields_are_named() {
        type Breaker = fn(&mut Policy);
        let cases: [(&str, Breaker); 9] = [
            ("threshold", |p| p.threshold = 0),
            ("lockout_duration", |p| p.lockout_duration = Duration::ZERO),
            ("max_lockout_duration", |p| {
                p.max_lockout_duration = Duration::from_secs(1)
            }),
            ("quiet_period", |p| p.quiet_period = Duration::ZERO),
            ("familiar_window", |p| p.familiar_window = Duration::ZERO),
            ("repeat_window", |p| p.repeat_window = Some(Duration::ZERO)),
            ("spray_threshold", |p| p.spray_threshold = 1025),
            ("spray_window", |p| p.spray_window = Duration::ZERO),
            ("spray_block_duration", |p| {
                p.spray_block_duration = Duration::ZERO
            }),
        ];
        for (name, break_it) in cases {
            let mut p = Policy::default();
            break_it(&mut p);
            match p.validate() {
                Err(LockoutError::InvalidConfig { field }) => assert_eq!(field, name),
                other => panic!("{name}: expected InvalidConfig, got {other:?}"),
            }
        }
        let off = Policy {
            repeat_window: None,
            ..Policy::default()
        };
        off.validate().unwrap();
    }

    #[test]
    fn lockout_doubles_up_to_the_cap() {
        let p = Policy::default();
        let lengths: Vec<u32> = (0..9).map(|l| p.lockout_secs(l)).collect();
        assert_eq!(lengths, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(p.lockout_secs(u8::MAX), 3600);
    }

    #[test]
    fn directory_comparison() {
        let p = Policy::default();
        // AD with threshold 20 and 60 s: cloud 10 is exactly half, 60 s equal: fine.
        assert!(
            p.check_against_directory(20, Duration::from_secs(60))
                .is_empty()
        );
        // Directory lockout disabled: nothing to undercut.
        assert!(p.check_against_directory(0, Duration::ZERO).is_empty());
        let found = p.check_against_directory(15, Duration::from_secs(30 * 60));
        assert_eq!(
            found,
            [
                DirectoryMismatch::ThresholdTooHigh {
                    cloud: 10,
                    directory: 15,
                    recommended_max: 7
                },
                DirectoryMismatch::DurationTooShort {
                    cloud: Duration::from_secs(60),
                    directory: Duration::from_secs(30 * 60)
                },
            ]
        );
    }
}
