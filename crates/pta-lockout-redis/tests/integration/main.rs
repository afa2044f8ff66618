//! The Redis lockout store against a real, private Redis (pta-testkit's fixture): same
//! decisions as the in-memory store, no lost update between two nodes, explicit failure while
//! Redis is gone and recovery when it is back, expiring keys, administration.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod connect;
mod decisions;
mod expiry;
mod outage;
mod race;

use std::time::Duration;

use pta_lockout::{Attempt, Location, PasswordTag, Policy, Source, UserKey};
use pta_lockout_redis::{RedisLockoutConfig, RedisLockoutStore};
use pta_testkit::Redis;

/// A fixed instant (ms since the Unix epoch) for virtual time.
pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) fn start_redis() -> Redis {
    Redis::start().expect("redis-server starts (run scripts/install-deps.sh as root)")
}

pub(crate) async fn store_with(
    redis: &Redis,
    policy: Policy,
    timeout: Duration,
) -> RedisLockoutStore {
    let mut config = RedisLockoutConfig::new(redis.url());
    config.timeout = timeout;
    RedisLockoutStore::connect(policy, config)
        .await
        .expect("store connects to the fixture")
}

pub(crate) async fn store(redis: &Redis, policy: Policy) -> RedisLockoutStore {
    store_with(redis, policy, Duration::from_secs(1)).await
}

pub(crate) fn attempt(user: u64, source: u128, location: u64, tag: u32) -> Attempt {
    Attempt::new(
        UserKey::from_raw(user),
        Source::from_raw(source),
        Location::from_raw(location),
        PasswordTag::from_raw(tag),
    )
}

/// A plain connection for looking at the keys.
pub(crate) async fn raw(redis: &Redis) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
