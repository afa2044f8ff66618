//! Smart lockout for pass-through authentication: decides, before any agent or directory is
//! touched, whether a sign-in attempt may proceed.
//!
//! Done right, an attacker can neither lock real users out of their on-prem accounts nor spray
//! passwords across many accounts:
//!
//! - **Lockout per location class.** Wrong passwords are counted per account, separately for
//!   *familiar* locations (a successful sign-in from there within 30 days) and *unfamiliar* ones.
//!   The tenth counted failure in a class locks that class for 60 s. After that, as in Entra
//!   smart lockout, a single counted failure locks it again, each time for twice as long (up
//!   to 1 h), until quiet hours have decayed the lockout level back to 0 and the full threshold
//!   applies again. An attacker elsewhere locks only the unfamiliar class, and the user keeps
//!   signing in from home.
//! - **Repeated bad passwords.** The last three bad passwords of each account are remembered as
//!   keyed hashes ([`PasswordTag`], never the password). A repeat never counts, and within
//!   5 minutes it is answered "invalid credentials" without asking the directory
//!   ([`Decision::RepeatRejected`]), so a phone retrying a stale password cannot lock the
//!   on-prem account.
//! - **Spray detection.** A source that fails against 30 distinct accounts within 10 minutes is
//!   blocked for 30 minutes ([`Decision::SourceBlocked`]); other sources and the accounts
//!   themselves are unaffected.
//! - **Only wrong passwords count.** [`Outcome::InvalidCredentials`] is the only outcome that
//!   counts; directory, agent and network failures ([`Outcome::Failure`]) change nothing.
//!
//! Set the cloud threshold well below the directory's, so the cloud locks first:
//! [`Policy::check_against_directory`] says when it does not.
//!
//! # What it does not do
//!
//! No I/O and no clock: every call takes `now`, and nothing here opens a socket, reads a file,
//! spawns a thread or starts a runtime. It does not talk to the directory either: the caller
//! asks the directory when [`Decision::Allow`] says so, and feeds the verdict back.
//!
//! # Time
//!
//! `now` is a `u64` count of milliseconds since an epoch of the caller's choosing (the Unix
//! epoch, or a monotonic count; the same for every call on one store). Records keep whole
//! seconds, so every lock, window and period has one-second resolution: a lock that starts at a
//! fractional second ends on the next whole second after its full length. Times before the
//! stored ones (a clock stepping back) never panic; they simply see the state as it was.
//!
//! # Use
//!
//! ```
//! use pta_lockout::{
//!     Attempt, Decision, Location, LockoutSecret, MemoryStore, MemoryStoreLimits, Outcome,
//!     Policy, Source,
//! };
//!
//! # fn main() -> Result<(), pta_lockout::LockoutError> {
//! let secret = LockoutSecret::from_bytes(&[0x5a; 32])?; // 32+ random bytes per deployment
//! let store = MemoryStore::new(Policy::default(), MemoryStoreLimits::default())?;
//!
//! let ip = "198.51.100.7".parse().unwrap();
//! let user = secret.user_key("contoso", "alice@contoso.com");
//! let attempt = |password: &[u8]| {
//!     Attempt::new(
//!         user,
//!         Source::from_ip(ip),
//!         Location::from_ip(ip),
//!         secret.password_tag(user, password),
//!     )
//! };
//!
//! let mut now = 1_700_000_000_000; // ms since the Unix epoch
//! for guess in 0..10 {
//!     let a = attempt(format!("guess-{guess}").as_bytes());
//!     assert_eq!(store.check(now, &a), Decision::Allow);
//!     // ... the directory says the password is wrong:
//!     store.record(now, &a, Outcome::InvalidCredentials);
//!     now += 1_000;
//! }
//! // The tenth failure locked the unfamiliar class for 60 s.
//! let locked = store.check(now, &attempt(b"correct horse"));
//! assert!(matches!(locked, Decision::Locked { until } if until == now - 1_000 + 60_000));
//!
//! // The same bad password again is answered at once, without the directory, once unlocked.
//! now += 60_000;
//! assert_eq!(store.check(now, &attempt(b"guess-9")), Decision::RepeatRejected);
//! assert_eq!(store.check(now, &attempt(b"guess-10")), Decision::Allow);
//!
//! // One more wrong password locks it again, now for 120 s.
//! store.record(now, &attempt(b"guess-10"), Outcome::InvalidCredentials);
//! let relocked = store.check(now, &attempt(b"correct horse"));
//! assert_eq!(relocked, Decision::Locked { until: now + 120_000 });
//! # Ok(())
//! # }
//! ```
//!
//! Services that share state between nodes use the [`LockoutStore`] trait (async); the
//! [`MemoryStore`] implements it too. The policy itself is [`UserRecord`] and [`SourceRecord`],
//! plain values with pure transitions, which a shared store applies to the records it holds.
//! A shared store keeps them as bytes with [`UserRecord::encode`] and [`UserRecord::decode`]
//! ([`SourceRecord`] likewise): a compact, versioned format (98 bytes per account), whose
//! decoding is total and never panics.
//!
//! # States
//!
//! Each account has two independent copies of this machine, one per [`LocationClass`];
//! `f` counts failures, `lv` is the lockout level (lockouts that still weigh on the next one).
//!
//! ```text
//!                         counted failure, f + 1 < threshold
//!                                    +-----+
//!                                    |     v
//!  +-----------+  counted failure  +-----------+  counted failure, f + 1 = threshold
//!  |  Clean    | ----------------> | Counting  | ---------------------------------+
//!  |  f = 0    |       f = 1       | 0 < f,    |                                  |
//!  |  lv = 0   |                   | lv = 0    |                                  |
//!  +-----------+ <---------------- +-----------+                                  |
//!     ^     ^    quiet_period without a failure                                   |
//!     |     |                                                                     v
//!     |     |    lv reaches 0            +----------------+  counted   +--------------------+
//!     |     +--------------------------- | Armed          |  failure   | Locked             |
//!     |     (lv -= 1 per quiet_period    | lock ended,    | ---------> | until = max(until, |
//!     |      without a failure; the      | lv > 0, f = 0  |  (one is   |   ceil(now)        |
//!     |      period starts at the end    | check -> Allow |  enough)   |   + lockout(lv))   |
//!     |      of the last lock)           +----------------+            | lv = min(lv + 1,   |
//!     |                                          ^                     |          top)      |
//!     |                                          |   now >= until      | f = 0              |
//!     |                                          +-------------------- | check -> Locked    |
//!     |                                                                +--------------------+
//!     |
//!     +--- from any state: a success from this class, or an admin unlock (f = 0, lv = 0)
//!
//!  lockout(lv) = min(lockout_duration * 2^lv, max_lockout_duration), lv as before the lock.
//!  top = the first level whose lockout is max_lockout_duration (6 by default), at least 1.
//!  From Counting (or from Clean, when threshold = 1) the lock is lockout(0), 60 s by default;
//!  from Armed it is twice the previous one, capped.
//!  A counted failure while Locked (one that raced the lock: check refuses attempts then)
//!  re-locks the same way, so parallel guesses escalate the lock and never shorten it.
//!  Not counted, in any state: a bad password among the account's last three (repeat),
//!  and any Outcome::Failure.
//!  A source: Open --failure against the spray_threshold-th distinct account within
//!  spray_window--> Blocked until now + spray_block_duration --time or unblock--> Open.
//! ```
//!
//! # What an attacker gets
//!
//! One account, guessed from an unfamiliar location with default settings, at most one guess
//! a second, every guess a new password (tested in `tests/integration/scenarios.rs`):
//!
//! | attacker | first hour | first day |
//! | --- | --- | --- |
//! | guesses whenever allowed | 15 (10, then one after each lock of 60, 120, 240, 480, 960 s) | 38 (one an hour from the seventh lockout on) |
//! | waits out each decay to level 0 | 10 | 245 (10 per 61 min 9 s, 24 rounds, then 5 re-locking guesses) |
//!
//! Re-locking after one failure is what holds the first hour to 15 (it was 60 when each
//! lockout needed the full threshold again). Over a day, the quiet period bounds a patient
//! attacker: the threshold once per `lockout_duration + quiet_period`. Lower `threshold` or
//! lengthen `quiet_period` to reduce it; the directory's own lockout (see
//! [`Policy::check_against_directory`]) is the backstop.
//!
//! # Defaults
//!
//! | setting | default |
//! | --- | --- |
//! | lockout threshold | 10 counted failures per location class, from lockout level 0 |
//! | first lockout | 60 s |
//! | after a lockout ends | one counted failure locks again, for twice as long as the last |
//! | longest lockout | 1 h (reached at the seventh lockout; level 6) |
//! | quiet period (failures reset, level steps down by one) | 1 h, from the last failure or the end of the last lock |
//! | familiar location | success from it within 30 days; 4 per account |
//! | bad passwords remembered | last 3 per account, 32-bit HMAC-SHA-256 tags |
//! | repeat answered without the directory | within 5 min (`None` turns it off) |
//! | spray | 30 distinct accounts in 10 min blocks the source for 30 min |
//! | [`MemoryStore`] caps | 1 000 000 accounts, 100 000 sources, 64 shards |
//! | [`MemoryStore`] eviction | never an account whose lock is running ([details](MemoryStore#eviction-never-unlocks-an-account)) |
//!
//! An account record is 96 bytes (104 with its key); in the in-memory store's hash tables that
//! is 120 to 240 bytes per tracked account, depending on table fill.
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attempt;
mod codec;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod location;
mod memory;
mod policy;
mod source;
mod status;
mod store;
mod time;
mod user;

pub use attempt::{Attempt, Decision, Outcome};
pub use codec::DecodeErrorKind;
pub use error::LockoutError;
pub use keys::{LockoutSecret, PasswordTag, UserKey};
pub use location::{Location, Source};
pub use memory::{MemoryStore, MemoryStoreLimits, MemoryUsage, RestoreStats};
pub use policy::{DirectoryMismatch, Policy};
pub use source::SourceRecord;
pub use status::{ClassStatus, LocationClass, SourceStatus, UserStatus};
pub use store::LockoutStore;
pub use user::{BAD_PASSWORD_SLOTS, FAMILIAR_SLOTS, UserRecord};
