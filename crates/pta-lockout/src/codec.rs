//! A compact, versioned byte encoding of [`UserRecord`] and [`SourceRecord`], for stores that
//! keep records outside the process (a cache, a database).
//!
//! Every encoding starts with a kind byte (`U` for an account, `S` for a source) and a version
//! byte (1), then the fields in little-endian order:
//!
//! ```text
//! UserRecord, version 1 (98 bytes):
//!   'U' 0x01
//!   familiar      4 x u64     familiar_at   4 x u32
//!   bad_tags      3 x u32     bad_at        3 x u32
//!   locked_until  2 x u32     last_failure  2 x u32   (familiar class, then unfamiliar)
//!   last_seen     u32
//!   failures      2 x u8      level         2 x u8
//!
//! SourceRecord, version 1 (12 + 12 n bytes):
//!   'S' 0x01
//!   blocked_until u32         last_seen     u32
//!   n             u16 (at most Policy::MAX_SPRAY_THRESHOLD)
//!   n x (user key u64, last failure u32)
//! ```
//!
//! Stamps are whole seconds since the caller's epoch plus one (0: never), as in memory. Decoding
//! is total and bounded: any input gives a record or a [`LockoutError::Decode`] naming the
//! first bad byte, never a panic, and reads at most the bytes given. Every byte string that
//! decodes re-encodes to itself.

use crate::time::Tick;
use crate::{BAD_PASSWORD_SLOTS, FAMILIAR_SLOTS};
use crate::{LockoutError, Policy, SourceRecord, UserRecord};

/// Why a byte string is not an encoded record, in [`LockoutError::Decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ends before the record does.
    Truncated,
    /// Bytes follow the end of the record.
    TrailingBytes,
    /// The kind byte is not the one of this record type (`U` or `S`).
    WrongKind,
    /// The version byte is not one this build reads (it was written by a newer one).
    UnknownVersion,
    /// A source record lists more accounts than any policy allows.
    TooManyHits,
}

impl std::fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated",
            Self::TrailingBytes => "trailing bytes",
            Self::WrongKind => "wrong record kind",
            Self::UnknownVersion => "unknown version",
            Self::TooManyHits => "too many accounts in a source record",
        })
    }
}

const USER_KIND: u8 = b'U';
const SOURCE_KIND: u8 = b'S';
const VERSION: u8 = 1;

impl UserRecord {
    /// Length of an encoded record.
    pub const ENCODED_LEN: usize = 2 + FAMILIAR_SLOTS * 12 + BAD_PASSWORD_SLOTS * 8 + 16 + 4 + 4;

    /// Appends the record's encoding to `out`: 98 bytes, `U`, version 1, then the fields in
    /// little-endian order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(Self::ENCODED_LEN);
        out.extend_from_slice(&[USER_KIND, VERSION]);
        self.familiar
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        put_ticks(out, &self.familiar_at);
        self.bad_tags
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        put_ticks(out, &self.bad_at);
        put_ticks(out, &self.locked_until);
        put_ticks(out, &self.last_failure);
        put_ticks(out, &[self.last_seen]);
        out.extend_from_slice(&self.failures);
        out.extend_from_slice(&self.level);
    }

    /// Decodes what [`UserRecord::encode`] wrote. Total: never panics, reads only `bytes`.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Decode`] with the kind of fault and the offset of the first bad byte.
    pub fn decode(bytes: &[u8]) -> Result<Self, LockoutError> {
        let mut r = Reader::new(bytes);
        r.header(USER_KIND)?;
        let mut rec = Self::EMPTY;
        for v in &mut rec.familiar {
            *v = r.u64()?;
        }
        r.ticks(&mut rec.familiar_at)?;
        for v in &mut rec.bad_tags {
            *v = r.u32()?;
        }
        r.ticks(&mut rec.bad_at)?;
        r.ticks(&mut rec.locked_until)?;
        r.ticks(&mut rec.last_failure)?;
        rec.last_seen = r.u32()?;
        for v in rec.failures.iter_mut().chain(rec.level.iter_mut()) {
            *v = r.u8()?;
        }
        r.end()?;
        Ok(rec)
    }
}

impl SourceRecord {
    /// Appends the record's encoding to `out`: `S`, version 1, the block end, the last failure,
    /// the number of accounts and each account with its last failure, little-endian.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.reserve(12 + self.hits.len() * 12);
        out.extend_from_slice(&[SOURCE_KIND, VERSION]);
        put_ticks(out, &[self.blocked_until, self.last_seen]);
        // A record built by the policy holds at most MAX_SPRAY_THRESHOLD (1024) accounts.
        let n = u16::try_from(self.hits.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_le_bytes());
        for &(user, at) in self.hits.iter().take(usize::from(n)) {
            out.extend_from_slice(&user.to_le_bytes());
            out.extend_from_slice(&at.to_le_bytes());
        }
    }

    /// Decodes what [`SourceRecord::encode`] wrote. Total: never panics, reads only `bytes`,
    /// and allocates for at most [`Policy::MAX_SPRAY_THRESHOLD`] accounts.
    ///
    /// # Errors
    ///
    /// [`LockoutError::Decode`] with the kind of fault and the offset of the first bad byte.
    pub fn decode(bytes: &[u8]) -> Result<Self, LockoutError> {
        let mut r = Reader::new(bytes);
        r.header(SOURCE_KIND)?;
        let blocked_until = r.u32()?;
        let last_seen = r.u32()?;
        let at = r.pos;
        let n = r.u16()?;
        if n > Policy::MAX_SPRAY_THRESHOLD {
            return Err(r.fail_at(at, DecodeErrorKind::TooManyHits));
        }
        let mut hits = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            hits.push((r.u64()?, r.u32()?));
        }
        r.end()?;
        Ok(Self {
            hits,
            blocked_until,
            last_seen,
        })
    }
}

fn put_ticks(out: &mut Vec<u8>, ticks: &[Tick]) {
    for t in ticks {
        out.extend_from_slice(&t.to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn fail_at(&self, offset: usize, kind: DecodeErrorKind) -> LockoutError {
        LockoutError::Decode { kind, offset }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], LockoutError> {
        let chunk = self
            .bytes
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<N>())
            .copied()
            .ok_or(LockoutError::Decode {
                kind: DecodeErrorKind::Truncated,
                offset: self.bytes.len(),
            })?;
        self.pos += N;
        Ok(chunk)
    }

    fn header(&mut self, kind: u8) -> Result<(), LockoutError> {
        let [k, v] = self.take::<2>()?;
        if k != kind {
            return Err(self.fail_at(0, DecodeErrorKind::WrongKind));
        }
        if v != VERSION {
            return Err(self.fail_at(1, DecodeErrorKind::UnknownVersion));
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, LockoutError> {
        Ok(self.take::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, LockoutError> {
        self.take().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, LockoutError> {
        self.take().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, LockoutError> {
        self.take().map(u64::from_le_bytes)
    }

    fn ticks(&mut self, out: &mut [Tick]) -> Result<(), LockoutError> {
        for t in out {
            *t = self.u32()?;
        }
        Ok(())
    }

    fn end(&self) -> Result<(), LockoutError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.fail_at(self.pos, DecodeErrorKind::TrailingBytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, Outcome, PasswordTag, UserKey};
    use proptest::prelude::*;

    fn encoded_user(r: &UserRecord) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode(&mut out);
        out
    }

    fn encoded_source(r: &SourceRecord) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode(&mut out);
        out
    }

    #[test]
    fn empty_records_round_trip_with_the_documented_lengths() {
        let u = encoded_user(&UserRecord::EMPTY);
        assert_eq!(u.len(), UserRecord::ENCODED_LEN);
        assert_eq!(u.len(), 98);
        assert_eq!(&u[..2], b"U\x01");
        assert_eq!(UserRecord::decode(&u).unwrap(), UserRecord::EMPTY);
        let s = encoded_source(&SourceRecord::EMPTY);
        assert_eq!(s, b"S\x01\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(SourceRecord::decode(&s).unwrap(), SourceRecord::EMPTY);
    }

    #[test]
    fn faults_are_named_with_their_offset() {
        let u = encoded_user(&UserRecord::EMPTY);
        fn fault<T: std::fmt::Debug>(r: Result<T, LockoutError>) -> (DecodeErrorKind, usize) {
            match r {
                Err(LockoutError::Decode { kind, offset }) => (kind, offset),
                other => panic!("{other:?}"),
            }
        }
        use DecodeErrorKind::*;
        assert_eq!(fault(UserRecord::decode(&[])), (Truncated, 0));
        assert_eq!(fault(UserRecord::decode(&u[..50])), (Truncated, 50));
        assert_eq!(
            fault(UserRecord::decode(&[&u[..], &[0]].concat())),
            (TrailingBytes, 98)
        );
        assert_eq!(fault(UserRecord::decode(b"S\x01")), (WrongKind, 0));
        assert_eq!(fault(UserRecord::decode(b"U\x02")), (UnknownVersion, 1));
        assert_eq!(fault(SourceRecord::decode(&u)), (WrongKind, 0));
        let mut s = b"S\x01\0\0\0\0\0\0\0\0".to_vec();
        s.extend_from_slice(&1025u16.to_le_bytes());
        assert_eq!(fault(SourceRecord::decode(&s)), (TooManyHits, 10));
        let mut s = b"S\x01\0\0\0\0\0\0\0\0".to_vec();
        s.extend_from_slice(&2u16.to_le_bytes());
        s.extend_from_slice(&[0; 12]);
        assert_eq!(fault(SourceRecord::decode(&s)), (Truncated, 24));
    }

    /// One event on a record: (account or source index, wrong password?, password tag,
    /// location, seconds forward).
    fn events() -> impl Strategy<Value = Vec<(u8, bool, u8, u8, u16)>> {
        proptest::collection::vec((0u8..4, any::<bool>(), 0u8..6, 0u8..6, 0u16..4000), 0..80)
    }

    proptest! {
        #[test]
        fn any_bytes_decode_without_panic_and_reencode_to_themselves(
            bytes in proptest::collection::vec(any::<u8>(), 0..120),
            kind in prop_oneof![Just(b'U'), Just(b'S')],
        ) {
            let mut input = vec![kind, 1];
            input.extend_from_slice(&bytes);
            for candidate in [&bytes[..], &input[..]] {
                if let Ok(r) = UserRecord::decode(candidate) {
                    prop_assert_eq!(encoded_user(&r), candidate);
                }
                if let Ok(r) = SourceRecord::decode(candidate) {
                    prop_assert_eq!(encoded_source(&r), candidate);
                }
            }
        }

        #[test]
        fn records_built_by_the_policy_round_trip(events in events(), threshold in 1u8..5) {
            let policy = Policy { threshold, spray_threshold: 3, ..Policy::default() };
            let mut user = UserRecord::EMPTY;
            let mut source = SourceRecord::EMPTY;
            let mut now = 1_700_000_000_000u64;
            for (who, wrong, tag, loc, step) in events {
                now += u64::from(step) * 1000 + u64::from(tag);
                let outcome = if wrong { Outcome::InvalidCredentials } else { Outcome::Success };
                user.record(
                    &policy,
                    now,
                    Location::from_raw(u64::from(loc)),
                    PasswordTag::from_raw(u32::from(tag)),
                    outcome,
                );
                source.record(&policy, now, UserKey::from_raw(u64::from(who)), outcome);
                let u = UserRecord::decode(&encoded_user(&user)).unwrap();
                prop_assert_eq!(&u, &user);
                let s = SourceRecord::decode(&encoded_source(&source)).unwrap();
                prop_assert_eq!(&s, &source);
            }
        }
    }
}
