//! Time as the crate sees it.
//!
//! The public API takes `now` as a `u64` count of milliseconds since an epoch the caller picks
//! (the Unix epoch is the natural choice; a monotonic count works too, as long as every call on
//! one policy or store uses the same one). Stored records keep whole seconds in a `u32`, which is
//! what keeps a tracked user under 100 bytes: the resolution of every lockout, window and period
//! is one second, and stamps saturate after about 136 years from the epoch.
//!
//! A stored stamp is `seconds + 1`, so that `0` can mean "never" without a separate flag.

use std::time::Duration;

/// A stored instant: whole seconds since the caller's epoch, plus one. `0` means never.
pub(crate) type Tick = u32;

/// The stamp that means "never happened".
pub(crate) const NEVER: Tick = 0;

/// Milliseconds in one second.
const MS: u64 = 1000;

/// The stamp of the second that contains `now_ms` (rounding down).
pub(crate) fn floor(now_ms: u64) -> Tick {
    saturate((now_ms / MS).saturating_add(1))
}

/// The stamp of the first whole second at or after `now_ms` (rounding up), so that a period that
/// starts there lasts at least its full length from `now_ms`.
pub(crate) fn ceil(now_ms: u64) -> Tick {
    saturate(now_ms.div_ceil(MS).saturating_add(1))
}

/// The millisecond instant at which stamp `tick` begins.
pub(crate) fn to_ms(tick: Tick) -> u64 {
    u64::from(tick.saturating_sub(1)).saturating_mul(MS)
}

/// A duration in whole seconds, rounded up, saturating at `u32::MAX`.
pub(crate) fn secs(d: Duration) -> u32 {
    let whole = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    saturate(whole)
}

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_ceil_bracket_the_instant() {
        assert_eq!(floor(0), 1);
        assert_eq!(ceil(0), 1);
        assert_eq!(floor(1_999), 2);
        assert_eq!(ceil(1_001), 3);
        assert_eq!(ceil(2_000), 3);
        assert_eq!(to_ms(ceil(1_001)), 2_000);
        assert_eq!(to_ms(floor(1_999)), 1_000);
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        assert_eq!(floor(u64::MAX), u32::MAX);
        assert_eq!(ceil(u64::MAX), u32::MAX);
        assert_eq!(secs(Duration::MAX), u32::MAX);
        assert_eq!(to_ms(NEVER), 0);
    }

    #[test]
    fn durations_round_up_to_seconds() {
        assert_eq!(secs(Duration::from_millis(1)), 1);
        assert_eq!(secs(Duration::from_secs(60)), 60);
        assert_eq!(secs(Duration::from_millis(60_001)), 61);
    }
}
