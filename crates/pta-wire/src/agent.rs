//! The agent's end of a session.

use std::collections::VecDeque;

use crate::codes::{Capabilities, CloseReason, RequestId};
use crate::config::{AgentConfig, clamp_frame_size, truncate_utf8};
use crate::conn::{Conn, Stats, earliest, unix_to_local};
use crate::error::Error;
use crate::inflight::{InFlight, Lookup, ReqKind};
use crate::message::{
    Close, ErrorMessage, Hello, Message, RenewRequest, RenewResponse, SignInRequest,
    SignInResponse, Welcome,
};

/// Where an [`AgentSession`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentState {
    /// `Hello` sent, waiting for `Welcome`.
    Handshaking,
    /// Requests flow.
    Established,
    /// `Drain` sent: finishing outstanding requests, then closing.
    Draining,
    /// Closed: flush `poll_transmit`, then drop the connection.
    Closed,
}

/// What an [`AgentSession`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    /// The handshake completed with these parameters. Compare `service_time_unix_ms` with the
    /// local clock to warn about skew, and the versions to decide on an update.
    Established(Welcome),
    /// Check this password and answer with [`AgentSession::send_sign_in_response`].
    /// `local_deadline` is the request's deadline on the caller's monotonic clock.
    SignInRequest {
        /// The request.
        request: SignInRequest,
        /// Deadline on the caller's monotonic clock (milliseconds).
        local_deadline: u64,
    },
    /// Change this password and answer with [`AgentSession::send_password_change_response`].
    PasswordChangeRequest {
        /// The request.
        request: SignInRequest,
        /// Deadline on the caller's monotonic clock (milliseconds).
        local_deadline: u64,
    },
    /// The request's deadline passed without an answer; an answer sent now is dropped.
    /// Reported exactly once per request.
    RequestExpired(RequestId),
    /// The answer to [`AgentSession::send_renew_request`].
    RenewResponse(RenewResponse),
    /// No `RenewResponse` within the renewal timeout; a later one is dropped. Retry later.
    RenewTimedOut(RequestId),
    /// The service reported a non-fatal error.
    PeerError(ErrorMessage),
    /// The session is closed. `error` is the local cause (protocol violation, timeout), if any.
    Closed {
        /// The reason sent or received in `Close`.
        reason: CloseReason,
        /// Whether the service closed the session.
        by_peer: bool,
        /// What went wrong locally, if anything.
        error: Option<Error>,
    },
}

/// The agent's end of a session: sans-IO, no clock, no socket.
///
/// `now` is milliseconds on a monotonic clock of the caller's choice (the same one for every
/// call). Deadlines on the wire are Unix milliseconds on the service's clock; the session maps
/// them to the caller's clock using the `service_time_unix_ms` of `Welcome` (see
/// `docs/PROTOCOL.md`, "Clocks").
///
/// # Call order
///
/// 1. [`new`](Self::new) queues `Hello`.
/// 2. Loop: write out [`poll_transmit`](Self::poll_transmit); feed bytes read from the
///    connection to [`handle_input`](Self::handle_input) (re-feed what it did not consume
///    after draining events); drain [`poll_event`](Self::poll_event) until `None`; sleep until
///    [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout).
/// 3. Answer each request event with `send_*_response`, then go back to step 2.
/// 4. After [`AgentEvent::Closed`], flush `poll_transmit` one last time and drop the
///    connection.
///
/// # States
///
/// ```text
///            new()                 Welcome (common version)
///   ----> [Handshaking] ---------------------------------> [Established]
///              |  handshake timeout,                         |        |
///              |  bad Welcome, Close                  drain()|        | idle timeout, violation,
///              v                                             v        | Close, close()
///          [Closed] <---- Drain ack received and ------- [Draining]   |
///              ^         nothing in flight (sends                     |
///              |         Close ShuttingDown)                          |
///              +------------------------------------------------------+
/// ```
pub struct AgentSession {
    config: AgentConfig,
    conn: Conn,
    state: AgentState,
    events: VecDeque<AgentEvent>,
    in_flight: InFlight,
    max_in_flight: usize,
    /// `unix_ms - monotonic_ms` of the service's clock, from `Welcome`.
    offset: i128,
    welcome: Option<Welcome>,
    renew: Option<(RequestId, u64)>,
    expired_renew: Option<RequestId>,
    drain_acked: bool,
}

impl AgentSession {
    /// Starts a session at `now` and queues `Hello`.
    pub fn new(mut config: AgentConfig, now: u64) -> Self {
        config.max_frame_size = clamp_frame_size(config.max_frame_size);
        config.max_in_flight = config.max_in_flight.max(1);
        config.versions.retain(|v| *v != 0);
        config.versions.truncate(crate::message::MAX_VERSIONS);
        truncate_utf8(&mut config.agent_version, crate::message::MAX_VERSION_TEXT);
        let hello = Message::Hello(Hello {
            versions: config.versions.clone(),
            agent_version: config.agent_version.clone(),
            capabilities: config.capabilities,
            max_in_flight: config.max_in_flight,
            max_frame_size: config.max_frame_size,
        });
        let conn = Conn::new(
            now,
            config.max_frame_size,
            config.handshake_timeout_ms,
            config.max_transmit_bytes,
        );
        let mut session = Self {
            in_flight: InFlight::new(config.expired_memory),
            max_in_flight: config.max_in_flight as usize,
            conn,
            state: AgentState::Handshaking,
            events: VecDeque::new(),
            offset: 0,
            welcome: None,
            renew: None,
            expired_renew: None,
            drain_acked: false,
            config,
        };
        if let Err(e) = session.conn.send(now, &hello, false) {
            // Only an empty version list gets here.
            session.close_with(now, CloseReason::VersionMismatch, false, Some(e));
        }
        session
    }

    /// The current state.
    pub fn state(&self) -> AgentState {
        self.state
    }

    /// The service's `Welcome`, once received.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.conn.stats
    }

    /// Requests received and not yet answered or expired.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Feeds bytes read from the connection. Returns how many were consumed: fewer than
    /// `data.len()` when the event queue is full; drain [`poll_event`](Self::poll_event) and
    /// feed the rest. After the session closed, everything is consumed and ignored.
    pub fn handle_input(&mut self, now: u64, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            if self.state == AgentState::Closed {
                return data.len();
            }
            if self.events.len() >= self.config.max_queued_events {
                break;
            }
            let (n, result) = self.conn.reader.push(data.get(used..).unwrap_or_default());
            used += n;
            match result {
                None => {}
                Some(Ok(msg)) => {
                    self.conn.received(now);
                    self.on_message(now, msg);
                }
                Some(Err(e)) => self.violation(now, e),
            }
        }
        used
    }

    fn violation(&mut self, now: u64, e: Error) {
        let reason = match e {
            Error::VersionMismatch => CloseReason::VersionMismatch,
            _ => CloseReason::ProtocolError,
        };
        self.close_with(now, reason, false, Some(e));
    }

    fn on_message(&mut self, now: u64, msg: Message) {
        let kind = msg.kind();
        match (self.state, msg) {
            (AgentState::Closed, _) => {}
            (_, Message::Close(c)) => self.close_with(now, c.reason, true, None),
            (AgentState::Handshaking, Message::Welcome(w)) => self.on_welcome(now, w),
            (AgentState::Handshaking, _) => self.violation(now, Error::UnexpectedMessage { kind }),
            (_, Message::SignInRequest(r)) => self.on_request(now, r, ReqKind::SignIn),
            (_, Message::PasswordChangeRequest(r))
                if self
                    .config
                    .capabilities
                    .contains(Capabilities::PASSWORD_CHANGE) =>
            {
                self.on_request(now, r, ReqKind::PasswordChange)
            }
            (_, Message::RenewResponse(r)) => {
                if self.renew.is_some_and(|(id, _)| id == r.request_id) {
                    self.renew = None;
                    self.events.push_back(AgentEvent::RenewResponse(r));
                } else if self.expired_renew == Some(r.request_id) {
                    self.expired_renew = None;
                    self.count_late();
                } else {
                    self.violation(now, Error::UnknownRequestId);
                }
            }
            (_, Message::Ping(n)) => self.conn.pong(now, n),
            (_, Message::Pong(_)) => {}
            (AgentState::Draining, Message::Drain) if !self.drain_acked => {
                self.drain_acked = true;
                self.maybe_finish_drain(now);
            }
            (_, Message::Error(e)) => {
                if e.request_id.is_some() && e.request_id == self.renew.map(|(id, _)| id) {
                    self.renew = None;
                }
                self.events.push_back(AgentEvent::PeerError(e));
            }
            _ => self.violation(now, Error::UnexpectedMessage { kind }),
        }
    }

    fn on_welcome(&mut self, now: u64, w: Welcome) {
        if !self.config.versions.contains(&w.version) {
            return self.violation(now, Error::VersionMismatch);
        }
        if w.heartbeat_interval_ms == 0
            || w.idle_timeout_ms <= w.heartbeat_interval_ms
            || w.max_frame_size < 1024
            || w.max_in_flight == 0
            || w.max_in_flight > self.config.max_in_flight
        {
            return self.violation(now, Error::InvalidHandshake);
        }
        self.offset = i128::from(w.service_time_unix_ms) - i128::from(now);
        self.conn.heartbeat = Some((
            u64::from(w.heartbeat_interval_ms),
            u64::from(w.idle_timeout_ms),
        ));
        self.conn.peer_max_frame = w.max_frame_size;
        self.max_in_flight = w.max_in_flight as usize;
        self.state = AgentState::Established;
        self.welcome = Some(w.clone());
        self.events.push_back(AgentEvent::Established(w));
    }

    fn on_request(&mut self, now: u64, request: SignInRequest, kind: ReqKind) {
        if self.drain_acked {
            let kind = match kind {
                ReqKind::SignIn => crate::message::kind::SIGN_IN_REQUEST,
                ReqKind::PasswordChange => crate::message::kind::PASSWORD_CHANGE_REQUEST,
            };
            return self.violation(now, Error::UnexpectedMessage { kind });
        }
        if self.in_flight.len() >= self.max_in_flight {
            return self.violation(now, Error::PeerExceededInFlight);
        }
        let local_deadline = unix_to_local(request.deadline_unix_ms, self.offset);
        if !self
            .in_flight
            .insert(request.request_id, local_deadline, kind)
        {
            return self.violation(now, Error::DuplicateRequestId);
        }
        self.events.push_back(match kind {
            ReqKind::SignIn => AgentEvent::SignInRequest {
                request,
                local_deadline,
            },
            ReqKind::PasswordChange => AgentEvent::PasswordChangeRequest {
                request,
                local_deadline,
            },
        });
    }

    fn count_late(&mut self) {
        self.conn.stats.late_responses = self.conn.stats.late_responses.saturating_add(1);
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.state {
            AgentState::Handshaking => Err(Error::NotEstablished),
            AgentState::Closed => Err(Error::Closed),
            AgentState::Established | AgentState::Draining => Ok(()),
        }
    }

    /// Answers a `SignInRequest`. An answer to an expired request is dropped and counted
    /// (`Ok`); an id that is not outstanding gives [`Error::UnknownRequest`].
    pub fn send_sign_in_response(
        &mut self,
        now: u64,
        response: SignInResponse,
    ) -> Result<(), Error> {
        self.respond(now, response, ReqKind::SignIn)
    }

    /// Answers a `PasswordChangeRequest`; same rules as
    /// [`send_sign_in_response`](Self::send_sign_in_response).
    pub fn send_password_change_response(
        &mut self,
        now: u64,
        response: SignInResponse,
    ) -> Result<(), Error> {
        self.respond(now, response, ReqKind::PasswordChange)
    }

    fn respond(&mut self, now: u64, response: SignInResponse, kind: ReqKind) -> Result<(), Error> {
        self.check_open()?;
        let id = response.request_id;
        match self.in_flight.lookup(&id) {
            Lookup::Outstanding(k) if k == kind => {}
            Lookup::Late => {
                self.in_flight.remove(&id);
                self.count_late();
                return Ok(());
            }
            _ => return Err(Error::UnknownRequest),
        }
        let msg = match kind {
            ReqKind::SignIn => Message::SignInResponse(response),
            ReqKind::PasswordChange => Message::PasswordChangeResponse(response),
        };
        self.conn.send(now, &msg, true)?;
        self.in_flight.remove(&id);
        self.maybe_finish_drain(now);
        Ok(())
    }

    /// Asks for a renewed certificate. One renewal at a time.
    pub fn send_renew_request(&mut self, now: u64, request: RenewRequest) -> Result<(), Error> {
        self.check_open()?;
        if self.renew.is_some() {
            return Err(Error::RenewInProgress);
        }
        let id = request.request_id;
        self.conn.send(now, &Message::RenewRequest(request), true)?;
        self.renew = Some((id, now.saturating_add(self.config.renew_timeout_ms)));
        Ok(())
    }

    /// Reports a non-fatal error to the service (for example about a request that could not be
    /// parsed far enough to answer it).
    pub fn send_error(&mut self, now: u64, error: ErrorMessage) -> Result<(), Error> {
        self.check_open()?;
        if let Some(id) = error.request_id
            && self.in_flight.contains(&id)
        {
            self.conn.send(now, &Message::Error(error), true)?;
            self.in_flight.remove(&id);
            self.maybe_finish_drain(now);
            return Ok(());
        }
        self.conn.send(now, &Message::Error(error), true)
    }

    /// Stops taking requests: sends `Drain`. The service acknowledges; once every outstanding
    /// request is answered or expired the session sends `Close(ShuttingDown)` and closes.
    pub fn drain(&mut self, now: u64) -> Result<(), Error> {
        match self.state {
            AgentState::Established => {
                self.conn.send(now, &Message::Drain, false)?;
                self.state = AgentState::Draining;
                Ok(())
            }
            AgentState::Draining => Ok(()),
            AgentState::Handshaking => Err(Error::NotEstablished),
            AgentState::Closed => Err(Error::Closed),
        }
    }

    fn maybe_finish_drain(&mut self, now: u64) {
        if self.state == AgentState::Draining && self.drain_acked && self.in_flight.len() == 0 {
            self.close_with(now, CloseReason::ShuttingDown, false, None);
        }
    }

    /// Closes the session now, sending `Close` with `reason`. Outstanding requests are
    /// abandoned (the service retries them elsewhere).
    pub fn close(&mut self, now: u64, reason: CloseReason) {
        self.close_with(now, reason, false, None);
    }

    fn close_with(&mut self, now: u64, reason: CloseReason, by_peer: bool, error: Option<Error>) {
        if self.state == AgentState::Closed {
            return;
        }
        if !by_peer {
            let _ = self.conn.send(
                now,
                &Message::Close(Close {
                    reason,
                    detail: String::new(),
                }),
                false,
            );
        }
        self.state = AgentState::Closed;
        let _ = self.in_flight.take_all();
        self.renew = None;
        self.events.push_back(AgentEvent::Closed {
            reason,
            by_peer,
            error,
        });
    }

    /// Runs timers: handshake and idle timeouts, heartbeats, request and renewal expiry. Call
    /// when [`poll_timeout`](Self::poll_timeout)'s instant is reached (calling early is
    /// harmless).
    pub fn handle_timeout(&mut self, now: u64) {
        if self.state == AgentState::Closed {
            return;
        }
        if let Some((reason, error)) = self.conn.on_timeout(now) {
            return self.close_with(now, reason, false, Some(error));
        }
        let events = &mut self.events;
        let expired = self
            .in_flight
            .expire(now, |id| events.push_back(AgentEvent::RequestExpired(id)));
        self.conn.stats.requests_timed_out =
            self.conn.stats.requests_timed_out.saturating_add(expired);
        if let Some((id, deadline)) = self.renew
            && now >= deadline
        {
            self.renew = None;
            self.expired_renew = Some(id);
            self.events.push_back(AgentEvent::RenewTimedOut(id));
        }
        self.maybe_finish_drain(now);
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called, or
    /// `None` once closed.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.state == AgentState::Closed {
            return None;
        }
        let t = earliest(Some(self.conn.next_timer()), self.in_flight.next_deadline());
        earliest(t, self.renew.map(|(_, d)| d))
    }

    /// Moves the bytes queued for sending into `buf` (appending); returns how many. Write them
    /// to the connection in order.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        self.conn.poll_transmit(buf)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<AgentEvent> {
        self.events.pop_front()
    }

    pub(crate) fn footprint(&self) -> (usize, usize, usize, usize) {
        (
            self.conn.queued(),
            self.events.len(),
            self.in_flight.footprint(),
            self.conn.reader.buffered(),
        )
    }

    pub(crate) fn limits(&self) -> (&AgentConfig, usize) {
        (&self.config, self.max_in_flight)
    }
}
