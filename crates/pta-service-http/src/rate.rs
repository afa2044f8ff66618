//! A token bucket per source address, for the registration endpoint.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most source addresses tracked at once; beyond it, full (idle) buckets are dropped, and if
/// none is, new sources are refused until some refill.
const MAX_SOURCES: usize = 10_000;

/// How many requests one source address may make: `per_minute` on average, at most `burst`
/// at once. Default 10 per minute, burst 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Tokens added per minute (at least 1).
    pub per_minute: u32,
    /// Bucket size: requests allowed back to back (at least 1).
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_minute: 10,
            burst: 5,
        }
    }
}

impl RateLimit {
    /// A limit of `per_minute` with bucket size `burst` (each raised to at least 1).
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
        }
    }

    /// Time to earn one token.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Tokens left at `at`, in units of `1 / per_minute` minutes (fractional tokens kept as
    /// time).
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by source address. Time comes in as a parameter.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit: RateLimit::new(limit.per_minute, limit.burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.at);
        let earned = elapsed.as_secs_f64() / self.limit.interval().as_secs_f64();
        bucket.tokens = (bucket.tokens + earned).min(f64::from(self.limit.burst));
        bucket.at = now.max(bucket.at);
    }

    /// Takes one token for `source` at `now`; `Err(retry_after)` if there is none (whole
    /// seconds, at least 1).
    pub(crate) fn check(&self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !buckets.contains_key(&source) && buckets.len() >= MAX_SOURCES {
            let burst = f64::from(self.limit.burst);
            buckets.retain(|_, b| {
                let mut b2 = *b;
                self.refill(&mut b2, now);
                b2.tokens < burst
            });
            if buckets.len() >= MAX_SOURCES {
                return Err(self.limit.interval().max(Duration::from_secs(1)));
            }
        }
        let bucket = buckets.entry(source).or_insert(Bucket {
            tokens: f64::from(self.limit.burst),
            at: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let missing = 1.0 - bucket.tokens;
        let wait = self.limit.interval().as_secs_f64() * missing;
        Err(Duration::from_secs((wait.ceil() as u64).max(1)))
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use super::{RateLimit, RateLimiter};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn burst_then_refill_per_source() {
        let limiter = RateLimiter::new(RateLimit::default());
        let t0 = Instant::now();
        let a = ip("192.0.2.1");
        for _ in 0..5 {
            assert!(limiter.check(a, t0).is_ok());
        }
        // Empty: one token takes 6 s at 10 per minute.
        assert_eq!(limiter.check(a, t0), Err(Duration::from_secs(6)));
        // Another source has its own bucket.
        assert!(limiter.check(ip("192.0.2.2"), t0).is_ok());
        // 3 s later half a token: wait 3 s more.
        assert_eq!(
            limiter.check(a, t0 + Duration::from_secs(3)),
            Err(Duration::from_secs(3))
        );
        assert!(limiter.check(a, t0 + Duration::from_secs(6)).is_ok());
        assert!(limiter.check(a, t0 + Duration::from_secs(6)).is_err());
        // After a long pause the bucket is full again, but never above the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(limiter.check(a, later).is_ok());
        }
        assert!(limiter.check(a, later).is_err());
    }

    #[test]
    fn zero_settings_are_raised_to_one() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 0,
            burst: 0,
        });
        let t0 = Instant::now();
        assert!(limiter.check(ip("::1"), t0).is_ok());
        assert_eq!(limiter.check(ip("::1"), t0), Err(Duration::from_secs(60)));
    }

    #[test]
    fn table_is_bounded_and_pruned() {
        let limiter = RateLimiter::new(RateLimit::new(60, 1));
        let t0 = Instant::now();
        for i in 0..super::MAX_SOURCES as u32 {
            let addr = IpAddr::from(i.to_be_bytes());
            assert!(limiter.check(addr, t0).is_ok());
        }
        // Full table, nobody refilled: a new source is refused.
        assert!(limiter.check(ip("203.0.113.9"), t0).is_err());
        // A second later every bucket is full again and can be dropped.
        assert!(
            limiter
                .check(ip("203.0.113.9"), t0 + Duration::from_secs(1))
                .is_ok()
        );
        let len = limiter.buckets.lock().unwrap().len();
        assert_eq!(len, 1);
    }
}
