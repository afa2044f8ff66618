//! The agent protocol of the pass-through-authentication toolkit, sans-IO.
//!
//! On-premises agents hold outbound mutual-TLS connections to the cloud service. Over each
//! connection the service sends sign-in requests (the password sealed in an opaque envelope)
//! and the agent answers with a verdict authenticated by a MAC. This crate has:
//!
//! - the frame format and every [`Message`] with its CBOR codec (`encode` / `decode`, total and
//!   bounded), and the stable code registries ([`Verdict`], [`ErrorCode`], [`CloseReason`]);
//! - [`AgentSession`] and [`ServiceSession`], the two state machines: handshake with version
//!   negotiation, heartbeats and idle timeout, outstanding requests with deadlines, in-flight
//!   limits, drain and close.
//!
//! It does no I/O and reads no clock: bytes and `now` go in, bytes, events and the next deadline
//! come out. The runtimes (`pta-agent`, `pta-service`) own the sockets, TLS and clocks. The wire
//! format is specified in `docs/PROTOCOL.md`.
//!
//! # Example
//!
//! Both ends driven against each other in memory:
//!
//! ```
//! use pta_wire::{
//!     AgentConfig, AgentEvent, AgentSession, Outcome, RequestId, ServiceConfig, ServiceEvent,
//!     ServiceSession, SignInRequest, SignInResponse, Verdict,
//! };
//!
//! let now = 0; // milliseconds on the caller's monotonic clock
//! let mut agent = AgentSession::new(AgentConfig::default(), now);
//! let mut service = ServiceSession::new(ServiceConfig::default(), now, 1_700_000_000_000);
//! let mut wire = Vec::new();
//!
//! // Hello, then Welcome.
//! agent.poll_transmit(&mut wire);
//! service.handle_input(now, &wire);
//! wire.clear();
//! assert!(matches!(service.poll_event(), Some(ServiceEvent::Established(_))));
//! service.poll_transmit(&mut wire);
//! agent.handle_input(now, &wire);
//! wire.clear();
//! assert!(matches!(agent.poll_event(), Some(AgentEvent::Established(_))));
//!
//! // One sign-in.
//! let id = RequestId::from(7u128);
//! let deadline_unix_ms = service.unix_time(now) + 5_000;
//! let request =
//!     SignInRequest { request_id: id, deadline_unix_ms, login: "alice@example.com".into(), envelope: vec![1; 40] };
//! service.send_sign_in(now, request).unwrap();
//! service.poll_transmit(&mut wire);
//! agent.handle_input(now, &wire);
//! wire.clear();
//! let Some(AgentEvent::SignInRequest { request, .. }) = agent.poll_event() else { panic!() };
//! let response = SignInResponse {
//!     request_id: request.request_id,
//!     outcome: Outcome::Verdict(Verdict::Success),
//!     warnings: vec![],
//!     mac: vec![0xAA; 32], // computed by pta-envelope in a real agent
//! };
//! agent.send_sign_in_response(now, response).unwrap();
//! agent.poll_transmit(&mut wire);
//! service.handle_input(now, &wire);
//! let Some(ServiceEvent::SignInResponse(r)) = service.poll_event() else { panic!() };
//! assert_eq!(r.outcome, Outcome::Verdict(Verdict::Success));
//! ```
//!
//! # Feature flags
//!
//! None.
#![forbid(unsafe_code)]

mod agent;
mod binding;
mod cbor;
mod codes;
mod config;
mod conn;
mod error;
mod frame;
mod inflight;
mod message;
mod service;

#[doc(hidden)]
pub mod fuzzing;

pub use agent::{AgentEvent, AgentSession, AgentState};
pub use binding::{Operation, envelope_binding, warnings_mac_input};
pub use codes::{Capabilities, CloseReason, ErrorCode, RequestId, Verdict, Warning, WarningKind};
pub use config::{AgentConfig, DEFAULT_MAX_FRAME_SIZE, PROTOCOL_VERSION, ServiceConfig};
pub use conn::Stats;
pub use error::{DecodeError, DecodeErrorKind, Error};
pub use frame::FrameDecoder;
pub use message::{
    Close, ErrorMessage, FRAME_HEADER_LEN, Hello, MAX_BODY_LEN, MAX_CHAIN, MAX_DETAIL, MAX_LOGIN,
    MAX_MAC, MAX_MAP_ENTRIES, MAX_VERSION_TEXT, MAX_VERSIONS, MAX_WARNINGS, Message, Outcome,
    RenewRequest, RenewResponse, RenewResult, SignInRequest, SignInResponse, Welcome, kind,
};
pub use service::{ServiceEvent, ServiceSession, ServiceState};
