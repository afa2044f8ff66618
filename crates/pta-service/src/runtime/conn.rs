//! The agent listener: TLS, the registry check, and one task per connection driving a
//! `pta_wire::ServiceSession`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use pta_envelope::{AwsLcRsaRecipient, KeyId};
use pta_wire::{CloseReason, RequestId, ServiceEvent, ServiceSession, ServiceState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::{AgentSeen, AgentStatus, SourceChange};

use super::registry::{Admitted, Command, ConnHandle, ConnReply, admit};
use super::service::Inner;

/// Bytes read from a connection at a time.
const READ_BUF: usize = 16 * 1024;

/// Accepts agent connections until shutdown; each gets its own task.
pub(crate) async fn accept_loop(
    inner: Arc<Inner>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let inner = Arc::clone(&inner);
                    let shutdown = shutdown.clone();
                    inner.registry.conn_started();
                    tokio::spawn(async move {
                        connection(&inner, tcp, peer, shutdown).await;
                        inner.registry.conn_finished();
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    tracing::info!("agent listener stopped");
}

async fn connection(
    inner: &Arc<Inner>,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let budget = Duration::from_millis(inner.options.wire.handshake_timeout_ms);
    let _ = tcp.set_nodelay(true);
    let Some(config) = inner.registry.listener_config() else {
        tracing::info!(%peer, "agent connection refused: no tenant exists yet");
        return;
    };
    let tls = match tokio::time::timeout(budget, TlsAcceptor::from(config).accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "agent TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "agent TLS handshake timed out");
            return;
        }
    };
    let left = budget.saturating_sub(started.elapsed());
    let admitted = match tokio::time::timeout(left, admit(inner, &tls)).await {
        Ok(Ok(a)) => a,
        Ok(Err(why)) => {
            tracing::warn!(%peer, reason = why, "agent connection refused");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "agent registry check timed out");
            return;
        }
    };
    let left = budget.saturating_sub(started.elapsed());
    run_session(inner, tls, peer, admitted, left, shutdown).await;
}

/// The per-connection state the event handlers need.
struct Conn<'a> {
    inner: &'a Arc<Inner>,
    peer: SocketAddr,
    admitted: Admitted,
    session: ServiceSession,
    commands_tx: mpsc::Sender<Command>,
    close_tx: watch::Sender<Option<CloseReason>>,
    handle: Option<Arc<ConnHandle>>,
    pending: HashMap<RequestId, oneshot::Sender<ConnReply>>,
    software_version: String,
    cap: u32,
}

async fn run_session(
    inner: &Arc<Inner>,
    tls: TlsStream<TcpStream>,
    peer: SocketAddr,
    admitted: Admitted,
    handshake_left: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let (mut rd, mut wr) = tokio::io::split(tls);
    let mut config = inner.options.wire.clone();
    config.max_in_flight = config
        .max_in_flight
        .min(inner.options.max_in_flight_per_agent)
        .max(1);
    config.handshake_timeout_ms = u64::try_from(handshake_left.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let cap = config.max_in_flight;
    let session = ServiceSession::new(config, inner.mono(), inner.now());
    let (commands_tx, mut commands) = mpsc::channel(256);
    let (close_tx, mut close_rx) = watch::channel(None);
    let mut c = Conn {
        inner,
        peer,
        admitted,
        session,
        commands_tx,
        close_tx,
        handle: None,
        pending: HashMap::new(),
        software_version: String::new(),
        cap,
    };
    let mut buf = vec![0u8; READ_BUF];
    let mut out = Vec::new();
    let mut events = Vec::new();
    let mut transport_open = true;
    if *shutdown.borrow() {
        c.session.close(inner.mono(), CloseReason::ShuttingDown);
    }
    loop {
        while let Some(ev) = c.session.poll_event() {
            events.push(ev);
        }
        for ev in events.drain(..) {
            c.on_event(ev).await;
        }
        out.clear();
        c.session.poll_transmit(&mut out);
        if transport_open && !out.is_empty() {
            let written = tokio::time::timeout(Duration::from_secs(10), async {
                wr.write_all(&out).await?;
                wr.flush().await
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                transport_open = false;
                c.session.close(inner.mono(), CloseReason::Normal);
                continue;
            }
        }
        if c.session.state() == ServiceState::Closed {
            // Handle what closing queued (aborted requests, the Closed event), then stop.
            while let Some(ev) = c.session.poll_event() {
                events.push(ev);
            }
            if events.is_empty() {
                break;
            }
            continue;
        }
        let wake = c.session.poll_timeout().map(|t| inner.instant_of(t));
        tokio::select! {
            read = rd.read(&mut buf), if transport_open => match read {
                Ok(0) | Err(_) => {
                    transport_open = false;
                    c.session.close(inner.mono(), CloseReason::Normal);
                }
                Ok(n) => {
                    c.feed(buf.get(..n).unwrap_or_default(), &mut events);
                    c.heartbeat_seen();
                }
            },
            Some(cmd) = commands.recv() => c.on_command(cmd),
            Ok(()) = close_rx.changed() => {
                let reason = *close_rx.borrow_and_update();
                if let Some(reason) = reason {
                    c.session.close(inner.mono(), reason);
                }
            }
            Ok(()) = shutdown.changed() => c.session.close(inner.mono(), CloseReason::ShuttingDown),
            () = sleep_until(wake) => c.session.handle_timeout(inner.mono()),
        }
    }
    if let Some(h) = c.handle.take() {
        inner.registry.dispatcher.remove(&h.tenant, h.id);
    }
    for (_, reply) in c.pending.drain() {
        let _ = reply.send(ConnReply::Aborted);
    }
    if transport_open {
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Conn<'_> {
    fn feed(&mut self, data: &[u8], events: &mut Vec<ServiceEvent>) {
        let now = self.inner.mono();
        let mut used = 0;
        while used < data.len() {
            let n = self
                .session
                .handle_input(now, data.get(used..).unwrap_or_default());
            used += n;
            let mut drained = 0;
            while let Some(ev) = self.session.poll_event() {
                events.push(ev);
                drained += 1;
            }
            if n == 0 && drained == 0 {
                break;
            }
        }
    }

    /// A frame arrived from an established agent: write its last-seen record if it is due.
    fn heartbeat_seen(&self) {
        let Some(h) = &self.handle else {
            return;
        };
        if !self.inner.registry.seen_write_due(&h.agent) {
            return;
        }
        let inner = Arc::clone(self.inner);
        let agent = h.agent;
        let seen = AgentSeen::new(inner.now(), self.peer.ip(), self.software_version.clone());
        tokio::spawn(async move {
            if let Err(e) = inner.store.record_seen(&agent, &seen).await {
                tracing::warn!(%agent, error = %e, "could not record agent heartbeat");
            }
        });
    }

    fn on_command(&mut self, cmd: Command) {
        let now = self.inner.mono();
        match cmd {
            Command::SignIn { request, reply } => {
                let id = request.request_id;
                match self.session.send_sign_in(now, request) {
                    Ok(()) => {
                        self.pending.insert(id, reply);
                    }
                    Err(e) => {
                        tracing::debug!(agent = %self.admitted.agent, error = %e, "request not sent");
                        let _ = reply.send(ConnReply::Aborted);
                    }
                }
            }
            Command::Renew(response) => {
                if let Err(e) = self.session.send_renew_response(now, response) {
                    tracing::warn!(agent = %self.admitted.agent, error = %e, "renewal answer not sent");
                }
            }
        }
    }

    async fn on_event(&mut self, ev: ServiceEvent) {
        match ev {
            ServiceEvent::Established(hello) => self.established(hello).await,
            ServiceEvent::SignInResponse(r) => match self.pending.remove(&r.request_id) {
                Some(reply) => {
                    let _ = reply.send(ConnReply::Response(r));
                }
                None => {
                    self.inner
                        .metrics
                        .unknown_replies
                        .fetch_add(1, Ordering::Relaxed);
                }
            },
            ServiceEvent::PasswordChangeResponse(_) => {
                self.inner
                    .metrics
                    .unknown_replies
                    .fetch_add(1, Ordering::Relaxed);
            }
            ServiceEvent::RequestTimedOut(id) => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(ConnReply::TimedOut);
                }
            }
            ServiceEvent::RequestAborted(id) => {
                if let Some(reply) = self.pending.remove(&id) {
                    let _ = reply.send(ConnReply::Aborted);
                }
            }
            ServiceEvent::PeerError(e) => {
                let reply = e.request_id.and_then(|id| self.pending.remove(&id));
                match reply {
                    Some(reply) => {
                        let _ = reply.send(ConnReply::PeerError(e.code));
                    }
                    None => tracing::info!(
                        agent = %self.admitted.agent,
                        code = ?e.code,
                        "agent reported an error"
                    ),
                }
            }
            ServiceEvent::RenewRequest(r) => {
                let inner = Arc::clone(self.inner);
                let tx = self.commands_tx.clone();
                let agent = self.admitted.agent;
                let tenant = self.admitted.tenant;
                let leaf = self.admitted.leaf.clone();
                let source = self.peer.ip();
                tokio::spawn(async move {
                    let result = inner.renew(agent, tenant, &leaf, &r.csr, source).await;
                    let response = pta_wire::RenewResponse {
                        request_id: r.request_id,
                        result,
                    };
                    let _ = tx.send(Command::Renew(response)).await;
                });
            }
            ServiceEvent::Draining => {
                if let Some(h) = &self.handle {
                    h.draining.store(true, Ordering::Relaxed);
                }
                tracing::info!(agent = %self.admitted.agent, "agent draining");
            }
            ServiceEvent::Closed {
                reason,
                by_peer,
                error,
            } => {
                if let Some(h) = &self.handle {
                    self.inner.registry.dispatcher.remove(&h.tenant, h.id);
                }
                if matches!(error, Some(pta_wire::Error::UnknownRequestId)) {
                    self.inner
                        .metrics
                        .unknown_replies
                        .fetch_add(1, Ordering::Relaxed);
                }
                tracing::info!(
                    agent = %self.admitted.agent,
                    tenant = %self.admitted.tenant,
                    peer = %self.peer,
                    ?reason,
                    by_peer,
                    error = error.map(|e| e.to_string()),
                    "agent connection closed"
                );
            }
        }
    }

    async fn established(&mut self, hello: pta_wire::Hello) {
        let inner = self.inner;
        let a = &self.admitted;
        let now = inner.now();
        let source: IpAddr = self.peer.ip();
        let recipient = match AwsLcRsaRecipient::from_spki_der(&a.spki) {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(agent = %a.agent, "agent key unusable for envelopes");
                self.session.close(inner.mono(), CloseReason::ProtocolError);
                return;
            }
        };
        // Source and key changes, against the record read at admission.
        let change = SourceChange::detect(&a.record, source, &a.spki, false);
        if change.new_source {
            inner.metrics.source_change("new_source");
            tracing::warn!(agent = %a.agent, tenant = %a.tenant, %source, "agent connected from a new source address");
        }
        if change.new_key {
            inner.metrics.source_change("new_key");
            tracing::warn!(agent = %a.agent, tenant = %a.tenant, %source, "agent presented a new key outside renewal");
        }
        for event in change.audit_events(now, &a.record, source) {
            inner.audit(event);
        }
        self.software_version = hello.agent_version.clone();
        let seen = AgentSeen::new(now, source, hello.agent_version.clone());
        if let Err(e) = inner.store.record_seen(&a.agent, &seen).await {
            tracing::warn!(agent = %a.agent, error = %e, "could not record agent connection");
        }
        let _ = inner.registry.seen_write_due(&a.agent);
        if a.record.status == AgentStatus::Inactive
            && let Err(e) = inner
                .store
                .set_agent_status(&a.agent, AgentStatus::Active)
                .await
        {
            tracing::warn!(agent = %a.agent, error = %e, "could not mark agent active");
        }
        let handle = Arc::new(ConnHandle {
            id: inner.registry.next_conn_id(),
            agent: a.agent,
            tenant: a.tenant,
            serial: a.serial.clone(),
            key_id: KeyId::of_spki(&a.spki),
            recipient,
            commands: self.commands_tx.clone(),
            close: self.close_tx.clone(),
            in_flight: AtomicU32::new(0),
            cap: self.cap.min(hello.max_in_flight).max(1),
            draining: AtomicBool::new(false),
        });
        // Listed first, checked second: a revocation applied meanwhile either sees the handle
        // (and closes it) or is seen here.
        inner.registry.dispatcher.add(Arc::clone(&handle));
        let revoked = inner
            .registry
            .trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_revoked(&a.tenant, &a.serial);
        if revoked {
            inner.registry.dispatcher.remove(&a.tenant, handle.id);
            self.session.close(inner.mono(), CloseReason::Revoked);
            return;
        }
        self.handle = Some(handle);
        inner
            .metrics
            .agent_connections
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            agent = %a.agent,
            tenant = %a.tenant,
            peer = %self.peer,
            version = %hello.agent_version,
            "agent connected"
        );
    }
}
