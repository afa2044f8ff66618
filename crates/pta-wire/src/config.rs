//! Session configuration: plain structs with public fields and defaults.

use crate::codes::Capabilities;
use crate::message::{FRAME_HEADER_LEN, MAX_BODY_LEN};

/// The protocol version this crate implements.
pub const PROTOCOL_VERSION: u16 = 1;

/// Default largest frame, header included: 64 KiB.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 64 * 1024;

/// Agent side settings. Times are milliseconds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AgentConfig {
    /// Protocol versions offered in `Hello` (default `[1]`).
    pub versions: Vec<u16>,
    /// Agent software version sent in `Hello` (at most 64 bytes).
    pub agent_version: String,
    /// Capabilities announced in `Hello` (default: password change and renewal).
    pub capabilities: Capabilities,
    /// Most requests the agent accepts outstanding (default 256).
    pub max_in_flight: u32,
    /// Largest frame accepted, header included (default 64 KiB, 1024 to 2^24 + 3).
    pub max_frame_size: u32,
    /// Close if `Welcome` has not arrived this long after the session starts (default 10 s).
    pub handshake_timeout_ms: u64,
    /// Report a renewal as timed out after this long without `RenewResponse` (default 60 s).
    pub renew_timeout_ms: u64,
    /// Queued outgoing bytes above which sends are refused with `Backpressure` (default 1 MiB).
    pub max_transmit_bytes: usize,
    /// Queued events above which `handle_input` stops consuming (default 1024).
    pub max_queued_events: usize,
    /// How many expired request ids are remembered to recognise late answers (default 4096).
    pub expired_memory: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            versions: vec![PROTOCOL_VERSION],
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            capabilities: Capabilities::PASSWORD_CHANGE | Capabilities::RENEW,
            max_in_flight: 256,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            handshake_timeout_ms: 10_000,
            renew_timeout_ms: 60_000,
            max_transmit_bytes: 1 << 20,
            max_queued_events: 1024,
            expired_memory: 4096,
        }
    }
}

/// Service side settings. Times are milliseconds.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// Protocol versions the service speaks (default `[1]`).
    pub versions: Vec<u16>,
    /// Heartbeat interval sent in `Welcome` (default 15 s, at least 1 ms).
    pub heartbeat_interval_ms: u32,
    /// Idle timeout sent in `Welcome` (default 45 s; raised to twice the heartbeat interval if
    /// smaller).
    pub idle_timeout_ms: u32,
    /// Most requests outstanding on one session (default 1024; the agent's limit wins if
    /// smaller).
    pub max_in_flight: u32,
    /// Largest frame accepted, header included (default 64 KiB, 1024 to 2^24 + 3).
    pub max_frame_size: u32,
    /// Newest agent version, announced in `Welcome`.
    pub latest_agent_version: String,
    /// Oldest supported agent version, announced in `Welcome`.
    pub min_agent_version: String,
    /// Close if `Hello` has not arrived this long after the session starts (default 10 s).
    pub handshake_timeout_ms: u64,
    /// Queued outgoing bytes above which sends are refused with `Backpressure` (default 4 MiB).
    pub max_transmit_bytes: usize,
    /// Queued events above which `handle_input` stops consuming (default 1024).
    pub max_queued_events: usize,
    /// How many expired request ids are remembered to recognise late answers (default 4096).
    pub expired_memory: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            versions: vec![PROTOCOL_VERSION],
            heartbeat_interval_ms: 15_000,
            idle_timeout_ms: 45_000,
            max_in_flight: 1024,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            latest_agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            min_agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            handshake_timeout_ms: 10_000,
            max_transmit_bytes: 4 << 20,
            max_queued_events: 1024,
            expired_memory: 4096,
        }
    }
}

pub(crate) fn clamp_frame_size(v: u32) -> u32 {
    v.clamp(1024, (MAX_BODY_LEN + FRAME_HEADER_LEN) as u32)
}

/// Shortens `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate_utf8(s: &mut String, max: usize) {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}
