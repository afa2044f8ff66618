//! A [`MemoryStore`]'s records as one byte string, so that a node restarted with the same
//! lockout secret and policy carries on with the locks, counters and familiar locations it had.
//!
//! ```text
//! snapshot, version 1:
//!   "PTALOCK" 0x01                       magic and version (8 bytes)
//!   users    u32 n, then n x (key u64, record: UserRecord encoding, 98 bytes)
//!   sources  u32 n, then n x (key u128, length u16, record: SourceRecord encoding)
//!   blocks   u32 n, then n x (key u128, block end u32)
//! ```
//!
//! Integers are little-endian; records are encoded as in the record codec (see
//! [`UserRecord::encode`] and [`SourceRecord::encode`]), whose stamps are relative to the
//! caller's epoch: restore with the same epoch (milliseconds since the Unix epoch in the
//! service). Keys are the keyed hashes the store indexes by ([`UserKey`](crate::UserKey) and
//! [`Source`](crate::Source) raw values); a snapshot holds no login and no password, but it
//! only means something to a process holding the same [`LockoutSecret`](crate::LockoutSecret).
//!
//! Decoding is total: any input gives the records or a [`LockoutError::Decode`] naming the
//! first bad byte, never a panic, and allocates nothing in proportion to a count it has not
//! yet seen backed by bytes.

use super::MemoryStore;
use crate::codec::DecodeErrorKind;
use crate::time;
use crate::{LockoutError, SourceRecord, UserRecord};

const MAGIC: &[u8; 8] = b"PTALOCK\x01";

/// What [`MemoryStore::restore`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreStats {
    /// Account records loaded.
    pub users: usize,
    /// Source records and block-index entries loaded.
    pub sources: usize,
    /// Records skipped: already lapsed at `now`, or refused by a full shard.
    pub skipped: usize,
}

impl MemoryStore {
    /// Every record still meaningful at `now` (lapsed ones are left out), in the snapshot
    /// format of this module. Each shard is locked in turn, briefly: sign-ins continue while a
    /// snapshot is taken, and a record changed meanwhile is written as it was when its shard
    /// was read.
    #[must_use]
    pub fn snapshot(&self, now: u64) -> Vec<u8> {
        let policy = &self.policy;
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(MAGIC);

        let mut section = Section::start(&mut out);
        self.users.for_each(|key, record| {
            if !record.is_lapsed(policy, now) {
                section.out.extend_from_slice(&key.to_le_bytes());
                record.encode(section.out);
                section.count += 1;
            }
        });
        section.finish();

        let mut section = Section::start(&mut out);
        let mut scratch = Vec::new();
        self.sources.for_each(|key, record| {
            if !record.is_lapsed(policy, now) {
                scratch.clear();
                record.encode(&mut scratch);
                if let Ok(len) = u16::try_from(scratch.len()) {
                    section.out.extend_from_slice(&key.to_le_bytes());
                    section.out.extend_from_slice(&len.to_le_bytes());
                    section.out.extend_from_slice(&scratch);
                    section.count += 1;
                }
            }
        });
        section.finish();

        let now_s = time::floor(now);
        let mut section = Section::start(&mut out);
        self.blocked.for_each(|key, until| {
            if now_s < until.0 {
                section.out.extend_from_slice(&key.to_le_bytes());
                section.out.extend_from_slice(&until.0.to_le_bytes());
                section.count += 1;
            }
        });
        section.finish();
        out
    }

    /// Whether `bytes` is a snapshot this build reads, without loading it.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Decode`] as [`restore`](Self::restore) would return it.
    pub fn check_snapshot(bytes: &[u8]) -> Result<(), LockoutError> {
        decode(bytes).map(|_| ())
    }

    /// Loads the records of a [`snapshot`](Self::snapshot) into this store, replacing records
    /// with the same keys. Records already lapsed at `now`, and records a full shard refuses,
    /// are skipped and counted. The whole input is decoded before anything is loaded: on an
    /// error the store is unchanged.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Decode`] when `bytes` is not a snapshot this build reads.
    pub fn restore(&self, now: u64, bytes: &[u8]) -> Result<RestoreStats, LockoutError> {
        let decoded = decode(bytes)?;
        let policy = &self.policy;
        let now_s = time::floor(now);
        let mut stats = RestoreStats::default();
        for (key, record) in decoded.users {
            if record.is_lapsed(policy, now) {
                stats.skipped += 1;
                continue;
            }
            match self.users.upsert(policy, now, key, |r| *r = record) {
                Some(()) => stats.users += 1,
                None => stats.skipped += 1,
            }
        }
        for (key, record) in decoded.sources {
            if record.is_lapsed(policy, now) {
                stats.skipped += 1;
                continue;
            }
            match self.sources.upsert(policy, now, key, |r| *r = record) {
                Some(()) => stats.sources += 1,
                None => stats.skipped += 1,
            }
        }
        for (key, until) in decoded.blocks {
            if now_s >= until {
                stats.skipped += 1;
                continue;
            }
            match self
                .blocked
                .upsert(policy, now, key, |b| b.0 = b.0.max(until))
            {
                Some(()) => stats.sources += 1,
                None => stats.skipped += 1,
            }
        }
        Ok(stats)
    }
}

/// A counted list being written: its count is patched in when it is finished.
struct Section<'a> {
    out: &'a mut Vec<u8>,
    at: usize,
    count: u32,
}

impl<'a> Section<'a> {
    fn start(out: &'a mut Vec<u8>) -> Self {
        let at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        Self { out, at, count: 0 }
    }

    fn finish(self) {
        if let Some(slot) = self.out.get_mut(self.at..self.at + 4) {
            slot.copy_from_slice(&self.count.to_le_bytes());
        }
    }
}

/// A snapshot's records, decoded.
struct Decoded {
    users: Vec<(u64, UserRecord)>,
    sources: Vec<(u128, SourceRecord)>,
    blocks: Vec<(u128, u32)>,
}

fn decode(bytes: &[u8]) -> Result<Decoded, LockoutError> {
    let mut r = Cursor { bytes, pos: 0 };
    let magic = r.take(MAGIC.len())?;
    if magic.get(..7) != MAGIC.get(..7) {
        return Err(fail(0, DecodeErrorKind::WrongKind));
    }
    if magic.get(7) != MAGIC.get(7) {
        return Err(fail(7, DecodeErrorKind::UnknownVersion));
    }

    let n = r.count(8 + UserRecord::ENCODED_LEN)?;
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        let key = u64::from_le_bytes(r.array()?);
        let at = r.pos;
        let record =
            UserRecord::decode(r.take(UserRecord::ENCODED_LEN)?).map_err(|e| shift(e, at))?;
        users.push((key, record));
    }

    let n = r.count(16 + 2)?;
    let mut sources = Vec::with_capacity(n);
    for _ in 0..n {
        let key = u128::from_le_bytes(r.array()?);
        let len = usize::from(u16::from_le_bytes(r.array()?));
        let at = r.pos;
        let record = SourceRecord::decode(r.take(len)?).map_err(|e| shift(e, at))?;
        sources.push((key, record));
    }

    let n = r.count(16 + 4)?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let key = u128::from_le_bytes(r.array()?);
        let until = u32::from_le_bytes(r.array()?);
        blocks.push((key, until));
    }

    if r.pos != bytes.len() {
        return Err(fail(r.pos, DecodeErrorKind::TrailingBytes));
    }
    Ok(Decoded {
        users,
        sources,
        blocks,
    })
}

fn fail(offset: usize, kind: DecodeErrorKind) -> LockoutError {
    LockoutError::Decode { kind, offset }
}

/// A record's decode error, with its offset made relative to the whole snapshot.
fn shift(e: LockoutError, base: usize) -> LockoutError {
    match e {
        LockoutError::Decode { kind, offset } => fail(base.saturating_add(offset), kind),
        other => other,
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], LockoutError> {
        let end = self.pos.saturating_add(n);
        let chunk = self
            .bytes
            .get(self.pos..end)
            .ok_or(fail(self.bytes.len(), DecodeErrorKind::Truncated))?;
        self.pos = end;
        Ok(chunk)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LockoutError> {
        let chunk = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(chunk);
        Ok(out)
    }

    /// A list's count, refused when the bytes left cannot hold that many entries of at least
    /// `min_entry` bytes (so a forged count cannot make the decoder reserve memory).
    fn count(&mut self, min_entry: usize) -> Result<usize, LockoutError> {
        let at = self.pos;
        let n = usize::try_from(u32::from_le_bytes(self.array()?)).unwrap_or(usize::MAX);
        let left = self.bytes.len().saturating_sub(self.pos);
        if n.saturating_mul(min_entry) > left {
            return Err(fail(at.max(self.bytes.len()), DecodeErrorKind::Truncated));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        Attempt, Decision, Location, LockoutSecret, MemoryStoreLimits, Outcome, Policy, Source,
    };

    const T0: u64 = 1_800_000_000_000;

    fn store() -> MemoryStore {
        MemoryStore::new(Policy::default(), MemoryStoreLimits::default()).unwrap()
    }

    fn attempt(secret: &LockoutSecret, login: &str, password: &[u8], source: u128) -> Attempt {
        let user = secret.user_key("tenant", login);
        Attempt::new(
            user,
            Source::from_raw(source),
            Location::from_raw(7),
            secret.password_tag(user, password),
        )
    }

    #[test]
    fn a_restored_store_keeps_locks_counters_and_blocks() {
        let secret = LockoutSecret::from_bytes(&[9u8; 32]).unwrap();
        let a = store();
        // alice: locked; bob: 4 failures; eve's source: blocked after spraying.
        for i in 0..10u8 {
            let at = attempt(&secret, "alice", &[i], 1);
            assert!(a.check(T0, &at).is_allow());
            a.record(T0, &at, Outcome::InvalidCredentials);
        }
        for i in 0..4u8 {
            a.record(
                T0,
                &attempt(&secret, "bob", &[i], 2),
                Outcome::InvalidCredentials,
            );
        }
        for i in 0..30u32 {
            a.record(
                T0,
                &attempt(&secret, &format!("user{i}"), b"Spring2026", 3),
                Outcome::InvalidCredentials,
            );
        }
        let bytes = a.snapshot(T0 + 1_000);

        let b = store();
        let stats = b.restore(T0 + 2_000, &bytes).unwrap();
        assert_eq!(stats.users, 2 + 30);
        assert_eq!(stats.skipped, 0);
        let later = T0 + 2_000;
        for login in ["alice", "bob"] {
            let user = secret.user_key("tenant", login);
            assert_eq!(b.user_status(later, user), a.user_status(later, user));
        }
        assert!(matches!(
            b.check(later, &attempt(&secret, "alice", b"right", 1)),
            Decision::Locked { .. }
        ));
        assert!(matches!(
            b.check(later, &attempt(&secret, "carol", b"x", 3)),
            Decision::SourceBlocked { .. }
        ));
        // bob has 4 counted failures: 6 more lock him, as in the store that wrote the snapshot.
        for i in 10..16u8 {
            b.record(
                later,
                &attempt(&secret, "bob", &[i], 2),
                Outcome::InvalidCredentials,
            );
        }
        assert!(matches!(
            b.check(later, &attempt(&secret, "bob", b"right", 2)),
            Decision::Locked { .. }
        ));
        // Snapshot, restore, snapshot: the same bytes (up to order within a section).
        assert_eq!(b.snapshot(later).len(), a.snapshot(later).len());
    }

    #[test]
    fn lapsed_records_are_neither_written_nor_restored() {
        let secret = LockoutSecret::from_bytes(&[9u8; 32]).unwrap();
        let a = store();
        a.record(
            T0,
            &attempt(&secret, "alice", b"x", 1),
            Outcome::InvalidCredentials,
        );
        let bytes = a.snapshot(T0);
        let policy = Policy::default();
        let far = T0
            + (policy.familiar_window + policy.quiet_period * 10 + Duration::from_secs(3600))
                .as_millis() as u64;
        assert_eq!(a.snapshot(far).len(), MAGIC.len() + 12);
        let b = store();
        let stats = b.restore(far, &bytes).unwrap();
        assert_eq!((stats.users, stats.skipped), (0, 2));
    }

    #[test]
    fn an_empty_store_has_an_empty_snapshot() {
        let bytes = store().snapshot(T0);
        assert_eq!(bytes.len(), 8 + 12);
        assert_eq!(&bytes[..8], b"PTALOCK\x01");
        assert_eq!(
            store().restore(T0, &bytes).unwrap(),
            RestoreStats::default()
        );
    }

    #[test]
    fn bad_input_is_a_typed_error_and_changes_nothing() {
        let secret = LockoutSecret::from_bytes(&[9u8; 32]).unwrap();
        let a = store();
        a.record(
            T0,
            &attempt(&secret, "alice", b"x", 1),
            Outcome::InvalidCredentials,
        );
        let bytes = a.snapshot(T0);
        let b = store();
        // Every truncation fails, and leaves the store empty.
        for cut in 0..bytes.len() {
            assert!(matches!(
                b.restore(T0, &bytes[..cut]),
                Err(LockoutError::Decode { .. })
            ));
        }
        assert_eq!(b.memory_usage().users, 0);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            b.restore(T0, &trailing),
            Err(LockoutError::Decode {
                kind: DecodeErrorKind::TrailingBytes,
                ..
            })
        ));
        let mut newer = bytes.clone();
        newer[7] = 2;
        assert!(matches!(
            b.restore(T0, &newer),
            Err(LockoutError::Decode {
                kind: DecodeErrorKind::UnknownVersion,
                offset: 7
            })
        ));
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(matches!(
            b.restore(T0, &other),
            Err(LockoutError::Decode {
                kind: DecodeErrorKind::WrongKind,
                offset: 0
            })
        ));
        // A forged count far beyond the input is refused before any allocation.
        let mut forged = b"PTALOCK\x01".to_vec();
        forged.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            b.restore(T0, &forged),
            Err(LockoutError::Decode {
                kind: DecodeErrorKind::Truncated,
                ..
            })
        ));
        // A bad record inside is reported at its offset in the snapshot.
        let mut bad = bytes;
        bad[8 + 4 + 8] = b'S';
        assert!(matches!(
            b.restore(T0, &bad),
            Err(LockoutError::Decode {
                kind: DecodeErrorKind::WrongKind,
                offset: 20
            })
        ));
        assert_eq!(b.memory_usage().users, 0);
    }
}
