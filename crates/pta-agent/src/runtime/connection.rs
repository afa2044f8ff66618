//! Connecting to the service (TCP, proxy CONNECT, TLS 1.3 with ALPN `pta/1`) and the
//! reconnect loop: endpoints in order, jittered exponential back-off between attempts.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::agent::Agent;
use super::session::SessionEnd;
use super::{LOG, lock};
use crate::proxy::{connect_tcp, split_host_port};
use crate::{ConfigError, ConfigReason, Error};

impl Agent {
    /// Connects and runs sessions until `stop`, revocation or expiry.
    pub(super) async fn run_loop(&self, mut stop: watch::Receiver<bool>) -> Result<(), Error> {
        let rc = &self.shared.config.reconnect;
        let mut backoff = Backoff::new(rc.initial, rc.max);
        let mut first = true;
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            if SystemTime::now() >= lock(&self.shared.facts).validity.not_after {
                tracing::error!(target: LOG, "the agent certificate expired: register the agent again");
                return Err(Error::CertificateExpired);
            }
            let mut connected = None;
            for endpoint in &self.endpoints {
                self.shared.set_status("connecting", Some(endpoint));
                match self.connect(endpoint).await {
                    Ok(stream) => {
                        connected = Some((endpoint, stream));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(target: LOG, %endpoint, error = %e, "connection failed")
                    }
                }
                if *stop.borrow() {
                    return Ok(());
                }
            }
            if let Some((endpoint, (stream, generation))) = connected {
                if !first {
                    let n = self.shared.metrics.reconnected();
                    lock(&self.shared.status).reconnects = n;
                }
                first = false;
                let started = Instant::now();
                let end = self
                    .shared
                    .clone()
                    .session(endpoint, stream, generation, stop.clone())
                    .await;
                match end {
                    SessionEnd::Stopped => return Ok(()),
                    SessionEnd::Revoked => return Err(Error::Revoked),
                    SessionEnd::Expired => return Err(Error::CertificateExpired),
                    SessionEnd::Lost => {}
                }
                if started.elapsed() > rc.reset_after {
                    backoff.reset();
                }
            }
            let delay = backoff.next_delay();
            self.shared.set_status("backoff", None);
            tracing::info!(
                target: LOG,
                delay_ms = delay.as_millis() as u64,
                "reconnecting after back-off"
            );
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = stop.changed() => return Ok(()),
            }
        }
    }

    /// One connection attempt; returns the stream and the renewal generation whose
    /// certificate it presented.
    async fn connect(&self, endpoint: &str) -> Result<(TlsStream<TcpStream>, u64), Error> {
        let t = &self.shared.config.timeouts;
        let (host, port) = split_host_port(endpoint, 443).ok_or_else(|| {
            ConfigError::new(
                "service.endpoints",
                ConfigReason::Endpoint(endpoint.to_owned()),
            )
        })?;
        let tcp = connect_tcp(&host, port, self.proxy.as_ref(), t.connect).await?;
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let config = self
            .shared
            .tls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let name = ServerName::try_from(host.clone()).map_err(|_| {
            ConfigError::new("service.endpoints", ConfigReason::ServerName(host.clone()))
        })?;
        let tls = tokio::time::timeout(
            t.tls_handshake,
            TlsConnector::from(config).connect(name, tcp),
        )
        .await
        .map_err(|_| Error::Timeout("TLS handshake"))?
        .map_err(|e| {
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(r) => Error::Tls {
                    target: endpoint.to_owned(),
                    source: r.clone(),
                },
                None => Error::network(endpoint)(e),
            }
        })?;
        if tls.get_ref().1.alpn_protocol() != Some(pta_cert::ALPN_PTA1) {
            return Err(Error::Tls {
                target: endpoint.to_owned(),
                source: rustls::Error::NoApplicationProtocol,
            });
        }
        self.shared
            .session_generation
            .store(generation, Ordering::SeqCst);
        Ok((tls, generation))
    }
}

/// Jittered exponential back-off: the n-th delay is uniform in `[d/2, d]` with
/// `d = min(initial * 2^n, max)`.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            attempt: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        let d = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = d / 2;
        let span = u64::try_from((d - half).as_millis()).unwrap_or(0);
        half + Duration::from_millis(if span == 0 {
            0
        } else {
            random_u64() % (span + 1)
        })
    }
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // A failing system RNG leaves zeros: only the jitter depends on this.
    let _ = getrandom::fill(&mut b);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        for (i, d) in delays.iter().enumerate() {
            let full = Duration::from_secs(1 << i.min(5)).min(Duration::from_secs(30));
            assert!(
                *d >= full / 2 && *d <= full,
                "attempt {i}: {d:?} vs {full:?}"
            );
        }
        assert!(delays[7] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
