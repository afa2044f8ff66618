//! Messages and their codec: one message per frame, a 4-byte header (type, 24-bit length) and a
//! CBOR map body with small integer keys. See `docs/PROTOCOL.md` for the key tables.

use crate::cbor::{self, Decoder, MAJOR_MAP, MAJOR_UINT};
use crate::codes::{
    Capabilities, CloseReason, ErrorCode, RequestId, Verdict, Warning, WarningKind,
};
use crate::error::{DecodeError, DecodeErrorKind as K, Error};

/// Size of the frame header: one type byte and a 24-bit big-endian body length.
pub const FRAME_HEADER_LEN: usize = 4;
/// Largest body a frame header can describe (2^24 - 1 bytes).
pub const MAX_BODY_LEN: usize = 0xFF_FFFF;
/// Most protocol versions a `Hello` may list.
pub const MAX_VERSIONS: usize = 16;
/// Longest software-version string, in bytes.
pub const MAX_VERSION_TEXT: usize = 64;
/// Longest login name, in bytes of UTF-8.
pub const MAX_LOGIN: usize = 512;
/// Longest reply MAC, in bytes.
pub const MAX_MAC: usize = 64;
/// Most warnings on one response.
pub const MAX_WARNINGS: usize = 8;
/// Most certificates in a renewed chain.
pub const MAX_CHAIN: usize = 8;
/// Longest human-readable detail in `Close` and `Error`, in bytes.
pub const MAX_DETAIL: usize = 256;
/// Most entries in one message map, unknown keys included.
pub const MAX_MAP_ENTRIES: usize = 64;

/// Message type bytes (the first byte of each frame header).
pub mod kind {
    /// `Hello`, agent to service.
    pub const HELLO: u8 = 0x01;
    /// `Welcome`, service to agent.
    pub const WELCOME: u8 = 0x02;
    /// `SignInRequest`, service to agent.
    pub const SIGN_IN_REQUEST: u8 = 0x03;
    /// `SignInResponse`, agent to service.
    pub const SIGN_IN_RESPONSE: u8 = 0x04;
    /// `PasswordChangeRequest`, service to agent.
    pub const PASSWORD_CHANGE_REQUEST: u8 = 0x05;
    /// `PasswordChangeResponse`, agent to service.
    pub const PASSWORD_CHANGE_RESPONSE: u8 = 0x06;
    /// `RenewRequest`, agent to service.
    pub const RENEW_REQUEST: u8 = 0x07;
    /// `RenewResponse`, service to agent.
    pub const RENEW_RESPONSE: u8 = 0x08;
    /// `Ping`, either direction.
    pub const PING: u8 = 0x09;
    /// `Pong`, either direction.
    pub const PONG: u8 = 0x0A;
    /// `Drain`, agent to service (and the service's acknowledgement).
    pub const DRAIN: u8 = 0x0B;
    /// `Close`, either direction.
    pub const CLOSE: u8 = 0x0C;
    /// `Error`, either direction.
    pub const ERROR: u8 = 0x0D;
}

/// Agent to service, first message: what the agent supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Protocol versions the agent speaks (1 to 16 entries, each non-zero).
    pub versions: Vec<u16>,
    /// Agent software version (semantic version text, at most 64 bytes).
    pub agent_version: String,
    /// Capability bits.
    pub capabilities: Capabilities,
    /// Most requests the agent accepts outstanding at once (at least 1).
    pub max_in_flight: u32,
    /// Largest frame the agent accepts, header included (at least 1024).
    pub max_frame_size: u32,
}

/// Service to agent, answer to `Hello`: the negotiated parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// The chosen protocol version: the highest both sides speak.
    pub version: u16,
    /// Send a `Ping` after this long without sending anything, in milliseconds.
    pub heartbeat_interval_ms: u32,
    /// Close after this long without receiving anything, in milliseconds (greater than the
    /// heartbeat interval).
    pub idle_timeout_ms: u32,
    /// Largest frame the service accepts, header included (at least 1024).
    pub max_frame_size: u32,
    /// Most requests the service keeps outstanding on this session (at most the agent's).
    pub max_in_flight: u32,
    /// The service's wall clock when it sent `Welcome`, Unix milliseconds.
    pub service_time_unix_ms: u64,
    /// Newest agent software version available.
    pub latest_agent_version: String,
    /// Oldest agent software version the service still supports.
    pub min_agent_version: String,
}

/// Service to agent: check a password (`SignInRequest`) or change it
/// (`PasswordChangeRequest`, same fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInRequest {
    /// Random 128-bit id, unique among the service's outstanding requests.
    pub request_id: RequestId,
    /// Answer before this instant, Unix milliseconds on the service's clock.
    pub deadline_unix_ms: u64,
    /// Login name (1 to 512 bytes of UTF-8).
    pub login: String,
    /// The sealed envelope for this agent, opaque to this crate (non-empty).
    pub envelope: Vec<u8>,
}

/// What the agent reached: a verdict, or an error that prevented one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The directory's verdict; the response must carry a MAC.
    Verdict(Verdict),
    /// No verdict could be reached; the MAC may be absent.
    Error(ErrorCode),
}

/// Agent to service: the answer to a `SignInRequest` (or, as `PasswordChangeResponse`, to a
/// `PasswordChangeRequest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInResponse {
    /// The request's id.
    pub request_id: RequestId,
    /// Verdict or error.
    pub outcome: Outcome,
    /// Warnings (at most 8), such as days until the password expires.
    pub warnings: Vec<Warning>,
    /// Reply MAC from the envelope layer, opaque here (at most 64 bytes; required, non-empty,
    /// with a verdict).
    pub mac: Vec<u8>,
}

/// Agent to service: a certificate signing request for renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewRequest {
    /// Random 128-bit id chosen by the agent.
    pub request_id: RequestId,
    /// DER-encoded PKCS#10 CSR (non-empty).
    pub csr: Vec<u8>,
}

/// The result of a renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenewResult {
    /// DER certificates, leaf first (1 to 8, each non-empty).
    Chain(Vec<Vec<u8>>),
    /// Renewal refused or failed.
    Error(ErrorCode),
}

/// Service to agent: the answer to a `RenewRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenewResponse {
    /// The renewal request's id.
    pub request_id: RequestId,
    /// New chain or error.
    pub result: RenewResult,
}

/// Orderly or error close; the sender sends nothing after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    /// Why.
    pub reason: CloseReason,
    /// Human-readable detail for logs (at most 256 bytes, may be empty; never secrets).
    pub detail: String,
}

/// A non-fatal error report. If `request_id` names a request the receiver has outstanding, that
/// request completes with this error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// What went wrong.
    pub code: ErrorCode,
    /// The request it concerns, if any.
    pub request_id: Option<RequestId>,
    /// Human-readable detail for logs (at most 256 bytes, may be empty; never secrets).
    pub detail: String,
}

/// One protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// See [`Hello`].
    Hello(Hello),
    /// See [`Welcome`].
    Welcome(Welcome),
    /// See [`SignInRequest`].
    SignInRequest(SignInRequest),
    /// See [`SignInResponse`].
    SignInResponse(SignInResponse),
    /// Same fields as [`SignInRequest`]; the envelope seals old and new password.
    PasswordChangeRequest(SignInRequest),
    /// Same fields as [`SignInResponse`].
    PasswordChangeResponse(SignInResponse),
    /// See [`RenewRequest`].
    RenewRequest(RenewRequest),
    /// See [`RenewResponse`].
    RenewResponse(RenewResponse),
    /// Heartbeat; the receiver answers with `Pong` carrying the same nonce.
    Ping(u64),
    /// Heartbeat answer.
    Pong(u64),
    /// Agent: take no new requests on this session. Service: acknowledgement, no more will come.
    Drain,
    /// See [`Close`].
    Close(Close),
    /// See [`ErrorMessage`].
    Error(ErrorMessage),
}

fn bounded(ok: bool) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::FieldOutOfBounds)
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    s.len() <= max
}

impl Hello {
    fn validate(&self) -> Result<(), Error> {
        bounded(
            !self.versions.is_empty()
                && self.versions.len() <= MAX_VERSIONS
                && !self.versions.contains(&0)
                && text_ok(&self.agent_version, MAX_VERSION_TEXT)
                && self.max_in_flight >= 1
                && self.max_frame_size >= 1024,
        )
    }
}

impl Welcome {
    fn validate(&self) -> Result<(), Error> {
        bounded(
            self.version != 0
                && text_ok(&self.latest_agent_version, MAX_VERSION_TEXT)
                && text_ok(&self.min_agent_version, MAX_VERSION_TEXT),
        )
    }
}

impl SignInRequest {
    fn validate(&self) -> Result<(), Error> {
        bounded(
            !self.login.is_empty() && text_ok(&self.login, MAX_LOGIN) && !self.envelope.is_empty(),
        )
    }
}

impl SignInResponse {
    fn validate(&self) -> Result<(), Error> {
        bounded(
            self.warnings.len() <= MAX_WARNINGS
                && self.mac.len() <= MAX_MAC
                && (matches!(self.outcome, Outcome::Error(_)) || !self.mac.is_empty()),
        )
    }
}

impl Message {
    /// The message's type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Hello(_) => kind::HELLO,
            Self::Welcome(_) => kind::WELCOME,
            Self::SignInRequest(_) => kind::SIGN_IN_REQUEST,
            Self::SignInResponse(_) => kind::SIGN_IN_RESPONSE,
            Self::PasswordChangeRequest(_) => kind::PASSWORD_CHANGE_REQUEST,
            Self::PasswordChangeResponse(_) => kind::PASSWORD_CHANGE_RESPONSE,
            Self::RenewRequest(_) => kind::RENEW_REQUEST,
            Self::RenewResponse(_) => kind::RENEW_RESPONSE,
            Self::Ping(_) => kind::PING,
            Self::Pong(_) => kind::PONG,
            Self::Drain => kind::DRAIN,
            Self::Close(_) => kind::CLOSE,
            Self::Error(_) => kind::ERROR,
        }
    }

    /// Checks every field against its bound (the same bounds `decode` enforces).
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Self::Hello(m) => m.validate(),
            Self::Welcome(m) => m.validate(),
            Self::SignInRequest(m) | Self::PasswordChangeRequest(m) => m.validate(),
            Self::SignInResponse(m) | Self::PasswordChangeResponse(m) => m.validate(),
            Self::RenewRequest(m) => bounded(!m.csr.is_empty()),
            Self::RenewResponse(m) => bounded(match &m.result {
                RenewResult::Chain(c) => {
                    !c.is_empty() && c.len() <= MAX_CHAIN && c.iter().all(|x| !x.is_empty())
                }
                RenewResult::Error(_) => true,
            }),
            Self::Ping(_) | Self::Pong(_) | Self::Drain => Ok(()),
            Self::Close(m) => bounded(text_ok(&m.detail, MAX_DETAIL)),
            Self::Error(m) => bounded(text_ok(&m.detail, MAX_DETAIL)),
        }
    }

    /// Appends one complete frame (header and body) to `out`.
    ///
    /// Fails with [`Error::FieldOutOfBounds`] if a field is out of bounds, or
    /// [`Error::FrameTooLarge`] if the body exceeds 2^24 - 1 bytes; `out` is then unchanged.
    /// Whatever encodes, decodes to an equal message.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.validate()?;
        let start = out.len();
        out.extend_from_slice(&[self.kind(), 0, 0, 0]);
        self.encode_body(out);
        let body = out.len() - start - FRAME_HEADER_LEN;
        if body > MAX_BODY_LEN {
            out.truncate(start);
            return Err(Error::FrameTooLarge {
                size: u32::try_from(body + FRAME_HEADER_LEN).unwrap_or(u32::MAX),
                max: (MAX_BODY_LEN + FRAME_HEADER_LEN) as u32,
            });
        }
        let len = (body as u32).to_be_bytes();
        out[start + 1..start + 4].copy_from_slice(&len[1..]);
        Ok(())
    }

    /// The encoded frame size, header included.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode_body(&mut v);
        v.len() + FRAME_HEADER_LEN
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        let map = |out: &mut Vec<u8>, n: usize| cbor::write_head(out, MAJOR_MAP, n as u64);
        let key = |out: &mut Vec<u8>, k: u64| cbor::write_uint(out, k);
        match self {
            Self::Hello(m) => {
                map(out, 5);
                key(out, 0);
                cbor::write_head(out, cbor::MAJOR_ARRAY, m.versions.len() as u64);
                for v in &m.versions {
                    cbor::write_uint(out, u64::from(*v));
                }
                key(out, 1);
                cbor::write_text(out, &m.agent_version);
                key(out, 2);
                cbor::write_uint(out, m.capabilities.0);
                key(out, 3);
                cbor::write_uint(out, u64::from(m.max_in_flight));
                key(out, 4);
                cbor::write_uint(out, u64::from(m.max_frame_size));
            }
            Self::Welcome(m) => {
                map(out, 8);
                for (k, v) in [
                    u64::from(m.version),
                    u64::from(m.heartbeat_interval_ms),
                    u64::from(m.idle_timeout_ms),
                    u64::from(m.max_frame_size),
                    u64::from(m.max_in_flight),
                    m.service_time_unix_ms,
                ]
                .into_iter()
                .enumerate()
                {
                    key(out, k as u64);
                    cbor::write_uint(out, v);
                }
                key(out, 6);
                cbor::write_text(out, &m.latest_agent_version);
                key(out, 7);
                cbor::write_text(out, &m.min_agent_version);
            }
            Self::SignInRequest(m) | Self::PasswordChangeRequest(m) => {
                map(out, 4);
                key(out, 0);
                cbor::write_bytes(out, &m.request_id.0);
                key(out, 1);
                cbor::write_uint(out, m.deadline_unix_ms);
                key(out, 2);
                cbor::write_text(out, &m.login);
                key(out, 3);
                cbor::write_bytes(out, &m.envelope);
            }
            Self::SignInResponse(m) | Self::PasswordChangeResponse(m) => {
                let n = 2 + usize::from(!m.warnings.is_empty()) + usize::from(!m.mac.is_empty());
                map(out, n);
                key(out, 0);
                cbor::write_bytes(out, &m.request_id.0);
                match m.outcome {
                    Outcome::Verdict(v) => {
                        key(out, 1);
                        cbor::write_uint(out, u64::from(v.code()));
                    }
                    Outcome::Error(e) => {
                        key(out, 2);
                        cbor::write_uint(out, u64::from(e.code()));
                    }
                }
                if !m.warnings.is_empty() {
                    key(out, 3);
                    map(out, m.warnings.len());
                    for w in &m.warnings {
                        cbor::write_uint(out, u64::from(w.kind.code()));
                        cbor::write_uint(out, u64::from(w.value));
                    }
                }
                if !m.mac.is_empty() {
                    key(out, 4);
                    cbor::write_bytes(out, &m.mac);
                }
            }
            Self::RenewRequest(m) => {
                map(out, 2);
                key(out, 0);
                cbor::write_bytes(out, &m.request_id.0);
                key(out, 1);
                cbor::write_bytes(out, &m.csr);
            }
            Self::RenewResponse(m) => {
                map(out, 2);
                key(out, 0);
                cbor::write_bytes(out, &m.request_id.0);
                match &m.result {
                    RenewResult::Chain(c) => {
                        key(out, 1);
                        cbor::write_head(out, cbor::MAJOR_ARRAY, c.len() as u64);
                        for cert in c {
                            cbor::write_bytes(out, cert);
                        }
                    }
                    RenewResult::Error(e) => {
                        key(out, 2);
                        cbor::write_uint(out, u64::from(e.code()));
                    }
                }
            }
            Self::Ping(n) | Self::Pong(n) => {
                map(out, 1);
                key(out, 0);
                cbor::write_uint(out, *n);
            }
            Self::Drain => map(out, 0),
            Self::Close(m) => {
                map(out, 1 + usize::from(!m.detail.is_empty()));
                key(out, 0);
                cbor::write_uint(out, u64::from(m.reason.code()));
                if !m.detail.is_empty() {
                    key(out, 1);
                    cbor::write_text(out, &m.detail);
                }
            }
            Self::Error(m) => {
                let n = 1 + usize::from(m.request_id.is_some()) + usize::from(!m.detail.is_empty());
                map(out, n);
                key(out, 0);
                cbor::write_uint(out, u64::from(m.code.code()));
                if let Some(id) = &m.request_id {
                    key(out, 1);
                    cbor::write_bytes(out, &id.0);
                }
                if !m.detail.is_empty() {
                    key(out, 2);
                    cbor::write_text(out, &m.detail);
                }
            }
        }
    }

    /// Decodes exactly one complete frame (header and body), with no limit but the header's.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let header = frame
            .get(..FRAME_HEADER_LEN)
            .ok_or(DecodeError::new(K::Truncated, frame.len()))?;
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        let body = &frame[FRAME_HEADER_LEN..];
        if body.len() < len {
            return Err(DecodeError::new(K::Truncated, frame.len()));
        }
        if body.len() > len {
            return Err(DecodeError::new(K::TrailingBytes, FRAME_HEADER_LEN + len));
        }
        Self::decode_body(header[0], body, FRAME_HEADER_LEN)
    }

    /// Decodes a body of message type `kind`; error offsets are `base` plus the body offset.
    pub fn decode_body(kind: u8, body: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut d = Decoder::new(body, base);
        let msg = match kind {
            kind::HELLO => Self::Hello(decode_hello(&mut d)?),
            kind::WELCOME => Self::Welcome(decode_welcome(&mut d)?),
            kind::SIGN_IN_REQUEST => Self::SignInRequest(decode_request(&mut d)?),
            kind::SIGN_IN_RESPONSE => Self::SignInResponse(decode_response(&mut d)?),
            kind::PASSWORD_CHANGE_REQUEST => Self::PasswordChangeRequest(decode_request(&mut d)?),
            kind::PASSWORD_CHANGE_RESPONSE => {
                Self::PasswordChangeResponse(decode_response(&mut d)?)
            }
            kind::RENEW_REQUEST => Self::RenewRequest(decode_renew_request(&mut d)?),
            kind::RENEW_RESPONSE => Self::RenewResponse(decode_renew_response(&mut d)?),
            kind::PING => Self::Ping(decode_nonce(&mut d)?),
            kind::PONG => Self::Pong(decode_nonce(&mut d)?),
            kind::DRAIN => {
                fields(&mut d, |_, _| Ok(false))?;
                Self::Drain
            }
            kind::CLOSE => Self::Close(decode_close(&mut d)?),
            kind::ERROR => Self::Error(decode_error(&mut d)?),
            other => return Err(DecodeError::new(K::UnknownMessageType(other), 0)),
        };
        if !d.is_empty() {
            return Err(d.err(K::TrailingBytes));
        }
        Ok(msg)
    }
}

/// Walks a message map. `f(key, decoder)` decodes a known key's value and returns `true`, or
/// returns `false` to have the value skipped. Returns the set of known keys seen (bit per key).
fn fields<'a>(
    d: &mut Decoder<'a>,
    mut f: impl FnMut(u64, &mut Decoder<'a>) -> Result<bool, DecodeError>,
) -> Result<u64, DecodeError> {
    let n = d.map(MAX_MAP_ENTRIES)?;
    let mut seen = 0u64;
    for _ in 0..n {
        let key_at = d.err(K::InvalidValue);
        if d.peek_major()? != MAJOR_UINT {
            d.skip()?;
            d.skip()?;
            continue;
        }
        let k = d.uint()?;
        if f(k, d)? {
            // Known keys are all below 64.
            let bit = 1u64 << (k & 63);
            if seen & bit != 0 {
                return Err(DecodeError::new(K::DuplicateKey(k as u8), key_at.offset));
            }
            seen |= bit;
        } else {
            d.skip()?;
        }
    }
    Ok(seen)
}

fn require(d: &Decoder<'_>, seen: u64, keys: &[u8]) -> Result<(), DecodeError> {
    for &k in keys {
        if seen & (1u64 << k) == 0 {
            return Err(d.err(K::MissingField(k)));
        }
    }
    Ok(())
}

fn request_id(d: &mut Decoder<'_>) -> Result<RequestId, DecodeError> {
    let at = d.err(K::InvalidValue);
    let b = d.bytes(16)?;
    <[u8; 16]>::try_from(b).map(RequestId).map_err(|_| at)
}

fn nonempty_bytes(d: &mut Decoder<'_>, max: usize) -> Result<Vec<u8>, DecodeError> {
    let at = d.err(K::InvalidValue);
    let b = d.bytes(max)?;
    if b.is_empty() {
        Err(at)
    } else {
        Ok(b.to_vec())
    }
}

fn nonzero<T: Default + PartialEq>(v: T, at: DecodeError) -> Result<T, DecodeError> {
    if v == T::default() { Err(at) } else { Ok(v) }
}

fn decode_hello(d: &mut Decoder<'_>) -> Result<Hello, DecodeError> {
    let mut m = Hello {
        versions: Vec::new(),
        agent_version: String::new(),
        capabilities: Capabilities(0),
        max_in_flight: 0,
        max_frame_size: 0,
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => {
                let at = d.err(K::InvalidValue);
                let n = d.array(MAX_VERSIONS)?;
                if n == 0 {
                    return Err(at);
                }
                for _ in 0..n {
                    let at = d.err(K::InvalidValue);
                    let v: u16 = d.uint_as()?;
                    m.versions.push(nonzero(v, at)?);
                }
            }
            1 => m.agent_version = d.text(MAX_VERSION_TEXT)?.to_owned(),
            2 => m.capabilities = Capabilities(d.uint()?),
            3 => {
                let at = d.err(K::InvalidValue);
                let v: u32 = d.uint_as()?;
                m.max_in_flight = nonzero(v, at)?;
            }
            4 => {
                let at = d.err(K::InvalidValue);
                m.max_frame_size = d.uint_as()?;
                if m.max_frame_size < 1024 {
                    return Err(at);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0, 1, 3, 4])?;
    Ok(m)
}

fn decode_welcome(d: &mut Decoder<'_>) -> Result<Welcome, DecodeError> {
    let mut m = Welcome {
        version: 0,
        heartbeat_interval_ms: 0,
        idle_timeout_ms: 0,
        max_frame_size: 0,
        max_in_flight: 0,
        service_time_unix_ms: 0,
        latest_agent_version: String::new(),
        min_agent_version: String::new(),
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => {
                let at = d.err(K::InvalidValue);
                let v: u16 = d.uint_as()?;
                m.version = nonzero(v, at)?;
            }
            1 => m.heartbeat_interval_ms = d.uint_as()?,
            2 => m.idle_timeout_ms = d.uint_as()?,
            3 => m.max_frame_size = d.uint_as()?,
            4 => m.max_in_flight = d.uint_as()?,
            5 => m.service_time_unix_ms = d.uint()?,
            6 => m.latest_agent_version = d.text(MAX_VERSION_TEXT)?.to_owned(),
            7 => m.min_agent_version = d.text(MAX_VERSION_TEXT)?.to_owned(),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0, 1, 2, 3, 4, 5, 6, 7])?;
    Ok(m)
}

fn decode_request(d: &mut Decoder<'_>) -> Result<SignInRequest, DecodeError> {
    let mut m = SignInRequest {
        request_id: RequestId::default(),
        deadline_unix_ms: 0,
        login: String::new(),
        envelope: Vec::new(),
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => m.request_id = request_id(d)?,
            1 => m.deadline_unix_ms = d.uint()?,
            2 => {
                let at = d.err(K::InvalidValue);
                let s = d.text(MAX_LOGIN)?;
                if s.is_empty() {
                    return Err(at);
                }
                m.login = s.to_owned();
            }
            3 => m.envelope = nonempty_bytes(d, MAX_BODY_LEN)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0, 1, 2, 3])?;
    Ok(m)
}

fn decode_response(d: &mut Decoder<'_>) -> Result<SignInResponse, DecodeError> {
    let mut id = RequestId::default();
    let mut verdict = None;
    let mut error = None;
    let mut warnings = Vec::new();
    let mut mac = Vec::new();
    let seen = fields(d, |k, d| {
        match k {
            0 => id = request_id(d)?,
            1 => verdict = Some(Verdict::from_code(d.uint_as()?)),
            2 => error = Some(ErrorCode::from_code(d.uint_as()?)),
            3 => {
                let n = d.map(MAX_WARNINGS)?;
                for _ in 0..n {
                    let kind = WarningKind::from_code(d.uint_as()?);
                    let value = d.uint_as()?;
                    warnings.push(Warning { kind, value });
                }
            }
            4 => mac = d.bytes(MAX_MAC)?.to_vec(),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0])?;
    let outcome = match (verdict, error) {
        (Some(v), None) => {
            if mac.is_empty() {
                return Err(d.err(K::MissingField(4)));
            }
            Outcome::Verdict(v)
        }
        (None, Some(e)) => Outcome::Error(e),
        (None, None) => return Err(d.err(K::MissingField(1))),
        (Some(_), Some(_)) => return Err(d.err(K::InvalidValue)),
    };
    Ok(SignInResponse {
        request_id: id,
        outcome,
        warnings,
        mac,
    })
}

fn decode_renew_request(d: &mut Decoder<'_>) -> Result<RenewRequest, DecodeError> {
    let mut m = RenewRequest {
        request_id: RequestId::default(),
        csr: Vec::new(),
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => m.request_id = request_id(d)?,
            1 => m.csr = nonempty_bytes(d, MAX_BODY_LEN)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0, 1])?;
    Ok(m)
}

fn decode_renew_response(d: &mut Decoder<'_>) -> Result<RenewResponse, DecodeError> {
    let mut id = RequestId::default();
    let mut chain = None;
    let mut error = None;
    let seen = fields(d, |k, d| {
        match k {
            0 => id = request_id(d)?,
            1 => {
                let at = d.err(K::InvalidValue);
                let n = d.array(MAX_CHAIN)?;
                if n == 0 {
                    return Err(at);
                }
                let mut c = Vec::with_capacity(n);
                for _ in 0..n {
                    c.push(nonempty_bytes(d, MAX_BODY_LEN)?);
                }
                chain = Some(c);
            }
            2 => error = Some(ErrorCode::from_code(d.uint_as()?)),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0])?;
    let result = match (chain, error) {
        (Some(c), None) => RenewResult::Chain(c),
        (None, Some(e)) => RenewResult::Error(e),
        (None, None) => return Err(d.err(K::MissingField(1))),
        (Some(_), Some(_)) => return Err(d.err(K::InvalidValue)),
    };
    Ok(RenewResponse {
        request_id: id,
        result,
    })
}

fn decode_nonce(d: &mut Decoder<'_>) -> Result<u64, DecodeError> {
    let mut nonce = 0;
    let seen = fields(d, |k, d| {
        if k != 0 {
            return Ok(false);
        }
        nonce = d.uint()?;
        Ok(true)
    })?;
    require(d, seen, &[0])?;
    Ok(nonce)
}

fn decode_close(d: &mut Decoder<'_>) -> Result<Close, DecodeError> {
    let mut m = Close {
        reason: CloseReason::Normal,
        detail: String::new(),
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => m.reason = CloseReason::from_code(d.uint_as()?),
            1 => m.detail = d.text(MAX_DETAIL)?.to_owned(),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0])?;
    Ok(m)
}

fn decode_error(d: &mut Decoder<'_>) -> Result<ErrorMessage, DecodeError> {
    let mut m = ErrorMessage {
        code: ErrorCode::Internal,
        request_id: None,
        detail: String::new(),
    };
    let seen = fields(d, |k, d| {
        match k {
            0 => m.code = ErrorCode::from_code(d.uint_as()?),
            1 => m.request_id = Some(request_id(d)?),
            2 => m.detail = d.text(MAX_DETAIL)?.to_owned(),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    require(d, seen, &[0])?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id() -> impl Strategy<Value = RequestId> {
        any::<[u8; 16]>().prop_map(RequestId)
    }

    fn verdict() -> impl Strategy<Value = Verdict> {
        (0u32..12).prop_map(Verdict::from_code).boxed()
    }

    fn error_code() -> impl Strategy<Value = ErrorCode> {
        prop_oneof![
            (0u32..20).prop_map(ErrorCode::from_code),
            any::<u32>().prop_map(ErrorCode::from_code)
        ]
    }

    fn request() -> impl Strategy<Value = SignInRequest> {
        (
            id(),
            any::<u64>(),
            "[a-z@.]{1,40}",
            proptest::collection::vec(any::<u8>(), 1..300),
        )
            .prop_map(
                |(request_id, deadline_unix_ms, login, envelope)| SignInRequest {
                    request_id,
                    deadline_unix_ms,
                    login,
                    envelope,
                },
            )
    }

    fn response() -> impl Strategy<Value = SignInResponse> {
        let outcome = prop_oneof![
            verdict().prop_map(Outcome::Verdict),
            error_code().prop_map(Outcome::Error)
        ];
        let warning = ((0u32..4).prop_map(WarningKind::from_code), any::<u32>())
            .prop_map(|(kind, value)| Warning { kind, value });
        (
            id(),
            outcome,
            proptest::collection::vec(warning, 0..=MAX_WARNINGS),
            proptest::collection::vec(any::<u8>(), 1..=MAX_MAC),
        )
            .prop_map(|(request_id, outcome, warnings, mac)| SignInResponse {
                request_id,
                outcome,
                warnings,
                mac,
            })
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (
                proptest::collection::vec(1u16.., 1..=MAX_VERSIONS),
                "[0-9.]{0,20}",
                any::<u64>(),
                1u32..,
                1024u32..
            )
                .prop_map(
                    |(versions, agent_version, c, max_in_flight, max_frame_size)| Message::Hello(
                        Hello {
                            versions,
                            agent_version,
                            capabilities: Capabilities(c),
                            max_in_flight,
                            max_frame_size,
                        }
                    )
                ),
            (
                1u16..,
                any::<[u32; 4]>(),
                any::<u64>(),
                "[0-9.]{0,20}",
                "\\PC{0,10}"
            )
                .prop_map(|(version, n, t, a, b)| {
                    Message::Welcome(Welcome {
                        version,
                        heartbeat_interval_ms: n[0],
                        idle_timeout_ms: n[1],
                        max_frame_size: n[2],
                        max_in_flight: n[3],
                        service_time_unix_ms: t,
                        latest_agent_version: a,
                        min_agent_version: b,
                    })
                }),
            request().prop_map(Message::SignInRequest),
            request().prop_map(Message::PasswordChangeRequest),
            response().prop_map(Message::SignInResponse),
            response().prop_map(Message::PasswordChangeResponse),
            (id(), proptest::collection::vec(any::<u8>(), 1..100)).prop_map(|(request_id, csr)| {
                Message::RenewRequest(RenewRequest { request_id, csr })
            }),
            (
                id(),
                proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), 1..50),
                    1..=MAX_CHAIN
                )
            )
                .prop_map(|(request_id, c)| Message::RenewResponse(RenewResponse {
                    request_id,
                    result: RenewResult::Chain(c)
                })),
            (id(), error_code()).prop_map(|(request_id, e)| Message::RenewResponse(
                RenewResponse {
                    request_id,
                    result: RenewResult::Error(e)
                }
            )),
            any::<u64>().prop_map(Message::Ping),
            any::<u64>().prop_map(Message::Pong),
            Just(Message::Drain),
            ((0u32..10).prop_map(CloseReason::from_code), "\\PC{0,30}")
                .prop_map(|(reason, detail)| Message::Close(Close { reason, detail })),
            (error_code(), proptest::option::of(id()), "\\PC{0,30}").prop_map(
                |(code, request_id, detail)| Message::Error(ErrorMessage {
                    code,
                    request_id,
                    detail
                })
            ),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(m in message()) {
            let mut out = vec![0xEE];
            m.encode(&mut out).unwrap();
            prop_assert_eq!(out.len() - 1, m.encoded_len());
            prop_assert_eq!(Message::decode(&out[1..]), Ok(m));
        }

        #[test]
        fn truncations_fail_cleanly(m in message(), cut in any::<prop::sample::Index>()) {
            let mut out = Vec::new();
            m.encode(&mut out).unwrap();
            let cut = cut.index(out.len());
            prop_assert!(Message::decode(&out[..cut]).is_err());
        }

        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(m) = Message::decode(&data) {
                let mut out = Vec::new();
                m.encode(&mut out).unwrap();
                prop_assert_eq!(Message::decode(&out), Ok(m));
            }
        }
    }

    #[test]
    fn unknown_keys_are_ignored() {
        // Ping {0: 5, 9: "x", "t": [1, {2: 3}]}
        let body = [
            0xa3, 0x00, 0x05, 0x09, 0x61, b'x', 0x61, b't', 0x82, 0x01, 0xa1, 0x02, 0x03,
        ];
        assert_eq!(
            Message::decode_body(kind::PING, &body, 0),
            Ok(Message::Ping(5))
        );
    }

    #[test]
    fn duplicate_known_key_is_rejected() {
        let body = [0xa2, 0x00, 0x05, 0x00, 0x06];
        let e = Message::decode_body(kind::PING, &body, 4).unwrap_err();
        assert_eq!(e, DecodeError::new(K::DuplicateKey(0), 7));
    }

    #[test]
    fn missing_mac_with_verdict_is_rejected() {
        let m = SignInResponse {
            request_id: RequestId::from(1u128),
            outcome: Outcome::Verdict(Verdict::Success),
            warnings: vec![],
            mac: vec![],
        };
        assert_eq!(
            Message::SignInResponse(m.clone()).encode(&mut Vec::new()),
            Err(Error::FieldOutOfBounds)
        );
        // Hand-built: {0: id, 1: 0}
        let mut body = vec![0xa2, 0x00, 0x50];
        body.extend([0u8; 16]);
        body.extend([0x01, 0x00]);
        let e = Message::decode_body(kind::SIGN_IN_RESPONSE, &body, 0).unwrap_err();
        assert_eq!(e.kind, K::MissingField(4));
    }

    #[test]
    fn unknown_codes_decode_to_unknown() {
        let mut body = vec![0xa2, 0x00, 0x50];
        body.extend([0u8; 16]);
        body.extend([0x02, 0x19, 0x03, 0xe8]); // error 1000
        let m = Message::decode_body(kind::SIGN_IN_RESPONSE, &body, 0).unwrap();
        let Message::SignInResponse(r) = m else {
            panic!("{m:?}")
        };
        assert_eq!(r.outcome, Outcome::Error(ErrorCode::Unknown(1000)));
    }

    #[test]
    fn unknown_message_type_is_an_error_with_offset() {
        let e = Message::decode(&[0x7f, 0, 0, 1, 0xa0]).unwrap_err();
        assert_eq!(e.kind, K::UnknownMessageType(0x7f));
    }

    #[test]
    fn out_of_bounds_fields_are_refused_on_encode() {
        let long = SignInRequest {
            request_id: RequestId::default(),
            deadline_unix_ms: 1,
            login: "x".repeat(MAX_LOGIN + 1),
            envelope: vec![1],
        };
        let mut out = vec![1, 2];
        assert_eq!(
            Message::SignInRequest(long).encode(&mut out),
            Err(Error::FieldOutOfBounds)
        );
        assert_eq!(out, vec![1, 2]);
    }
}
