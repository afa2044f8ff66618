//! The crate's error type and the decode error (kind plus byte offset).

use crate::codes::CloseReason;

/// What went wrong while decoding a frame or a message body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside an item.
    Truncated,
    /// A CBOR head used a reserved additional-information value (28 to 30).
    InvalidHead,
    /// A CBOR item used indefinite length, which this protocol forbids.
    IndefiniteLength,
    /// A field had a different CBOR major type than the specification requires.
    UnexpectedType,
    /// An integer did not fit the field's range.
    IntegerOverflow,
    /// A text string was not valid UTF-8.
    InvalidUtf8,
    /// A string, array or map exceeded the field's bound.
    TooLong,
    /// Unknown items were nested deeper than the decoder allows.
    TooDeep,
    /// A required field was absent; the value is its integer key.
    MissingField(u8),
    /// The same known key appeared twice in one map.
    DuplicateKey(u8),
    /// Bytes remained after the message body's map.
    TrailingBytes,
    /// The frame header named a message type this version does not define.
    UnknownMessageType(u8),
    /// A field was well formed but its value is not allowed (for example a request id that is
    /// not 16 bytes, or an empty version list).
    InvalidValue,
    /// The frame is larger than the receiver's limit.
    FrameTooLarge,
}

/// A decode failure: what went wrong and at which byte offset of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("decode error: {kind:?} at byte {offset}")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Offset of the offending byte, counted from the start of the input given to the decoder.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

/// Errors of this crate: refused API calls, and the typed cause carried by a session's `Closed`
/// event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A frame or message could not be decoded. As a session close cause: the peer sent bytes
    /// that are not a valid frame; the connection is closed, reconnect.
    #[error("malformed frame: {0}")]
    Malformed(#[from] DecodeError),
    /// A frame exceeds the size limit (the peer's when sending, ours when receiving). When
    /// sending: shrink the payload (the envelope or certificate chain); the session is unchanged.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// Size of the frame, header included (saturated at `u32::MAX`).
        size: u32,
        /// The limit.
        max: u32,
    },
    /// A message field is out of its documented bound (see `docs/PROTOCOL.md`); fix the value
    /// before sending. The session is unchanged.
    #[error("message field out of bounds")]
    FieldOutOfBounds,
    /// The peer sent a message that is not allowed in the session's current state. The session
    /// closes with `ProtocolError`; reconnect, and report the peer's software version.
    #[error("unexpected message type {kind:#04x}")]
    UnexpectedMessage {
        /// The message type byte.
        kind: u8,
    },
    /// The peer answered a request id that this session never sent and did not recently
    /// expire. The session closes with `ProtocolError`.
    #[error("response for an unknown request id")]
    UnknownRequestId,
    /// The peer had more requests outstanding than the negotiated limit. The session closes
    /// with `ProtocolError`.
    #[error("peer exceeded the in-flight limit")]
    PeerExceededInFlight,
    /// The peer's handshake message had values outside the allowed ranges. The session closes
    /// with `ProtocolError`.
    #[error("invalid handshake parameters")]
    InvalidHandshake,
    /// No protocol version in common. The session closes with `VersionMismatch`; upgrade the
    /// agent (or the service).
    #[error("no protocol version in common")]
    VersionMismatch,
    /// The handshake did not complete in time. Reconnect with backoff.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing was received for the idle timeout: the peer or the path is dead. Reconnect with
    /// backoff; the service retries outstanding requests elsewhere.
    #[error("idle timeout")]
    IdleTimeout,
    /// The peer closed the session with this reason. Act on the reason (a revoked agent must
    /// not reconnect; `Superseded` means another connection replaced this one).
    #[error("closed by peer: {0:?}")]
    PeerClosed(CloseReason),
    /// The call needs an established session; wait for the handshake event.
    #[error("session not established")]
    NotEstablished,
    /// The session is draining: send the request on another session.
    #[error("session is draining")]
    Draining,
    /// The session is closed: drop it, and open a new connection if needed.
    #[error("session closed")]
    Closed,
    /// The negotiated in-flight limit is reached: wait for a response or a timeout event, or
    /// use another session.
    #[error("in-flight limit reached")]
    TooManyInFlight,
    /// A request with this id is already outstanding; ids must be unique (random 128-bit).
    #[error("duplicate request id")]
    DuplicateRequestId,
    /// The request's deadline is already past (on this session's clock); do not send it.
    #[error("deadline already passed")]
    DeadlinePassed,
    /// No outstanding request has this id (it was answered, or never received). Drop the
    /// answer.
    #[error("no outstanding request with this id")]
    UnknownRequest,
    /// The peer did not announce the capability this message needs; use another session.
    #[error("peer lacks the capability")]
    Unsupported,
    /// A renewal is already outstanding; wait for its response or timeout event.
    #[error("a renewal is already outstanding")]
    RenewInProgress,
    /// Too many bytes are queued for sending: call `poll_transmit` and write them out, then
    /// retry.
    #[error("transmit buffer full")]
    Backpressure,
    /// Too many events are waiting to be polled (timed-out requests pile up while nobody polls):
    /// call `poll_event` until it returns `None`, then retry.
    #[error("event queue full")]
    EventsPending,
}
