//! Renewal policy: when an agent should renew its certificate.
//!
//! ```text
//!             issued / renewed
//!                    |
//!                    v
//!   +-----------------------------------+   now >= renew_at    +-----------+
//!   | NotYet { next_check: renew_at }   | -------------------> | RenewNow  |
//!   +-----------------------------------+                      +-----------+
//!                    |                                           |       |
//!                    | now >= notAfter                 new cert  |       | now >= notAfter
//!                    v                                 installed |       v
//!               +---------+                                      |  +---------+
//!               | Expired | <------------------------------------+--| Expired |
//!               +---------+     (back to "issued" on success)       +---------+
//!       cannot renew: the agent must register again
//!
//!   threshold = min(notBefore + 2/3 * lifetime, notAfter - 30 days)   (never before notBefore)
//!   renew_at  = threshold + jitter,
//!   jitter    = hash(seed) mod (min(max_jitter, (notAfter - threshold) / 2) + 1 s)
//! ```
//!
//! The jitter only ever delays renewal past the threshold, and by at most half of the time
//! left then, so renewal always falls strictly before expiry. A fleet with different seeds
//! (the agent id hashed, say) spreads its renewals over the jitter window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::authority::parse_cert;

/// The validity period of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertValidity {
    /// notBefore.
    pub not_before: SystemTime,
    /// notAfter.
    pub not_after: SystemTime,
}

impl CertValidity {
    /// Reads notBefore and notAfter from a DER certificate.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, Error> {
        let cert = parse_cert(der)?;
        let v = cert.tbs_certificate().validity();
        Ok(Self {
            not_before: v.not_before.to_system_time(),
            not_after: v.not_after.to_system_time(),
        })
    }
}

/// What an agent should do about its certificate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RenewalDecision {
    /// Nothing yet; check again at `next_check` (the renewal time).
    NotYet {
        /// When renewal becomes due.
        next_check: SystemTime,
    },
    /// Renew now: new key, new CSR, over the authenticated session.
    RenewNow,
    /// The certificate has expired and cannot renew: register the agent again.
    Expired,
}

/// When to renew. Pure: time and the jitter seed are parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RenewalPolicy {
    /// Renew once this fraction of the lifetime has passed: (numerator, denominator), default
    /// (2, 3). A zero denominator counts as 1.
    pub lifetime_fraction: (u32, u32),
    /// Renew once this much validity remains, default 30 days.
    pub remaining: Duration,
    /// Largest jitter added after the threshold, default 7 days (also capped by half the time
    /// left at the threshold).
    pub max_jitter: Duration,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        Self {
            lifetime_fraction: (2, 3),
            remaining: Duration::from_secs(30 * 24 * 3600),
            max_jitter: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn at(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

/// SplitMix64 finaliser: spreads nearby seeds over the whole range.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RenewalPolicy {
    /// The earliest time renewal may happen (before jitter), in whole seconds.
    pub fn threshold(&self, validity: &CertValidity) -> SystemTime {
        at(self.threshold_secs(validity))
    }

    fn threshold_secs(&self, validity: &CertValidity) -> u64 {
        let nb = secs(validity.not_before);
        let na = secs(validity.not_after).max(nb);
        let lifetime = u128::from(na - nb);
        let (num, den) = self.lifetime_fraction;
        let den = u128::from(den.max(1));
        let num = u128::from(num).min(den);
        let by_fraction = nb + u64::try_from(lifetime * num / den).unwrap_or(na - nb);
        let by_remaining = na.saturating_sub(self.remaining.as_secs()).max(nb);
        by_fraction.min(by_remaining)
    }

    /// The largest jitter for this certificate.
    pub fn jitter_bound(&self, validity: &CertValidity) -> Duration {
        let threshold = self.threshold_secs(validity);
        let na = secs(validity.not_after);
        Duration::from_secs(
            self.max_jitter
                .as_secs()
                .min(na.saturating_sub(threshold) / 2),
        )
    }

    /// When this agent (identified by `jitter_seed`) should renew.
    pub fn renew_at(&self, validity: &CertValidity, jitter_seed: u64) -> SystemTime {
        let bound = self.jitter_bound(validity).as_secs();
        let jitter = mix(jitter_seed) % (bound + 1);
        at(self.threshold_secs(validity) + jitter)
    }

    /// The decision at `now`. Expired takes precedence: at or after notAfter nothing can renew.
    pub fn decide(
        &self,
        validity: &CertValidity,
        now: SystemTime,
        jitter_seed: u64,
    ) -> RenewalDecision {
        let now_s = secs(now);
        if now_s >= secs(validity.not_after) {
            return RenewalDecision::Expired;
        }
        let renew_at = self.renew_at(validity, jitter_seed);
        if now_s >= secs(renew_at) {
            RenewalDecision::RenewNow
        } else {
            RenewalDecision::NotYet {
                next_check: renew_at,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: u64 = 86_400;

    fn validity(nb: u64, lifetime: u64) -> CertValidity {
        CertValidity {
            not_before: at(nb),
            not_after: at(nb + lifetime),
        }
    }

    #[test]
    fn default_180_days() {
        let p = RenewalPolicy::default();
        let v = validity(1_000_000, 180 * DAY);
        // 2/3 of 180 days (day 120) comes before 30 days left (day 150).
        assert_eq!(p.threshold(&v), at(1_000_000 + 120 * DAY));
        assert_eq!(p.jitter_bound(&v), Duration::from_secs(7 * DAY));
        assert!(matches!(
            p.decide(&v, at(1_000_000 + 119 * DAY), 1),
            RenewalDecision::NotYet { .. }
        ));
        assert_eq!(
            p.decide(&v, at(1_000_000 + 128 * DAY), 1),
            RenewalDecision::RenewNow
        );
        assert_eq!(
            p.decide(&v, at(1_000_000 + 180 * DAY), 1),
            RenewalDecision::Expired
        );
        // A short certificate renews on the 30-days-left rule: day 30 of 60, before day 40.
        let short = validity(0, 60 * DAY);
        assert_eq!(p.threshold(&short), at(30 * DAY));
        assert_eq!(p.jitter_bound(&short), Duration::from_secs(7 * DAY));
        // A one-hour certificate: jitter capped by half the time left at the threshold.
        let hour = validity(0, 3600);
        assert_eq!(p.threshold(&hour), at(0));
        assert_eq!(p.jitter_bound(&hour), Duration::from_secs(1800));
    }

    #[test]
    fn seeds_spread() {
        let p = RenewalPolicy::default();
        let v = validity(0, 180 * DAY);
        let distinct: std::collections::HashSet<_> =
            (0..100u64).map(|s| p.renew_at(&v, s)).collect();
        assert!(distinct.len() > 90, "{}", distinct.len());
    }

    proptest! {
        #[test]
        fn invariants(
            nb in 0u64..4_000_000_000,
            lifetime in 1u64..(20 * 365 * DAY),
            offset in 0u64..(21 * 365 * DAY),
            seed in any::<u64>(),
        ) {
            let p = RenewalPolicy::default();
            let v = validity(nb, lifetime);
            let na = nb + lifetime;
            let now = nb + offset;
            let two_thirds = nb + (u128::from(lifetime) * 2 / 3) as u64;
            let thirty_left = na.saturating_sub(30 * DAY);
            let renew_at = secs(p.renew_at(&v, seed));
            // Jitter within bounds.
            let threshold = secs(p.threshold(&v));
            prop_assert!(renew_at >= threshold);
            prop_assert!(renew_at - threshold <= p.jitter_bound(&v).as_secs());
            prop_assert!(p.jitter_bound(&v) <= p.max_jitter);
            // Always a renewal point before expiry.
            prop_assert!(renew_at < na);
            match p.decide(&v, at(now), seed) {
                RenewalDecision::RenewNow => {
                    // Never before 2/3 of the lifetime or 30 days left.
                    prop_assert!(now >= two_thirds.min(thirty_left).max(nb));
                    prop_assert!(now < na);
                }
                RenewalDecision::NotYet { next_check } => {
                    prop_assert!(now < renew_at);
                    prop_assert_eq!(secs(next_check), renew_at);
                }
                RenewalDecision::Expired => prop_assert!(now >= na),
            }
            // Just before expiry it always says renew.
            prop_assert_eq!(p.decide(&v, at(na - 1), seed), RenewalDecision::RenewNow);
        }
    }
}
