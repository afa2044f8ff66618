//! Key expiry: how long a record must live before nothing in it can change a decision.

use pta_lockout::{Policy, SourceRecord, UserRecord};

/// Added to every expiry, so a record never goes a moment early (second rounding, clock skew
/// between the caller's `now` and Redis's clock).
const SLACK_MS: u64 = 2_000;
/// Longest expiry ever set (about 34 years): far beyond any sensible policy, and well within
/// what Redis accepts for `PX`.
const MAX_TTL_MS: u64 = 1 << 40;
/// Levels a class can climb (the policy caps its level at the first capped lockout, at most
/// 32), plus one: each decays over one quiet period.
const MAX_LEVELS: u64 = 33;

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// An upper bound on how long after its last write an account record can matter: every stamp
/// it holds is at most `now + max_lockout_duration`, and from there its level decays over at
/// most `MAX_LEVELS` quiet periods, its familiar locations over `familiar_window` and its bad
/// passwords over the quiet period or the repeat window.
fn user_bound(policy: &Policy) -> u64 {
    ms(policy.max_lockout_duration)
        .saturating_add(ms(policy.quiet_period).saturating_mul(MAX_LEVELS + 1))
        .saturating_add(ms(policy.familiar_window))
        .saturating_add(policy.repeat_window.map_or(0, ms))
        .saturating_add(SLACK_MS)
}

/// An upper bound on how long after its last write a source record can matter.
fn source_bound(policy: &Policy) -> u64 {
    ms(policy.spray_window)
        .saturating_add(ms(policy.spray_block_duration))
        .saturating_add(SLACK_MS)
}

/// Milliseconds from `now` until `record` has lapsed (`None`: it already has, so it may be
/// deleted), plus slack, capped.
pub(crate) fn user_ttl(policy: &Policy, now: u64, record: &UserRecord) -> Option<u64> {
    ttl(now, user_bound(policy), |t| record.is_lapsed(policy, t))
}

/// As [`user_ttl`], for a source record.
pub(crate) fn source_ttl(policy: &Policy, now: u64, record: &SourceRecord) -> Option<u64> {
    ttl(now, source_bound(policy), |t| record.is_lapsed(policy, t))
}

/// The first whole second (from `now`) at which `lapsed` holds, found by bisection (lapsing is
/// monotonic: once nothing in a record can change a decision, time adds nothing back).
fn ttl(now: u64, bound_ms: u64, lapsed: impl Fn(u64) -> bool) -> Option<u64> {
    if lapsed(now) {
        return None;
    }
    let at = |secs: u64| now.saturating_add(secs.saturating_mul(1000));
    let (mut lo, mut hi) = (0u64, bound_ms.div_ceil(1000).max(1));
    if lapsed(at(hi)) {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if lapsed(at(mid)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    }
    Some(
        hi.saturating_mul(1000)
            .saturating_add(SLACK_MS)
            .min(MAX_TTL_MS),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pta_lockout::{Location, Outcome, PasswordTag, UserKey};

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn a_failure_lives_one_quiet_period() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(
            &p,
            NOW,
            Location::from_raw(3),
            PasswordTag::from_raw(1),
            Outcome::InvalidCredentials,
        );
        let ttl = user_ttl(&p, NOW, &r).unwrap();
        assert!(r.is_lapsed(&p, NOW + ttl));
        assert!(!r.is_lapsed(&p, NOW + ttl - SLACK_MS - 1000));
        assert!((3_600_000..=3_600_000 + 4_000).contains(&ttl), "{ttl}");
    }

    #[test]
    fn a_familiar_location_lives_its_window_and_a_block_its_length() {
        let p = Policy::default();
        let mut r = UserRecord::EMPTY;
        r.record(
            &p,
            NOW,
            Location::from_raw(3),
            PasswordTag::from_raw(1),
            Outcome::Success,
        );
        let ttl = user_ttl(&p, NOW, &r).unwrap();
        assert!(ttl >= ms(p.familiar_window), "{ttl}");
        assert!(r.is_lapsed(&p, NOW + ttl));

        let p = {
            let mut p = Policy::default();
            p.spray_threshold = 1;
            p
        };
        let mut s = SourceRecord::EMPTY;
        s.record(&p, NOW, UserKey::from_raw(1), Outcome::InvalidCredentials);
        let ttl = source_ttl(&p, NOW, &s).unwrap();
        assert!(ttl >= ms(p.spray_block_duration), "{ttl}");
        assert!(s.is_lapsed(&p, NOW + ttl));
    }

    #[test]
    fn lapsed_records_have_no_ttl() {
        let p = Policy::default();
        assert_eq!(user_ttl(&p, NOW, &UserRecord::EMPTY), None);
        assert_eq!(source_ttl(&p, NOW, &SourceRecord::EMPTY), None);
    }
}
