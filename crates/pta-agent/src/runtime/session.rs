//! One connection's session: drives the `pta_wire::AgentSession` state machine (sans-IO) on
//! the TLS stream, hands requests to [`requests`](super::requests), runs renewals, drains on
//! shutdown.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pta_wire::{AgentConfig, AgentEvent, AgentSession, AgentState, Capabilities, CloseReason};
use pta_wire::{Operation, Welcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::client::TlsStream;

use super::renewal::Renewal;
use super::requests::Answer;
use super::shared::Shared;
use super::{LOG, lock};

/// Wall-clock difference from the service above which a warning is logged.
const SKEW_WARN_MS: u64 = 60_000;
/// Read buffer size.
const READ_BUF: usize = 16 * 1024;

/// How a session ended, which decides what the connection loop does next.
pub(super) enum SessionEnd {
    /// The connection was lost or closed: reconnect.
    Lost,
    /// Shutdown was requested and the session drained.
    Stopped,
    /// The service revoked the agent.
    Revoked,
    /// The agent certificate expired.
    Expired,
}

/// A session's progress towards its end, besides the wire state machine's.
struct Driver {
    shared: Arc<Shared>,
    s: AgentSession,
    renewal: Renewal,
    /// Set once `Drain` was sent (shutdown requested).
    drain_deadline: Option<tokio::time::Instant>,
    end: SessionEnd,
}

impl Shared {
    /// Runs the session on `stream` until it closes. `generation` is the renewal generation
    /// whose certificate the connection presented.
    pub(super) async fn session(
        self: Arc<Self>,
        endpoint: &str,
        stream: TlsStream<TcpStream>,
        generation: u64,
        mut stop: watch::Receiver<bool>,
    ) -> SessionEnd {
        let (mut rd, mut wr) = tokio::io::split(stream);
        let mut wire = AgentConfig::default();
        wire.max_in_flight = self.config.limits.max_in_flight.max(1);
        wire.capabilities = Capabilities::PASSWORD_CHANGE | Capabilities::RENEW;
        wire.agent_version = env!("CARGO_PKG_VERSION").to_owned();
        let mut d = Driver {
            s: AgentSession::new(wire, self.now_ms()),
            shared: self.clone(),
            renewal: Renewal::default(),
            drain_deadline: None,
            end: SessionEnd::Lost,
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Answer>();
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; READ_BUF];
        let mut out = Vec::new();
        tracing::info!(target: LOG, %endpoint, "connected");
        loop {
            d.handle_events(endpoint, generation, &tx);
            d.s.poll_transmit(&mut out);
            if !out.is_empty() {
                if wr.write_all(&out).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
                out.clear();
            }
            if d.s.state() == AgentState::Closed {
                break;
            }
            if !pending.is_empty() {
                let used = d.s.handle_input(self.now_ms(), &pending);
                pending.drain(..used.min(pending.len()));
                if used > 0 {
                    continue;
                }
            }
            let draining = d.drain_deadline.is_some();
            if !draining && *stop.borrow() {
                d.begin_drain();
                continue;
            }
            // Without a timer of the session's own, wake up at the drain deadline (or never).
            let far = tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
            let drain_deadline = d.drain_deadline.unwrap_or(far);
            let timer =
                d.s.poll_timeout()
                    .map(|t| tokio::time::Instant::from_std(self.clock + Duration::from_millis(t)))
                    .unwrap_or(drain_deadline);
            let renew_at = *lock(&self.next_renewal_check);
            let can_renew =
                d.s.state() == AgentState::Established && !draining && d.renewal.is_idle();
            tokio::select! {
                r = rd.read(&mut buf), if pending.is_empty() => match r {
                    Ok(0) => {
                        tracing::info!(target: LOG, %endpoint, "connection lost");
                        break;
                    }
                    // In TLS 1.3 the service's refusal of the client certificate (revoked,
                    // expired, unknown CA) arrives here, at the first read: say why.
                    Err(e) => {
                        tracing::warn!(target: LOG, %endpoint, error = %e, "connection lost");
                        break;
                    }
                    Ok(n) => {
                        let data = buf.get(..n).unwrap_or_default();
                        let used = d.s.handle_input(self.now_ms(), data);
                        pending.extend_from_slice(data.get(used..).unwrap_or_default());
                    }
                },
                Some(answer) = rx.recv() => {
                    self.send_answer(&mut d.s, answer);
                    // Every answer ready now goes out in the same write.
                    while let Ok(answer) = rx.try_recv() {
                        self.send_answer(&mut d.s, answer);
                    }
                }
                () = tokio::time::sleep_until(timer) => d.s.handle_timeout(self.now_ms()),
                _ = stop.changed(), if !draining => d.begin_drain(),
                () = tokio::time::sleep_until(drain_deadline), if draining => {
                    tracing::warn!(target: LOG, "drain timeout: closing with requests in flight");
                    d.s.close(self.now_ms(), CloseReason::ShuttingDown);
                }
                () = tokio::time::sleep_until(renew_at), if can_renew => {
                    if d.renewal.check(&self) {
                        d.end = SessionEnd::Expired;
                        d.s.close(self.now_ms(), CloseReason::Normal);
                    }
                }
                generated = d.renewal.key_generated() => {
                    d.renewal.on_key(&self, &mut d.s, generated);
                }
            }
        }
        d.s.poll_transmit(&mut out);
        if !out.is_empty() {
            let _ = wr.write_all(&out).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        self.metrics.set_connected(false);
        d.end
    }
}

impl Driver {
    /// Handles every event the session has ready.
    fn handle_events(
        &mut self,
        endpoint: &str,
        generation: u64,
        tx: &mpsc::UnboundedSender<Answer>,
    ) {
        let shared = &self.shared;
        while let Some(event) = self.s.poll_event() {
            match event {
                AgentEvent::Established(w) => shared.on_established(endpoint, generation, &w),
                AgentEvent::SignInRequest {
                    request,
                    local_deadline,
                } => shared.on_request(&mut self.s, Operation::SignIn, request, local_deadline, tx),
                AgentEvent::PasswordChangeRequest {
                    request,
                    local_deadline,
                } => shared.on_request(
                    &mut self.s,
                    Operation::PasswordChange,
                    request,
                    local_deadline,
                    tx,
                ),
                AgentEvent::RequestExpired(id) => {
                    tracing::debug!(target: LOG, ?id, "request expired before its answer");
                }
                AgentEvent::RenewResponse(r) => self.renewal.on_response(shared, r),
                AgentEvent::RenewTimedOut(_) => self.renewal.on_timeout(shared),
                AgentEvent::PeerError(e) => {
                    tracing::warn!(target: LOG, code = ?e.code, detail = %e.detail, "service reported an error");
                    self.renewal.on_peer_error(shared, e.request_id);
                }
                AgentEvent::Closed {
                    reason,
                    by_peer,
                    error,
                } => {
                    tracing::info!(target: LOG, ?reason, by_peer, error = ?error, "session closed");
                    if by_peer && reason == CloseReason::Revoked {
                        tracing::error!(target: LOG, "the service revoked this agent");
                        self.end = SessionEnd::Revoked;
                    }
                }
            }
        }
    }

    /// Shutdown requested: send `Drain` (or close when that is not possible) and give the
    /// requests in flight until `timeouts.drain`.
    fn begin_drain(&mut self) {
        let now = self.shared.now_ms();
        self.end = SessionEnd::Stopped;
        self.drain_deadline = Some(tokio::time::Instant::now() + self.shared.config.timeouts.drain);
        self.shared.set_status("draining", None);
        if self.s.drain(now).is_err() {
            self.s.close(now, CloseReason::ShuttingDown);
        }
    }
}

impl Shared {
    /// `Welcome` received: log the clock skew, report connected, confirm a renewed certificate
    /// that connected for the first time.
    fn on_established(&self, endpoint: &str, generation: u64, w: &Welcome) {
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let skew = local.abs_diff(w.service_time_unix_ms);
        if skew > SKEW_WARN_MS {
            tracing::warn!(target: LOG, skew_ms = skew, "the local clock differs from the service's");
        }
        tracing::info!(
            target: LOG,
            %endpoint,
            version = w.version,
            max_in_flight = w.max_in_flight,
            latest = %w.latest_agent_version,
            "session established"
        );
        self.metrics.set_connected(true);
        self.set_status("connected", Some(endpoint));
        let mut unconfirmed = lock(&self.unconfirmed);
        if *unconfirmed == Some(generation) {
            match self.store.confirm_current() {
                Ok(_) => {
                    tracing::info!(target: LOG, "renewed certificate confirmed");
                    *unconfirmed = None;
                }
                Err(e) => {
                    tracing::warn!(target: LOG, error = %e, "cannot confirm the renewed certificate")
                }
            }
        }
    }
}
