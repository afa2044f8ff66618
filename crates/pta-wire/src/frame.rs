//! Reassembles frames from a byte stream that arrives in arbitrary pieces.

use crate::error::{DecodeError, DecodeErrorKind, Error};
use crate::message::{FRAME_HEADER_LEN, MAX_BODY_LEN, Message};

/// Incremental frame decoder: feed stream bytes with [`push`](Self::push), get messages out.
///
/// Holds at most one frame (at most `max_frame_size` bytes). After it reports an error the
/// stream cannot be resynchronised: the decoder stays failed and consumes nothing more.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max_frame_size: usize,
    failed: bool,
}

impl FrameDecoder {
    /// A decoder refusing frames larger than `max_frame_size` bytes (header included; clamped
    /// to at least the header and at most 2^24 + 3).
    pub fn new(max_frame_size: u32) -> Self {
        let max =
            (max_frame_size as usize).clamp(FRAME_HEADER_LEN, MAX_BODY_LEN + FRAME_HEADER_LEN);
        Self {
            buf: Vec::new(),
            max_frame_size: max,
            failed: false,
        }
    }

    /// Consumes bytes from `data` until one frame is complete (or fails) or `data` runs out.
    /// Returns how many bytes were consumed and, if a frame completed, its message or error.
    /// Call again with the rest of `data` to continue.
    pub fn push(&mut self, data: &[u8]) -> (usize, Option<Result<Message, Error>>) {
        if self.failed {
            return (0, None);
        }
        let mut used = 0;
        loop {
            let want = if self.buf.len() < FRAME_HEADER_LEN {
                FRAME_HEADER_LEN
            } else {
                FRAME_HEADER_LEN + self.body_len()
            };
            let need = want - self.buf.len();
            let rest = data.get(used..).unwrap_or_default();
            if need > 0 && rest.is_empty() {
                return (used, None);
            }
            let take = need.min(rest.len());
            self.buf
                .extend_from_slice(rest.get(..take).unwrap_or_default());
            used += take;
            if self.buf.len() < want {
                return (used, None);
            }
            if want == FRAME_HEADER_LEN {
                let total = FRAME_HEADER_LEN + self.body_len();
                if total > self.max_frame_size {
                    self.failed = true;
                    return (
                        used,
                        Some(Err(Error::FrameTooLarge {
                            size: total as u32,
                            max: self.max_frame_size as u32,
                        })),
                    );
                }
                if total > FRAME_HEADER_LEN {
                    continue;
                }
            }
            // A complete frame.
            let kind = self.buf.first().copied().unwrap_or(0);
            let body = self.buf.get(FRAME_HEADER_LEN..).unwrap_or_default();
            let result = if body.is_empty() {
                Err(DecodeError::new(
                    DecodeErrorKind::Truncated,
                    FRAME_HEADER_LEN,
                ))
            } else {
                Message::decode_body(kind, body, FRAME_HEADER_LEN)
            };
            self.buf.clear();
            if result.is_err() {
                self.failed = true;
            }
            return (used, Some(result.map_err(Error::Malformed)));
        }
    }

    /// Bytes of a partial frame currently held.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn body_len(&self) -> usize {
        match self.buf.get(1..FRAME_HEADER_LEN) {
            Some([a, b, c]) => usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ping_frame(n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        Message::Ping(n).encode(&mut v).unwrap();
        v
    }

    #[test]
    fn byte_at_a_time() {
        let mut stream = ping_frame(1);
        stream.extend(ping_frame(300));
        let mut d = FrameDecoder::new(1024);
        let mut got = Vec::new();
        for b in &stream {
            let (n, m) = d.push(std::slice::from_ref(b));
            assert_eq!(n, 1);
            if let Some(m) = m {
                got.push(m.unwrap());
            }
        }
        assert_eq!(got, vec![Message::Ping(1), Message::Ping(300)]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn oversize_header_fails_before_body() {
        let mut d = FrameDecoder::new(1024);
        let (n, r) = d.push(&[0x03, 0x00, 0x10, 0x00, 0xa0]);
        assert_eq!(n, 4);
        assert_eq!(
            r,
            Some(Err(Error::FrameTooLarge {
                size: 4096 + 4,
                max: 1024
            }))
        );
        assert_eq!(d.push(&[0xa0]), (0, None));
    }

    #[test]
    fn empty_body_is_malformed() {
        let mut d = FrameDecoder::new(1024);
        let (_, r) = d.push(&[0x09, 0, 0, 0]);
        assert!(matches!(r, Some(Err(Error::Malformed(_)))));
    }
}
