//! Smart-lockout state shared by several service nodes in Redis: a
//! [`LockoutStore`](pta_lockout::LockoutStore) that keeps each account's and each source's
//! record in Redis and applies [`pta_lockout`]'s policy to them.
//!
//! The policy stays in `pta_lockout` as the pure state machine ([`pta_lockout::UserRecord`],
//! [`pta_lockout::SourceRecord`]); this crate only moves its records in and out of Redis:
//!
//! - **Same decisions as the in-memory store.** Records are stored in `pta_lockout`'s compact
//!   encoding (98 bytes per account) and every transition runs here, so a node on Redis decides
//!   exactly as a [`MemoryStore`](pta_lockout::MemoryStore) would on the same attempts.
//! - **No lost updates.** `record` is a compare-and-set: a Lua script writes the account's and
//!   the source's new records only if both still hold the bytes that were read, else the node
//!   reads again and retries. Failures recorded by two nodes at once both count.
//! - **Records expire.** Every write sets the key's expiry to when the record lapses (lock
//!   over, counters decayed, familiar locations and bad passwords forgotten) plus 2 s; idle
//!   records vanish and a running lock never does.
//! - **Failure is explicit.** Every call is bounded by a timeout (1 s by default). A Redis
//!   error, a timeout or a corrupt record is [`LockoutError::Backend`](pta_lockout::LockoutError::Backend)
//!   wrapping a [`RedisLockoutError`], never a decision. The connection reconnects by itself
//!   when Redis comes back.
//!
//! Keys: `<prefix>u:<user key, 16 hex digits>` and `<prefix>s:<source, 32 hex digits>`, with
//! the prefix `pta:lockout:` unless configured. Only keyed hashes, sources, locations and
//! password tags are stored: never a password or a login name.
//!
//! # What it does not do
//!
//! It does not read a clock (`now` comes with every call, as in `pta_lockout`; key expiries
//! assume it advances at the pace of real time), does not start Redis, does not speak TLS
//! (`rediss://` URLs are refused) and does not support Redis Cluster (the compare-and-set
//! touches an account key and a source key, which may live in different slots). It does not
//! decide whether to fail open or closed when Redis is down: the caller does.
//!
//! # Use
//!
//! ```no_run
//! use pta_lockout::{Attempt, Location, LockoutSecret, LockoutStore, Outcome, Policy, Source};
//! use pta_lockout_redis::{RedisLockoutConfig, RedisLockoutStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = RedisLockoutConfig::new("redis://127.0.0.1:6379");
//! let store = RedisLockoutStore::connect(Policy::default(), config).await?;
//!
//! let secret = LockoutSecret::from_bytes(&[0x5a; 32])?;
//! let ip = "198.51.100.7".parse()?;
//! let user = secret.user_key("contoso", "alice@contoso.com");
//! let attempt = Attempt::new(
//!     user,
//!     Source::from_ip(ip),
//!     Location::from_ip(ip),
//!     secret.password_tag(user, b"guess"),
//! );
//! let now = 1_700_000_000_000;
//! if store.check(now, &attempt).await?.is_allow() {
//!     // ... ask the directory, then:
//!     store.record(now, &attempt, Outcome::InvalidCredentials).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod expiry;
mod store;

pub use config::RedisLockoutConfig;
pub use error::RedisLockoutError;
pub use store::RedisLockoutStore;
