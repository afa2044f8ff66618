//! The service's end of a session.

use std::collections::VecDeque;

use crate::codes::{Capabilities, CloseReason, RequestId};
use crate::config::{ServiceConfig, clamp_frame_size, truncate_utf8};
use crate::conn::{Conn, Stats, earliest, unix_to_local};
use crate::error::Error;
use crate::inflight::{InFlight, Lookup, ReqKind};
use crate::message::{
    Close, ErrorMessage, Hello, MAX_VERSION_TEXT, Message, RenewRequest, RenewResponse,
    SignInRequest, SignInResponse, Welcome,
};

/// Where a [`ServiceSession`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceState {
    /// Waiting for the agent's `Hello`.
    Handshaking,
    /// Requests may be sent.
    Established,
    /// The agent sent `Drain`: no new requests; outstanding ones still complete.
    Draining,
    /// Closed: flush `poll_transmit`, then drop the connection.
    Closed,
}

/// What a [`ServiceSession`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceEvent {
    /// The agent's `Hello` was accepted and `Welcome` queued.
    Established(Hello),
    /// The agent answered a sign-in. Verify the MAC before trusting the verdict.
    SignInResponse(SignInResponse),
    /// The agent answered a password change. Verify the MAC before trusting the verdict.
    PasswordChangeResponse(SignInResponse),
    /// The request's deadline passed without an answer: report a timeout, do not retry.
    /// Reported exactly once; a later answer is dropped and counted.
    RequestTimedOut(RequestId),
    /// The session closed before the request was answered: retry once on another agent.
    RequestAborted(RequestId),
    /// The agent asks for a renewed certificate; answer with
    /// [`ServiceSession::send_renew_response`].
    RenewRequest(RenewRequest),
    /// The agent reported an error. If it names an outstanding request, that request is no
    /// longer outstanding: treat it as failed with this code.
    PeerError(ErrorMessage),
    /// The agent is draining: send it no new requests.
    Draining,
    /// The session is closed. `error` is the local cause (protocol violation, timeout), if any.
    Closed {
        /// The reason sent or received in `Close`.
        reason: CloseReason,
        /// Whether the agent closed the session.
        by_peer: bool,
        /// What went wrong locally, if anything.
        error: Option<Error>,
    },
}

/// The service's end of a session: sans-IO, no clock, no socket.
///
/// `now` is milliseconds on a monotonic clock of the caller's choice. The session also needs
/// the Unix time once, at [`new`](Self::new), to relate the two: request deadlines are Unix
/// milliseconds (they are sealed into the envelope), timers run on `now`.
///
/// # Call order
///
/// 1. [`new`](Self::new) for each accepted connection.
/// 2. Loop: feed bytes read from the connection to [`handle_input`](Self::handle_input)
///    (re-feed what it did not consume after draining events); drain
///    [`poll_event`](Self::poll_event) until `None`; write out
///    [`poll_transmit`](Self::poll_transmit); sleep until
///    [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout).
/// 3. After [`ServiceEvent::Established`], send requests with
///    [`send_sign_in`](Self::send_sign_in); each ends with exactly one of a response event,
///    `RequestTimedOut`, `RequestAborted`, or a `PeerError` naming it.
/// 4. After [`ServiceEvent::Closed`], flush `poll_transmit` one last time and drop the
///    connection.
///
/// # States
///
/// ```text
///            new()                 Hello (common version) / Welcome
///   ----> [Handshaking] ---------------------------------> [Established]
///              |  handshake timeout, no common             |          |
///              |  version, bad Hello, Close          Drain |          | idle timeout, violation,
///              v                                  (acked)  v          | Close, close()
///          [Closed] <-------- Close, close(), ------- [Draining]      |
///              ^              idle timeout, violation                 |
///              +------------------------------------------------------+
/// ```
pub struct ServiceSession {
    config: ServiceConfig,
    conn: Conn,
    state: ServiceState,
    events: VecDeque<ServiceEvent>,
    in_flight: InFlight,
    max_in_flight: usize,
    /// `unix_ms - monotonic_ms` of this service's clocks.
    offset: i128,
    hello: Option<Hello>,
    renew: Option<RequestId>,
}

impl ServiceSession {
    /// Starts a session for a new connection. `unix_now_ms` is the wall clock read at the same
    /// moment as `now`.
    pub fn new(mut config: ServiceConfig, now: u64, unix_now_ms: u64) -> Self {
        config.max_frame_size = clamp_frame_size(config.max_frame_size);
        config.max_in_flight = config.max_in_flight.max(1);
        config.heartbeat_interval_ms = config.heartbeat_interval_ms.max(1);
        if config.idle_timeout_ms / 2 < config.heartbeat_interval_ms {
            config.idle_timeout_ms = config.heartbeat_interval_ms.saturating_mul(2);
        }
        truncate_utf8(&mut config.latest_agent_version, MAX_VERSION_TEXT);
        truncate_utf8(&mut config.min_agent_version, MAX_VERSION_TEXT);
        Self {
            conn: Conn::new(
                now,
                config.max_frame_size,
                config.handshake_timeout_ms,
                config.max_transmit_bytes,
            ),
            state: ServiceState::Handshaking,
            events: VecDeque::new(),
            in_flight: InFlight::new(config.expired_memory),
            max_in_flight: config.max_in_flight as usize,
            offset: i128::from(unix_now_ms) - i128::from(now),
            hello: None,
            renew: None,
            config,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServiceState {
        self.state
    }

    /// The agent's `Hello`, once received.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.conn.stats
    }

    /// Requests sent and not yet answered, timed out or aborted.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether [`send_sign_in`](Self::send_sign_in) would be accepted now (established, not
    /// draining, below the in-flight limit, transmit buffer not full).
    pub fn can_send(&self) -> bool {
        self.state == ServiceState::Established
            && self.in_flight.len() < self.max_in_flight
            && self.conn.queued() < self.config.max_transmit_bytes
    }

    /// The Unix time for a monotonic instant, on this session's clock pairing. Use it to
    /// compute the `deadline_unix_ms` to seal and send.
    pub fn unix_time(&self, now: u64) -> u64 {
        let v = i128::from(now) + self.offset;
        u64::try_from(v.max(0)).unwrap_or(u64::MAX)
    }

    /// Feeds bytes read from the connection. Returns how many were consumed: fewer than
    /// `data.len()` when the event queue is full; drain [`poll_event`](Self::poll_event) and
    /// feed the rest. After the session closed, everything is consumed and ignored.
    pub fn handle_input(&mut self, now: u64, data: &[u8]) -> usize {
        let mut used = 0;
        while used < data.len() {
            if self.state == ServiceState::Closed {
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
            (ServiceState::Closed, _) => {}
            (_, Message::Close(c)) => self.close_with(now, c.reason, true, None),
            (ServiceState::Handshaking, Message::Hello(h)) => self.on_hello(now, h),
            (ServiceState::Handshaking, _) => {
                self.violation(now, Error::UnexpectedMessage { kind })
            }
            (_, Message::SignInResponse(r)) => self.on_response(now, r, ReqKind::SignIn),
            (_, Message::PasswordChangeResponse(r)) => {
                self.on_response(now, r, ReqKind::PasswordChange)
            }
            (_, Message::RenewRequest(r)) => {
                self.renew = Some(r.request_id);
                self.events.push_back(ServiceEvent::RenewRequest(r));
            }
            (_, Message::Ping(n)) => self.conn.pong(now, n),
            (_, Message::Pong(_)) => {}
            (ServiceState::Established, Message::Drain) => {
                // The acknowledgement tells the agent that no request follows.
                let _ = self.conn.send(now, &Message::Drain, false);
                self.state = ServiceState::Draining;
                self.events.push_back(ServiceEvent::Draining);
            }
            (_, Message::Error(e)) => {
                if let Some(id) = e.request_id
                    && self.in_flight.contains(&id)
                {
                    self.in_flight.remove(&id);
                }
                self.events.push_back(ServiceEvent::PeerError(e));
            }
            _ => self.violation(now, Error::UnexpectedMessage { kind }),
        }
    }

    fn on_hello(&mut self, now: u64, h: Hello) {
        let Some(version) = h
            .versions
            .iter()
            .copied()
            .filter(|v| self.config.versions.contains(v))
            .max()
        else {
            self.hello = Some(h);
            return self.violation(now, Error::VersionMismatch);
        };
        let max_in_flight = self.config.max_in_flight.min(h.max_in_flight);
        let welcome = Welcome {
            version,
            heartbeat_interval_ms: self.config.heartbeat_interval_ms,
            idle_timeout_ms: self.config.idle_timeout_ms,
            max_frame_size: self.config.max_frame_size,
            max_in_flight,
            service_time_unix_ms: self.unix_time(now),
            latest_agent_version: self.config.latest_agent_version.clone(),
            min_agent_version: self.config.min_agent_version.clone(),
        };
        self.conn.peer_max_frame = h.max_frame_size;
        if let Err(e) = self.conn.send(now, &Message::Welcome(welcome), false) {
            return self.violation(now, e);
        }
        self.conn.heartbeat = Some((
            u64::from(self.config.heartbeat_interval_ms),
            u64::from(self.config.idle_timeout_ms),
        ));
        self.max_in_flight = max_in_flight as usize;
        self.state = ServiceState::Established;
        self.hello = Some(h.clone());
        self.events.push_back(ServiceEvent::Established(h));
    }

    fn on_response(&mut self, now: u64, r: SignInResponse, kind: ReqKind) {
        match self.in_flight.lookup(&r.request_id) {
            Lookup::Outstanding(k) if k == kind => {
                self.in_flight.remove(&r.request_id);
                self.events.push_back(match kind {
                    ReqKind::SignIn => ServiceEvent::SignInResponse(r),
                    ReqKind::PasswordChange => ServiceEvent::PasswordChangeResponse(r),
                });
            }
            Lookup::Late => {
                self.in_flight.remove(&r.request_id);
                self.conn.stats.late_responses = self.conn.stats.late_responses.saturating_add(1);
            }
            _ => self.violation(now, Error::UnknownRequestId),
        }
    }

    fn check_can_request(&self) -> Result<(), Error> {
        match self.state {
            ServiceState::Handshaking => Err(Error::NotEstablished),
            ServiceState::Draining => Err(Error::Draining),
            ServiceState::Closed => Err(Error::Closed),
            // Every request ends in an event; refusing new ones while the queue is full keeps
            // it bounded even for a caller that never polls.
            ServiceState::Established if self.events.len() >= self.config.max_queued_events => {
                Err(Error::EventsPending)
            }
            ServiceState::Established if self.in_flight.len() >= self.max_in_flight => {
                Err(Error::TooManyInFlight)
            }
            ServiceState::Established => Ok(()),
        }
    }

    /// Sends a sign-in request. Its outcome arrives as exactly one event:
    /// [`ServiceEvent::SignInResponse`], `RequestTimedOut` (at the deadline), `RequestAborted`
    /// (the session closed first) or `PeerError` naming the id.
    pub fn send_sign_in(&mut self, now: u64, request: SignInRequest) -> Result<(), Error> {
        self.send_request(now, request, ReqKind::SignIn)
    }

    /// Sends a password change request (the agent must have announced
    /// [`Capabilities::PASSWORD_CHANGE`]); outcome as for [`send_sign_in`](Self::send_sign_in).
    pub fn send_password_change(&mut self, now: u64, request: SignInRequest) -> Result<(), Error> {
        let capable = self
            .hello
            .as_ref()
            .is_some_and(|h| h.capabilities.contains(Capabilities::PASSWORD_CHANGE));
        if self.state == ServiceState::Established && !capable {
            return Err(Error::Unsupported);
        }
        self.send_request(now, request, ReqKind::PasswordChange)
    }

    fn send_request(
        &mut self,
        now: u64,
        request: SignInRequest,
        kind: ReqKind,
    ) -> Result<(), Error> {
        self.check_can_request()?;
        if self.in_flight.contains(&request.request_id) {
            return Err(Error::DuplicateRequestId);
        }
        let local_deadline = unix_to_local(request.deadline_unix_ms, self.offset);
        if local_deadline <= now {
            return Err(Error::DeadlinePassed);
        }
        let id = request.request_id;
        let msg = match kind {
            ReqKind::SignIn => Message::SignInRequest(request),
            ReqKind::PasswordChange => Message::PasswordChangeRequest(request),
        };
        self.conn.send(now, &msg, true)?;
        self.in_flight.insert(id, local_deadline, kind);
        Ok(())
    }

    /// Answers the agent's outstanding `RenewRequest`.
    pub fn send_renew_response(&mut self, now: u64, response: RenewResponse) -> Result<(), Error> {
        if self.state == ServiceState::Closed {
            return Err(Error::Closed);
        }
        if self.renew != Some(response.request_id) {
            return Err(Error::UnknownRequest);
        }
        self.conn
            .send(now, &Message::RenewResponse(response), false)?;
        self.renew = None;
        Ok(())
    }

    /// Reports a non-fatal error to the agent.
    pub fn send_error(&mut self, now: u64, error: ErrorMessage) -> Result<(), Error> {
        match self.state {
            ServiceState::Handshaking => Err(Error::NotEstablished),
            ServiceState::Closed => Err(Error::Closed),
            _ => self.conn.send(now, &Message::Error(error), true),
        }
    }

    /// Closes the session now, sending `Close` with `reason` (for example `Revoked` or
    /// `Superseded`). Outstanding requests are reported as `RequestAborted`.
    pub fn close(&mut self, now: u64, reason: CloseReason) {
        self.close_with(now, reason, false, None);
    }

    fn close_with(&mut self, now: u64, reason: CloseReason, by_peer: bool, error: Option<Error>) {
        if self.state == ServiceState::Closed {
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
        self.state = ServiceState::Closed;
        for id in self.in_flight.take_all() {
            self.events.push_back(ServiceEvent::RequestAborted(id));
        }
        self.renew = None;
        self.events.push_back(ServiceEvent::Closed {
            reason,
            by_peer,
            error,
        });
    }

    /// Runs timers: handshake and idle timeouts, heartbeats, request deadlines. Call when
    /// [`poll_timeout`](Self::poll_timeout)'s instant is reached (calling early is harmless).
    pub fn handle_timeout(&mut self, now: u64) {
        if self.state == ServiceState::Closed {
            return;
        }
        if let Some((reason, error)) = self.conn.on_timeout(now) {
            return self.close_with(now, reason, false, Some(error));
        }
        let events = &mut self.events;
        let expired = self.in_flight.expire(now, |id| {
            events.push_back(ServiceEvent::RequestTimedOut(id))
        });
        self.conn.stats.requests_timed_out =
            self.conn.stats.requests_timed_out.saturating_add(expired);
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called, or
    /// `None` once closed.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.state == ServiceState::Closed {
            return None;
        }
        earliest(Some(self.conn.next_timer()), self.in_flight.next_deadline())
    }

    /// Moves the bytes queued for sending into `buf` (appending); returns how many. Write them
    /// to the connection in order.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        self.conn.poll_transmit(buf)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ServiceEvent> {
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

    pub(crate) fn limits(&self) -> (&ServiceConfig, usize) {
        (&self.config, self.max_in_flight)
    }
}
