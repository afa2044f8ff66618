//! Plumbing shared by both sessions: frame reader, transmit buffer, heartbeat and idle timers,
//! counters.

use crate::codes::CloseReason;
use crate::error::Error;
use crate::frame::FrameDecoder;
use crate::message::Message;

/// Counters of a session. All saturate instead of wrapping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Frames queued for sending.
    pub frames_sent: u64,
    /// Complete frames received.
    pub frames_received: u64,
    /// Answers that arrived (or, on the agent, were sent) after their request's deadline and
    /// were dropped.
    pub late_responses: u64,
    /// Requests reported as timed out (service) or expired (agent).
    pub requests_timed_out: u64,
    /// `Ping`s left unanswered because the transmit buffer was full.
    pub pongs_skipped: u64,
}

pub(crate) struct Conn {
    pub(crate) reader: FrameDecoder,
    out: Vec<u8>,
    max_out: usize,
    /// Largest frame the peer accepts (known after the handshake; 1024 before).
    pub(crate) peer_max_frame: u32,
    pub(crate) last_recv: u64,
    pub(crate) last_sent: u64,
    /// Heartbeat interval and idle timeout, once negotiated.
    pub(crate) heartbeat: Option<(u64, u64)>,
    pub(crate) handshake_deadline: u64,
    next_ping: u64,
    pub(crate) stats: Stats,
}

impl Conn {
    pub(crate) fn new(now: u64, max_frame: u32, handshake_timeout: u64, max_out: usize) -> Self {
        Self {
            reader: FrameDecoder::new(max_frame),
            out: Vec::new(),
            max_out,
            peer_max_frame: 1024,
            last_recv: now,
            last_sent: now,
            heartbeat: None,
            handshake_deadline: now.saturating_add(handshake_timeout),
            next_ping: 0,
            stats: Stats::default(),
        }
    }

    /// Queues one frame. With `flow`, refuses when the transmit buffer is over its limit
    /// (control frames pass regardless; there are at most a few of them).
    pub(crate) fn send(&mut self, now: u64, msg: &Message, flow: bool) -> Result<(), Error> {
        if flow && self.out.len() >= self.max_out {
            return Err(Error::Backpressure);
        }
        let start = self.out.len();
        msg.encode(&mut self.out)?;
        let size = self.out.len() - start;
        if size > self.peer_max_frame as usize {
            self.out.truncate(start);
            return Err(Error::FrameTooLarge {
                size: u32::try_from(size).unwrap_or(u32::MAX),
                max: self.peer_max_frame,
            });
        }
        self.last_sent = now;
        self.stats.frames_sent = self.stats.frames_sent.saturating_add(1);
        Ok(())
    }

    /// Answers a ping unless the transmit buffer is full.
    pub(crate) fn pong(&mut self, now: u64, nonce: u64) {
        if self.send(now, &Message::Pong(nonce), true).is_err() {
            self.stats.pongs_skipped = self.stats.pongs_skipped.saturating_add(1);
        }
    }

    pub(crate) fn received(&mut self, now: u64) {
        self.last_recv = now;
        self.stats.frames_received = self.stats.frames_received.saturating_add(1);
    }

    pub(crate) fn queued(&self) -> usize {
        self.out.len()
    }

    pub(crate) fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.extend_from_slice(&self.out);
            self.out.clear();
        }
        n
    }

    /// Handshake and idle checks, and a `Ping` when nothing was sent for an interval. Returns
    /// the reason and error to close with when the handshake or idle timer has run out.
    pub(crate) fn on_timeout(&mut self, now: u64) -> Option<(CloseReason, Error)> {
        match self.heartbeat {
            None if now >= self.handshake_deadline => {
                Some((CloseReason::HandshakeTimeout, Error::HandshakeTimeout))
            }
            None => None,
            Some((_, idle)) if now >= self.last_recv.saturating_add(idle) => {
                Some((CloseReason::IdleTimeout, Error::IdleTimeout))
            }
            Some((interval, _)) => {
                if now >= self.last_sent.saturating_add(interval) {
                    self.next_ping = self.next_ping.wrapping_add(1);
                    // Best effort: a full buffer means frames are queued anyway.
                    let _ = self.send(now, &Message::Ping(self.next_ping), true);
                    if self.last_sent != now {
                        // Not sent (buffer full): do not spin on this deadline.
                        self.last_sent = now;
                    }
                }
                None
            }
        }
    }

    pub(crate) fn next_timer(&self) -> u64 {
        match self.heartbeat {
            None => self.handshake_deadline,
            Some((interval, idle)) => self
                .last_recv
                .saturating_add(idle)
                .min(self.last_sent.saturating_add(interval)),
        }
    }
}

/// The earlier of two optional instants.
pub(crate) fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Converts a Unix-millisecond instant to the local monotonic clock, given
/// `offset = unix - monotonic` measured at one moment.
pub(crate) fn unix_to_local(unix_ms: u64, offset: i128) -> u64 {
    let v = i128::from(unix_ms) - offset;
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}
