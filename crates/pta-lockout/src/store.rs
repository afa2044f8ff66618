//! The seam for lockout state shared by several service nodes.

use async_trait::async_trait;

use crate::{Attempt, Decision, LockoutError, Outcome, Source, SourceStatus, UserKey, UserStatus};

/// Where lockout state lives: in this process ([`MemoryStore`]) or in a store shared by several
/// service nodes.
///
/// Call order for one sign-in: [`check`](Self::check); only on [`Decision::Allow`], ask the
/// directory, then [`record`](Self::record) its outcome with the same `attempt`.
///
/// # Contract
///
/// An implementation must:
///
/// - apply the crate's policy, by running [`UserRecord`] and [`SourceRecord`] transitions on the
///   stored records, so every node decides alike;
/// - make each `record` an atomic read-modify-write of the account's record and of the source's
///   record (two nodes recording failures for one account at once must both count);
/// - keep `check` free of side effects;
/// - store only user keys, sources, locations and password tags: never a password, never a login
///   name in clear;
/// - bound its memory or storage, reclaiming lapsed records
///   ([`UserRecord::is_lapsed`]) before live ones, and never dropping an account's record
///   while its lock is running (that would lift the lock): when only locked records are
///   left to drop, leave the new account untracked instead;
/// - report a failure to reach its backend as [`LockoutError::Backend`], never as a decision.
///
/// An implementation must not read a clock: `now` is milliseconds since the caller's epoch (see
/// the crate docs), passed to every call.
///
/// [`MemoryStore`]: crate::MemoryStore
/// [`UserRecord`]: crate::UserRecord
/// [`SourceRecord`]: crate::SourceRecord
/// [`UserRecord::is_lapsed`]: crate::UserRecord::is_lapsed
#[async_trait]
pub trait LockoutStore: Send + Sync + std::fmt::Debug {
    /// Whether `attempt` may go to the directory at `now`: a blocked source first, then the
    /// account's lock for the attempt's location class, then a recent repeated bad password.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached.
    async fn check(&self, now: u64, attempt: &Attempt) -> Result<Decision, LockoutError>;

    /// Records the directory's `outcome` for an allowed `attempt`.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached; nothing was recorded.
    async fn record(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError>;

    /// Lifts any lock on `user` and clears its counters (familiar locations and remembered bad
    /// passwords stay). Returns whether the account had a record.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached.
    async fn unlock_user(&self, user: UserKey) -> Result<bool, LockoutError>;

    /// Lifts any block on `source` and forgets its failures. Returns whether it had a record.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached.
    async fn unblock_source(&self, source: Source) -> Result<bool, LockoutError>;

    /// `user`'s state at `now` (all zero for an account without a record).
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached.
    async fn user_status(&self, now: u64, user: UserKey) -> Result<UserStatus, LockoutError>;

    /// `source`'s state at `now` (all zero for a source without a record).
    ///
    /// # Errors
    ///
    /// [`LockoutError::Backend`] when a shared store cannot be reached.
    async fn source_status(&self, now: u64, source: Source) -> Result<SourceStatus, LockoutError>;
}
