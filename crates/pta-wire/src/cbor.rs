//! The CBOR (RFC 8949) subset the protocol uses, hand-rolled: definite lengths only, shortest
//! integer forms when encoding, and a decoder that never panics, never allocates more than the
//! input holds and bounds nesting when skipping unknown items.

use crate::error::{DecodeError, DecodeErrorKind as K};

pub(crate) const MAJOR_UINT: u8 = 0;
pub(crate) const MAJOR_NINT: u8 = 1;
pub(crate) const MAJOR_BYTES: u8 = 2;
pub(crate) const MAJOR_TEXT: u8 = 3;
pub(crate) const MAJOR_ARRAY: u8 = 4;
pub(crate) const MAJOR_MAP: u8 = 5;
pub(crate) const MAJOR_TAG: u8 = 6;

/// Deepest nesting of unknown items the decoder skips.
pub(crate) const MAX_SKIP_DEPTH: u32 = 16;

/// Writes a head (major type and argument) in its shortest form.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if let Ok(v) = u8::try_from(arg) {
        out.extend_from_slice(&[m | 24, v]);
    } else if let Ok(v) = u16::try_from(arg) {
        out.push(m | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(arg) {
        out.push(m | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

pub(crate) fn write_uint(out: &mut Vec<u8>, v: u64) {
    write_head(out, MAJOR_UINT, v);
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_head(out, MAJOR_BYTES, b.len() as u64);
    out.extend_from_slice(b);
}

pub(crate) fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over CBOR input. Offsets in errors are relative to `base` plus the position.
pub(crate) struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    pub(crate) fn err(&self, kind: K) -> DecodeError {
        DecodeError::new(kind, self.base + self.pos)
    }

    fn err_at(&self, kind: K, pos: usize) -> DecodeError {
        DecodeError::new(kind, self.base + pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Major type of the next item, without consuming it.
    pub(crate) fn peek_major(&self) -> Result<u8, DecodeError> {
        self.data
            .get(self.pos)
            .map(|b| b >> 5)
            .ok_or_else(|| self.err(K::Truncated))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.err(K::Truncated))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.err(K::Truncated))?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a head: major type and argument. Indefinite lengths and reserved values fail.
    pub(crate) fn head(&mut self) -> Result<(u8, u64), DecodeError> {
        let start = self.pos;
        let b = *self
            .take(1)?
            .first()
            .ok_or_else(|| self.err(K::Truncated))?;
        let major = b >> 5;
        let info = b & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?.first().copied().unwrap_or(0)),
            25 => {
                let s = self.take(2)?;
                u64::from(u16::from_be_bytes([s[0], s[1]]))
            }
            26 => {
                let s = self.take(4)?;
                u64::from(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            27 => {
                let s = self.take(8)?;
                u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
            }
            31 => return Err(self.err_at(K::IndefiniteLength, start)),
            _ => return Err(self.err_at(K::InvalidHead, start)),
        };
        Ok((major, arg))
    }

    fn expect(&mut self, major: u8) -> Result<u64, DecodeError> {
        let start = self.pos;
        let (m, arg) = self.head()?;
        if m == major {
            Ok(arg)
        } else {
            Err(self.err_at(K::UnexpectedType, start))
        }
    }

    pub(crate) fn uint(&mut self) -> Result<u64, DecodeError> {
        self.expect(MAJOR_UINT)
    }

    pub(crate) fn uint_as<T: TryFrom<u64>>(&mut self) -> Result<T, DecodeError> {
        let start = self.pos;
        let v = self.uint()?;
        T::try_from(v).map_err(|_| self.err_at(K::IntegerOverflow, start))
    }

    /// Reads a definite length and checks it against `max` and against the remaining input,
    /// so callers may allocate `len` items.
    fn len(&mut self, major: u8, max: usize, min_item: usize) -> Result<usize, DecodeError> {
        let start = self.pos;
        let n = self.expect(major)?;
        let n = usize::try_from(n).map_err(|_| self.err_at(K::TooLong, start))?;
        if n > max {
            return Err(self.err_at(K::TooLong, start));
        }
        let remaining = self.data.len().saturating_sub(self.pos);
        if n.saturating_mul(min_item) > remaining {
            return Err(self.err(K::Truncated));
        }
        Ok(n)
    }

    pub(crate) fn bytes(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let n = self.len(MAJOR_BYTES, max, 1)?;
        self.take(n)
    }

    pub(crate) fn text(&mut self, max: usize) -> Result<&'a str, DecodeError> {
        let n = self.len(MAJOR_TEXT, max, 1)?;
        let start = self.pos;
        let s = self.take(n)?;
        std::str::from_utf8(s).map_err(|e| self.err_at(K::InvalidUtf8, start + e.valid_up_to()))
    }

    pub(crate) fn array(&mut self, max: usize) -> Result<usize, DecodeError> {
        self.len(MAJOR_ARRAY, max, 1)
    }

    pub(crate) fn map(&mut self, max: usize) -> Result<usize, DecodeError> {
        self.len(MAJOR_MAP, max, 2)
    }

    /// Skips one well-formed item of any type, nested at most `MAX_SKIP_DEPTH` deep.
    pub(crate) fn skip(&mut self) -> Result<(), DecodeError> {
        self.skip_depth(0)
    }

    fn skip_depth(&mut self, depth: u32) -> Result<(), DecodeError> {
        if depth >= MAX_SKIP_DEPTH {
            return Err(self.err(K::TooDeep));
        }
        let start = self.pos;
        let (major, arg) = self.head()?;
        match major {
            MAJOR_UINT | MAJOR_NINT => Ok(()),
            MAJOR_BYTES | MAJOR_TEXT => {
                let n = usize::try_from(arg).map_err(|_| self.err_at(K::Truncated, start))?;
                self.take(n).map(|_| ())
            }
            MAJOR_ARRAY | MAJOR_MAP => {
                let per = if major == MAJOR_MAP { 2 } else { 1 };
                let remaining = (self.data.len().saturating_sub(self.pos)) as u64;
                let items = arg.saturating_mul(per);
                // Every item takes at least one byte: a count above the rest is truncated.
                if items > remaining {
                    return Err(self.err(K::Truncated));
                }
                for _ in 0..items {
                    self.skip_depth(depth + 1)?;
                }
                Ok(())
            }
            MAJOR_TAG => self.skip_depth(depth + 1),
            // Simple values and floats: the head already consumed their bytes.
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_shortest() {
        for (v, len) in [(0u64, 1), (23, 1), (24, 2), (255, 2), (256, 3), (65535, 3)] {
            let mut out = Vec::new();
            write_uint(&mut out, v);
            assert_eq!(out.len(), len, "{v}");
            assert_eq!(Decoder::new(&out, 0).uint(), Ok(v));
        }
        let mut out = Vec::new();
        write_uint(&mut out, u64::MAX);
        assert_eq!(out.len(), 9);
        assert_eq!(Decoder::new(&out, 0).uint(), Ok(u64::MAX));
    }

    #[test]
    fn rejects_indefinite_and_reserved() {
        assert_eq!(
            Decoder::new(&[0x5f], 3)
                .head()
                .map_err(|e| (e.kind, e.offset)),
            Err((K::IndefiniteLength, 3))
        );
        assert_eq!(
            Decoder::new(&[0x1c], 0).head().map_err(|e| e.kind),
            Err(K::InvalidHead)
        );
    }

    #[test]
    fn huge_lengths_fail_without_allocating() {
        // Byte string claiming 2^64-1 bytes, array claiming 2^32 items.
        let mut d = Decoder::new(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0);
        assert!(d.bytes(usize::MAX).is_err());
        let mut d = Decoder::new(&[0x9b, 0, 0, 0, 1, 0, 0, 0, 0, 0], 0);
        assert_eq!(d.skip().map_err(|e| e.kind), Err(K::Truncated));
    }

    #[test]
    fn skip_bounds_depth() {
        let deep = vec![0x81u8; 64];
        assert_eq!(
            Decoder::new(&deep, 0).skip().map_err(|e| e.kind),
            Err(K::TooDeep)
        );
        // Tag, float, nested map.
        let item = [0xc1, 0xa1, 0x01, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut d = Decoder::new(&item, 0);
        assert_eq!(d.skip(), Ok(()));
        assert!(d.is_empty());
    }

    #[test]
    fn text_checks_utf8() {
        let mut d = Decoder::new(&[0x62, b'a', 0xff], 10);
        assert_eq!(
            d.text(10).map_err(|e| (e.kind, e.offset)),
            Err((K::InvalidUtf8, 12))
        );
    }
}
