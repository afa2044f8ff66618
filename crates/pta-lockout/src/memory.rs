//! The in-memory store: sharded maps of account and source records under a fixed entry cap.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

mod snapshot;
pub use snapshot::RestoreStats;

use crate::time::{self, NEVER, Tick};
use crate::{
    Attempt, Decision, LockoutError, LockoutStore, Outcome, Policy, Source, SourceRecord,
    SourceStatus, UserKey, UserRecord, UserStatus,
};

/// Size limits of a [`MemoryStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStoreLimits {
    /// Most account records kept (default 1 000 000). Each costs 104 bytes plus the hash
    /// table's slack: 120 to 240 bytes in all, depending on where the table is in its growth.
    pub max_users: usize,
    /// Most source records kept (default 100 000). Each costs about 60 bytes plus 16 to 32
    /// bytes (list growth) per account it failed against within the spray window (at most
    /// `spray_threshold` accounts).
    pub max_sources: usize,
    /// Number of independently locked shards (default 64). More shards, less contention.
    pub shards: usize,
}

impl Default for MemoryStoreLimits {
    fn default() -> Self {
        Self {
            max_users: 1_000_000,
            max_sources: 100_000,
            shards: 64,
        }
    }
}

/// Memory held by a [`MemoryStore`], from [`MemoryStore::memory_usage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryUsage {
    /// Account records held.
    pub users: usize,
    /// Source records held.
    pub sources: usize,
    /// Estimated bytes of the account tables (buckets, control bytes, shard headers).
    pub user_bytes: usize,
    /// Estimated bytes of the source tables and their per-source lists.
    pub source_bytes: usize,
}

/// Lockout state in this process: the store one service node uses on its own, and what the
/// tests use.
///
/// Account and source records live in sharded hash maps, each shard behind its own mutex, so
/// concurrent sign-ins for different accounts rarely wait for each other. Memory is bounded:
/// each shard holds at most its share of [`MemoryStoreLimits::max_users`] (and
/// `max_sources`), whatever happens.
///
/// # Eviction never unlocks an account
///
/// When a new account's record would not fit, its shard makes room, down to seven eighths of
/// its share (sweeping an eighth at a time keeps the cost per insertion constant on average):
///
/// 1. lapsed records go first (nothing left that could change a decision);
/// 2. then records that hold nothing that weighs on a decision (no running lock, no failure
///    within the quiet period, lockout level 0; at most familiar locations and remembered bad
///    passwords), idlest first;
/// 3. then records with failures or a lockout level but no running lock, idlest first;
/// 4. an account whose lock is still running is never evicted.
///
/// If every record in the shard is locked, the new account is not tracked: `record` drops the
/// attempt for that account (its source is still counted for spray detection) and adds one to
/// [`MemoryStore::untracked_attempts`]; `check` answers [`Decision::Allow`] for it, as for any
/// account without a record, until a lock in its shard ends or is lifted. That is the trade-off:
/// evicting a lock would hand an attacker a fresh threshold of guesses against an account they
/// chose, by making noise elsewhere; refusing leaves accounts *new to a full shard* unprotected
/// until a lock ends (at most `max_lockout_duration`). Filling a shard with locks means locking
/// its whole share of `max_users` at once (user keys are keyed hashes, so an attacker cannot aim
/// at one shard). Watch `untracked_attempts`: any increase means `max_users` is too small.
///
/// Eviction under pressure forgets state, so size `max_users` above the number of accounts you
/// expect to track at once (failed or successful within the quiet period and the familiar
/// window). Source records are evicted idlest first (a running block counts as activity until
/// it ends), and blocks are also kept in a separate index.
///
/// Blocked sources are also kept in a small index of block ends, so a check reads that index
/// and the account's record, and only a recorded wrong password touches the source's record.
///
/// The inherent methods are synchronous and never fail; the [`LockoutStore`] implementation
/// calls them.
#[derive(Debug)]
pub struct MemoryStore {
    policy: Policy,
    users: Sharded<u64, UserRecord, BuildHasherDefault<FoldHasher>>,
    sources: Sharded<u128, SourceRecord, RandomState>,
    /// Index of blocked sources (their records' block ends), so that a check reads a small,
    /// cache-resident map instead of the source records.
    blocked: Sharded<u128, BlockedUntil, RandomState>,
    /// `record` calls whose account could not be tracked (its shard full of locked accounts).
    untracked: AtomicU64,
}

impl MemoryStore {
    /// A store applying `policy` within `limits`.
    ///
    /// # Errors
    ///
    /// [`LockoutError::InvalidConfig`] when the policy does not validate or a limit is zero.
    pub fn new(policy: Policy, limits: MemoryStoreLimits) -> Result<Self, LockoutError> {
        policy.validate()?;
        let bad = |field| Err(LockoutError::InvalidConfig { field });
        if limits.max_users == 0 {
            return bad("max_users");
        }
        if limits.max_sources == 0 {
            return bad("max_sources");
        }
        if limits.shards == 0 {
            return bad("shards");
        }
        let hasher = RandomState::new();
        Ok(Self {
            users: Sharded::new(
                limits.max_users,
                limits.shards,
                BuildHasherDefault::default(),
            ),
            sources: Sharded::new(limits.max_sources, limits.shards, hasher.clone()),
            blocked: Sharded::new(limits.max_sources, limits.shards, hasher),
            untracked: AtomicU64::new(0),
            policy,
        })
    }

    /// The policy this store applies.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `attempt` may go to the directory at `now` (see [`LockoutStore::check`]).
    pub fn check(&self, now: u64, attempt: &Attempt) -> Decision {
        let now_s = time::floor(now);
        let blocked = self
            .blocked
            .read(&attempt.source.to_raw(), |b| b.0)
            .filter(|&until| now_s < until);
        if let Some(until) = blocked {
            return Decision::SourceBlocked {
                until: time::to_ms(until),
            };
        }
        self.users
            .read(&attempt.user.to_raw(), |r| {
                r.check(&self.policy, now, attempt.location, attempt.password)
            })
            .unwrap_or(Decision::Allow)
    }

    /// Records the directory's `outcome` for `attempt` (see [`LockoutStore::record`]).
    pub fn record(&self, now: u64, attempt: &Attempt, outcome: Outcome) {
        if outcome == Outcome::Failure {
            return;
        }
        let policy = &self.policy;
        let tracked = self.users.upsert(policy, now, attempt.user.to_raw(), |r| {
            r.record(policy, now, attempt.location, attempt.password, outcome);
        });
        if tracked.is_none() {
            self.untracked.fetch_add(1, Ordering::Relaxed);
        }
        if outcome == Outcome::InvalidCredentials {
            let key = attempt.source.to_raw();
            let until = self.sources.upsert(policy, now, key, |r| {
                r.record(policy, now, attempt.user, outcome);
                r.blocked_until()
            });
            if let Some(until) = until
                && time::floor(now) < until
            {
                self.blocked
                    .upsert(policy, now, key, |b| b.0 = b.0.max(until));
            }
        }
    }

    /// How many `record` calls so far found their account's shard full of locked accounts and
    /// left the account untracked (see [eviction](MemoryStore#eviction-never-unlocks-an-account)).
    /// Zero in a well-sized store; anything else means `max_users` is too small for the
    /// accounts locked at once.
    #[must_use]
    pub fn untracked_attempts(&self) -> u64 {
        self.untracked.load(Ordering::Relaxed)
    }

    /// Lifts any lock on `user` (see [`LockoutStore::unlock_user`]).
    pub fn unlock_user(&self, user: UserKey) -> bool {
        self.users
            .write(&user.to_raw(), UserRecord::unlock)
            .is_some()
    }

    /// Lifts any block on `source` (see [`LockoutStore::unblock_source`]).
    pub fn unblock_source(&self, source: Source) -> bool {
        let key = source.to_raw();
        let indexed = self.blocked.remove(&key);
        self.sources.remove(&key) || indexed
    }

    /// `user`'s state at `now`.
    #[must_use]
    pub fn user_status(&self, now: u64, user: UserKey) -> UserStatus {
        self.users
            .read(&user.to_raw(), |r| r.status(&self.policy, now))
            .unwrap_or_default()
    }

    /// `source`'s state at `now`.
    #[must_use]
    pub fn source_status(&self, now: u64, source: Source) -> SourceStatus {
        let key = source.to_raw();
        let mut status = self
            .sources
            .read(&key, |r| r.status(&self.policy, now))
            .unwrap_or_default();
        // The index may outlive an evicted record; the check obeys the index.
        if let Some(until) = self.blocked.read(&key, |b| b.0)
            && time::floor(now) < until
        {
            status.blocked_until = Some(time::to_ms(until));
        }
        status
    }

    /// Drops every lapsed record (see [`UserRecord::is_lapsed`]). Optional: shards also do this
    /// on their own when full. Returns how many records were dropped.
    pub fn reclaim(&self, now: u64) -> usize {
        self.users.reclaim(&self.policy, now)
            + self.sources.reclaim(&self.policy, now)
            + self.blocked.reclaim(&self.policy, now)
    }

    /// Records held and the memory they take. Bytes are computed from the tables' capacities
    /// (the standard hash table's layout: one bucket of `size_of::<(key, record)>()` plus one
    /// control byte per bucket), so they are an estimate of what the allocator hands out.
    #[must_use]
    pub fn memory_usage(&self) -> MemoryUsage {
        let (users, user_bytes) = self.users.usage();
        let (sources, source_bytes) = self.sources.usage();
        let (_, index_bytes) = self.blocked.usage();
        MemoryUsage {
            users,
            sources,
            user_bytes,
            source_bytes: source_bytes + index_bytes,
        }
    }
}

#[async_trait]
impl LockoutStore for MemoryStore {
    async fn check(&self, now: u64, attempt: &Attempt) -> Result<Decision, LockoutError> {
        Ok(MemoryStore::check(self, now, attempt))
    }

    async fn record(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError> {
        MemoryStore::record(self, now, attempt, outcome);
        Ok(())
    }

    async fn unlock_user(&self, user: UserKey) -> Result<bool, LockoutError> {
        Ok(MemoryStore::unlock_user(self, user))
    }

    async fn unblock_source(&self, source: Source) -> Result<bool, LockoutError> {
        Ok(MemoryStore::unblock_source(self, source))
    }

    async fn user_status(&self, now: u64, user: UserKey) -> Result<UserStatus, LockoutError> {
        Ok(MemoryStore::user_status(self, now, user))
    }

    async fn source_status(&self, now: u64, source: Source) -> Result<SourceStatus, LockoutError> {
        Ok(MemoryStore::source_status(self, now, source))
    }
}

/// What a shard needs to know about its records to reclaim and evict them.
trait Record: Default {
    /// Nothing left that could change a decision: drop it whenever convenient.
    fn lapsed(&self, policy: &Policy, now: u64) -> bool;
    /// Never evicted while `now` is before this stamp (`NEVER`: evictable).
    fn pinned_until(&self) -> Tick;
    /// Eviction order among unpinned records at `now`: lowest goes first.
    fn eviction_order(&self, policy: &Policy, now: u64) -> u64;
    fn heap_bytes(&self) -> usize;
}

impl Record for UserRecord {
    fn lapsed(&self, policy: &Policy, now: u64) -> bool {
        self.is_lapsed(policy, now)
    }
    fn pinned_until(&self) -> Tick {
        UserRecord::pinned_until(self)
    }
    /// Quiet records before those with failures or a level; idlest first within each.
    fn eviction_order(&self, policy: &Policy, now: u64) -> u64 {
        let rank = u64::from(!self.is_quiet(policy, now));
        (rank << 32) | u64::from(self.active_until())
    }
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Record for SourceRecord {
    fn lapsed(&self, policy: &Policy, now: u64) -> bool {
        self.is_lapsed(policy, now)
    }
    fn pinned_until(&self) -> Tick {
        NEVER
    }
    fn eviction_order(&self, _: &Policy, _: u64) -> u64 {
        u64::from(self.active_until())
    }
    fn heap_bytes(&self) -> usize {
        SourceRecord::heap_bytes(self)
    }
}

/// A blocked source's block end, as indexed for checks.
#[derive(Default, Debug)]
struct BlockedUntil(Tick);

impl Record for BlockedUntil {
    fn lapsed(&self, _: &Policy, now: u64) -> bool {
        time::floor(now) >= self.0
    }
    fn pinned_until(&self) -> Tick {
        NEVER
    }
    fn eviction_order(&self, _: &Policy, _: u64) -> u64 {
        u64::from(self.0)
    }
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// Hash maps split over independently locked shards, with a per-shard entry cap.
#[derive(Debug)]
struct Sharded<K, V, S> {
    shards: Box<[Mutex<Shard<K, V, S>>]>,
    per_shard: usize,
    hasher: S,
}

/// One shard's map, and what the last failed attempt to make room in it learned.
#[derive(Debug)]
struct Shard<K, V, S> {
    map: HashMap<K, V, S>,
    /// Set when the shard was found full of pinned records: until this stamp (the earliest
    /// pin's end) and while no record changes, none can be evicted, so a new key is refused
    /// without scanning. `NEVER` otherwise; every change to an existing record resets it.
    full_until: Tick,
}

impl<K: Hash + Eq + Copy, V: Record, S: BuildHasher + Clone> Sharded<K, V, S> {
    /// `cap` entries over `shards` shards (fewer shards than entries, at least one entry each):
    /// the total never exceeds `cap`.
    fn new(cap: usize, shards: usize, hasher: S) -> Self {
        let count = shards.min(cap).max(1);
        let per_shard = (cap / count).max(1);
        let shards = (0..count)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::with_hasher(hasher.clone()),
                    full_until: NEVER,
                })
            })
            .collect();
        Self {
            shards,
            per_shard,
            hasher,
        }
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K, V, S>> {
        // Bits 20..52 of the hash pick the shard: the table inside uses the lowest bits for the
        // bucket and the top seven for its tags, so those stay spread within each shard.
        let bits = (self.hasher.hash_one(key) >> 20) & u64::from(u32::MAX);
        let len = self.shards.len() as u64;
        let index = usize::try_from((bits * len) >> 32).unwrap_or(0);
        let shard = match self.shards.get(index) {
            Some(shard) => shard,
            None => &self.shards[0],
        };
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read<R>(&self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        self.shard(key).map.get(key).map(f)
    }

    fn write<R>(&self, key: &K, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        let mut shard = self.shard(key);
        let value = shard.map.get_mut(key).map(f);
        if value.is_some() {
            shard.full_until = NEVER;
        }
        value
    }

    fn remove(&self, key: &K) -> bool {
        let mut shard = self.shard(key);
        let removed = shard.map.remove(key).is_some();
        if removed {
            shard.full_until = NEVER;
        }
        removed
    }

    /// Applies `f` to `key`'s record, creating it (and making room for it) if absent. `None`
    /// when the key is absent and its shard is full of pinned records: nothing was stored.
    fn upsert<R>(
        &self,
        policy: &Policy,
        now: u64,
        key: K,
        f: impl FnOnce(&mut V) -> R,
    ) -> Option<R> {
        let mut guard = self.shard(&key);
        let shard = &mut *guard;
        if let Some(record) = shard.map.get_mut(&key) {
            shard.full_until = NEVER;
            return Some(f(record));
        }
        if shard.map.len() >= self.per_shard {
            if time::floor(now) < shard.full_until {
                return None;
            }
            make_room(&mut shard.map, policy, now, self.per_shard);
            if shard.map.len() >= self.per_shard {
                // Only pinned records are left; the first can be evicted when its pin ends.
                shard.full_until = shard
                    .map
                    .values()
                    .map(Record::pinned_until)
                    .min()
                    .unwrap_or(NEVER);
                return None;
            }
        }
        Some(f(shard.map.entry(key).or_default()))
    }

    /// Calls `f` with every entry, one shard locked at a time.
    fn for_each(&self, mut f: impl FnMut(&K, &V)) {
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, value) in &shard.map {
                f(key, value);
            }
        }
    }

    fn reclaim(&self, policy: &Policy, now: u64) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let before = shard.map.len();
            shard.map.retain(|_, r| !r.lapsed(policy, now));
            if shard.map.len() < before {
                dropped += before - shard.map.len();
                shard.full_until = NEVER;
            }
        }
        dropped
    }

    fn usage(&self) -> (usize, usize) {
        let mut entries = 0;
        let mut bytes = std::mem::size_of::<Mutex<Shard<K, V, S>>>() * self.shards.len();
        for shard in &self.shards {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            entries += shard.map.len();
            bytes += table_bytes(shard.map.capacity(), std::mem::size_of::<(K, V)>());
            bytes += shard.map.values().map(Record::heap_bytes).sum::<usize>();
        }
        (entries, bytes)
    }
}

/// Frees room in a full shard: lapsed records first, then unpinned ones in eviction order,
/// down to seven eighths of `cap` (at least one free slot). Pinned records stay, so the shard
/// may stay full when nearly all of it is pinned.
fn make_room<K, V: Record, S>(map: &mut HashMap<K, V, S>, policy: &Policy, now: u64, cap: usize) {
    map.retain(|_, r| !r.lapsed(policy, now));
    let low_water = cap - (cap / 8).max(1);
    if map.len() <= low_water {
        return;
    }
    let target = map.len() - low_water;
    let now_s = time::floor(now);
    let evictable = |r: &V| now_s >= r.pinned_until();
    let mut orders: Vec<u64> = map
        .values()
        .filter(|r| evictable(r))
        .map(|r| r.eviction_order(policy, now))
        .collect();
    if orders.len() <= target {
        map.retain(|_, r| !evictable(r));
        return;
    }
    let (_, &mut cutoff, _) = orders.select_nth_unstable(target - 1);
    let mut removed = 0;
    map.retain(|_, r| {
        let older = evictable(r) && r.eviction_order(policy, now) < cutoff;
        removed += usize::from(older);
        !older
    });
    map.retain(|_, r| {
        let evict = removed < target && evictable(r) && r.eviction_order(policy, now) == cutoff;
        removed += usize::from(evict);
        !evict
    });
}

/// Bytes of a standard-library hash table of `capacity` with `entry` bytes per slot: buckets
/// are a power of two, filled to at most seven eighths, with one control byte each plus one
/// group (16 bytes) of trailing control bytes.
fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    };
    buckets * (entry + 1) + 16
}

/// A fast hasher for keys that are already keyed hashes ([`UserKey`]): one folded multiply
/// spreads any bit pattern (even sequential raw keys) over all output bits.
#[derive(Clone, Copy, Default, Debug)]
struct FoldHasher(u64);

impl FoldHasher {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;

    fn fold(v: u64) -> u64 {
        let m = u128::from(v) * u128::from(Self::K);
        (m as u64) ^ ((m >> 64) as u64)
    }
}

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = Self::fold(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = Self::fold(self.0 ^ v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, PasswordTag};

    fn attempt(user: u64, source: u128, tag: u32) -> Attempt {
        Attempt::new(
            UserKey::from_raw(user),
            Source::from_raw(source),
            Location::from_raw(1),
            PasswordTag::from_raw(tag),
        )
    }

    fn store(max_users: usize, max_sources: usize, shards: usize) -> MemoryStore {
        MemoryStore::new(
            Policy::default(),
            MemoryStoreLimits {
                max_users,
                max_sources,
                shards,
            },
        )
        .unwrap()
    }

    #[test]
    fn zero_limits_are_refused() {
        for (limits, name) in [
            ((0, 1, 1), "max_users"),
            ((1, 0, 1), "max_sources"),
            ((1, 1, 0), "shards"),
        ] {
            let err = MemoryStore::new(
                Policy::default(),
                MemoryStoreLimits {
                    max_users: limits.0,
                    max_sources: limits.1,
                    shards: limits.2,
                },
            )
            .unwrap_err();
            assert!(matches!(err, LockoutError::InvalidConfig { field } if field == name));
        }
    }

    #[test]
    fn never_holds_more_than_the_cap() {
        for (cap, shards) in [(1, 1), (1, 64), (10, 3), (100, 8), (1000, 64)] {
            let s = store(cap, cap, shards);
            for n in 0..5000u64 {
                s.record(
                    n,
                    &attempt(n, u128::from(n), 1),
                    Outcome::InvalidCredentials,
                );
                let usage = s.memory_usage();
                assert!(usage.users <= cap, "{cap}/{shards}: {}", usage.users);
                assert!(usage.sources <= cap, "{cap}/{shards}: {}", usage.sources);
            }
        }
    }

    #[test]
    fn lapsed_records_go_before_live_ones() {
        let s = store(8, 8, 1);
        // Account 1 is locked (threshold 10); accounts 100.. fail once each, later.
        for t in 0..10u32 {
            s.record(0, &attempt(1, 1, t), Outcome::InvalidCredentials);
        }
        for n in 0..7u64 {
            s.record(1_000, &attempt(100 + n, 2, 1), Outcome::InvalidCredentials);
        }
        assert_eq!(s.memory_usage().users, 8);
        // A quiet hour after the single failures they have lapsed; the lock (which ended at
        // 60 s) still weighs on the next one until a quiet hour after its end.
        let later = 3_630_000;
        s.record(later, &attempt(500, 3, 1), Outcome::InvalidCredentials);
        assert_eq!(s.memory_usage().users, 2);
        assert_eq!(
            s.user_status(later, UserKey::from_raw(1)).unfamiliar.level,
            1
        );
    }

    #[test]
    fn idlest_records_are_evicted_and_locks_count_as_activity() {
        let s = store(8, 8, 1);
        for t in 0..10u32 {
            s.record(0, &attempt(1, 1, t), Outcome::InvalidCredentials);
        }
        for n in 0..7u64 {
            s.record(
                10_000 + n * 1_000,
                &attempt(100 + n, 2, 1),
                Outcome::InvalidCredentials,
            );
        }
        // Full; account 1 was last seen first, but is locked until 70 s: account 100 goes.
        // (Account 1 would stay even were it the only candidate: see the tests below.)
        s.record(20_000, &attempt(999, 3, 1), Outcome::InvalidCredentials);
        assert!(matches!(
            s.check(20_000, &attempt(1, 9, 77)),
            Decision::Locked { .. }
        ));
        assert_eq!(
            s.user_status(20_000, UserKey::from_raw(100)),
            UserStatus::default()
        );
        assert_eq!(
            s.user_status(20_000, UserKey::from_raw(101))
                .unfamiliar
                .failures,
            1
        );
    }

    /// A store with threshold 1 (one wrong password locks) and one shard of `cap` accounts.
    fn one_shard(cap: usize) -> MemoryStore {
        let policy = Policy {
            threshold: 1,
            ..Policy::default()
        };
        let limits = MemoryStoreLimits {
            max_users: cap,
            max_sources: 100,
            shards: 1,
        };
        MemoryStore::new(policy, limits).unwrap()
    }

    fn is_locked(s: &MemoryStore, now: u64, user: u64) -> bool {
        matches!(
            s.check(now, &attempt(user, 50, 999)),
            Decision::Locked { .. }
        )
    }

    #[test]
    fn quiet_records_go_before_records_with_failures() {
        let s = store(8, 8, 1);
        // Accounts 1 to 4 fail once at 0 s (idlest); 5 to 8 sign in later (familiar location
        // and nothing else). Two sources, so no spray block.
        for n in 1..=4u64 {
            s.record(
                0,
                &attempt(n, u128::from(n % 2), 1),
                Outcome::InvalidCredentials,
            );
        }
        for n in 5..=8u64 {
            s.record(n * 1_000, &attempt(n, 2, 1), Outcome::Success);
        }
        // The ninth account evicts one record (8 -> 7): the idlest quiet one, account 5.
        s.record(20_000, &attempt(9, 3, 1), Outcome::Success);
        assert_eq!(s.memory_usage().users, 8);
        let failures = |n| {
            s.user_status(20_000, UserKey::from_raw(n))
                .unfamiliar
                .failures
        };
        assert_eq!((1..=4).map(failures).collect::<Vec<_>>(), [1, 1, 1, 1]);
        assert!(
            s.user_status(20_000, UserKey::from_raw(5))
                .familiar_locations
                .is_empty()
        );
        assert_eq!(
            s.user_status(20_000, UserKey::from_raw(6))
                .familiar_locations
                .len(),
            1
        );
        assert_eq!(s.untracked_attempts(), 0);
    }

    #[test]
    fn a_locked_account_stays_locked_however_many_accounts_follow() {
        let s = one_shard(8);
        s.record(0, &attempt(1, 1, 1), Outcome::InvalidCredentials);
        // 10 000 other accounts, failing and succeeding, while account 1's 60 s lock runs.
        for n in 0..10_000u64 {
            let now = n * 5;
            let outcome = if n % 3 == 0 {
                Outcome::Success
            } else {
                Outcome::InvalidCredentials
            };
            s.record(now, &attempt(100 + n, u128::from(n), 1), outcome);
            assert!(is_locked(&s, now, 1), "unlocked by account {}", 100 + n);
            assert!(s.memory_usage().users <= 8);
        }
        assert!(!is_locked(&s, 60_000, 1));
    }

    #[test]
    fn a_shard_full_of_locks_refuses_new_accounts() {
        let s = one_shard(4);
        for n in 1..=4u64 {
            s.record(0, &attempt(n, n.into(), 1), Outcome::InvalidCredentials);
        }
        // Account 5 cannot be tracked: its wrong password is not counted, and it is allowed.
        s.record(1_000, &attempt(5, 5, 1), Outcome::InvalidCredentials);
        s.record(1_000, &attempt(5, 5, 2), Outcome::InvalidCredentials);
        assert_eq!(s.untracked_attempts(), 2);
        assert_eq!(s.check(1_000, &attempt(5, 5, 3)), Decision::Allow);
        assert_eq!(
            s.user_status(1_000, UserKey::from_raw(5)),
            UserStatus::default()
        );
        // Its source was still counted for spray detection.
        assert_eq!(
            s.source_status(1_000, Source::from_raw(5)).distinct_users,
            1
        );
        assert!((1..=4).all(|n| is_locked(&s, 1_000, n)));
        assert_eq!(s.memory_usage().users, 4);
        // An administrator's unlock frees a record for eviction at once.
        assert!(s.unlock_user(UserKey::from_raw(2)));
        s.record(2_000, &attempt(5, 5, 4), Outcome::InvalidCredentials);
        assert_eq!(s.untracked_attempts(), 2);
        assert!(is_locked(&s, 2_000, 5));
        assert!(!is_locked(&s, 2_000, 2));
        assert!([1, 3, 4].iter().all(|&n| is_locked(&s, 2_000, n)));
        // Once the other locks end (60 s), their records may go too.
        s.record(60_000, &attempt(6, 6, 1), Outcome::InvalidCredentials);
        assert_eq!(s.untracked_attempts(), 2);
        assert!(is_locked(&s, 60_000, 6));
        assert!(is_locked(&s, 60_000, 5));
        assert_eq!(s.memory_usage().users, 4);
    }

    #[test]
    fn a_full_shard_is_rechecked_when_its_first_lock_ends() {
        let s = one_shard(2);
        s.record(0, &attempt(1, 1, 1), Outcome::InvalidCredentials); // locked until 60 s
        s.record(30_000, &attempt(2, 2, 1), Outcome::InvalidCredentials); // until 90 s
        s.record(59_999, &attempt(3, 3, 1), Outcome::InvalidCredentials);
        s.record(59_999, &attempt(3, 3, 2), Outcome::InvalidCredentials);
        assert_eq!(s.untracked_attempts(), 2);
        // At 60 s account 1's lock has ended: its record goes, account 3 is tracked.
        s.record(60_000, &attempt(3, 3, 3), Outcome::InvalidCredentials);
        assert_eq!(s.untracked_attempts(), 2);
        assert!(is_locked(&s, 60_000, 3));
        assert!(is_locked(&s, 60_000, 2));
    }

    #[test]
    fn admin_operations() {
        let s = store(100, 100, 4);
        let a = attempt(1, 1, 0);
        assert!(!s.unlock_user(a.user));
        assert!(!s.unblock_source(a.source));
        for t in 0..10u32 {
            s.record(0, &attempt(1, 1, t), Outcome::InvalidCredentials);
        }
        assert!(matches!(s.check(0, &a), Decision::Locked { .. }));
        assert!(s.unlock_user(a.user));
        assert!(s.check(0, &attempt(1, 1, 99)).is_allow());
        for n in 0..30u64 {
            s.record(0, &attempt(n + 10, 5, 1), Outcome::InvalidCredentials);
        }
        let sprayer = attempt(2, 5, 1);
        assert!(matches!(
            s.check(0, &sprayer),
            Decision::SourceBlocked { .. }
        ));
        assert!(s.source_status(0, sprayer.source).blocked_until.is_some());
        assert!(s.unblock_source(sprayer.source));
        assert!(s.check(0, &sprayer).is_allow());
        assert_eq!(s.source_status(0, sprayer.source), SourceStatus::default());
    }

    #[test]
    fn a_block_outlives_the_eviction_of_its_source_record() {
        let policy = Policy {
            spray_threshold: 2,
            ..Policy::default()
        };
        let limits = MemoryStoreLimits {
            max_users: 100,
            max_sources: 1,
            shards: 1,
        };
        let s = MemoryStore::new(policy, limits).unwrap();
        s.record(0, &attempt(1, 7, 1), Outcome::InvalidCredentials);
        s.record(0, &attempt(2, 7, 1), Outcome::InvalidCredentials);
        // Source 8's failure evicts source 7's record (cap 1); the block index keeps it.
        s.record(1_000, &attempt(3, 8, 1), Outcome::InvalidCredentials);
        assert_eq!(s.memory_usage().sources, 1);
        let until = 30 * 60_000;
        assert_eq!(
            s.check(1_000, &attempt(4, 7, 1)),
            Decision::SourceBlocked { until }
        );
        assert_eq!(
            s.source_status(1_000, Source::from_raw(7)).blocked_until,
            Some(until)
        );
        assert!(s.check(1_000, &attempt(4, 8, 1)).is_allow());
        assert!(s.unblock_source(Source::from_raw(7)));
        assert!(s.check(1_000, &attempt(4, 7, 1)).is_allow());
    }

    #[test]
    fn reclaim_drops_only_lapsed() {
        let s = store(100, 100, 4);
        s.record(0, &attempt(1, 1, 1), Outcome::InvalidCredentials);
        s.record(0, &attempt(2, 1, 1), Outcome::Success);
        assert_eq!(s.reclaim(0), 0);
        // After the quiet hour the failure (and the source's window) have lapsed; the familiar
        // location of account 2 has not.
        assert_eq!(s.reclaim(3_600_000), 2);
        assert_eq!(s.memory_usage().users, 1);
    }

    #[test]
    fn usage_counts_table_bytes() {
        let s = store(10_000, 100, 4);
        for n in 0..1000u64 {
            s.record(0, &attempt(n, 1, 1), Outcome::Success);
        }
        let usage = s.memory_usage();
        assert_eq!(usage.users, 1000);
        let per_user = usage.user_bytes / usage.users;
        assert!((104..=256).contains(&per_user), "{per_user}");
    }

    #[test]
    fn table_bytes_matches_power_of_two_layout() {
        assert_eq!(table_bytes(0, 104), 0);
        assert_eq!(table_bytes(3, 104), 4 * 105 + 16);
        assert_eq!(table_bytes(14, 104), 16 * 105 + 16);
        assert_eq!(table_bytes(28_672, 104), 32_768 * 105 + 16);
    }

    #[test]
    fn fold_hasher_spreads_sequential_keys() {
        let mut seen = std::collections::HashSet::new();
        for k in 0..1000u64 {
            seen.insert(FoldHasher::fold(k) >> 57);
        }
        // Top seven bits (the table's tags) take many values even for sequential keys.
        assert!(seen.len() > 100, "{}", seen.len());
    }
}
