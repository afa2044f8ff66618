//! Counters and the optional Prometheus text listener (hand-written exposition format).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pta_wire::{ErrorCode, Outcome};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::Error;

/// Upper bounds of the latency histogram, in milliseconds.
const BUCKETS_MS: [u64; 11] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const VERDICTS: usize = 10;
const ERRORS: usize = 14;

/// The agent's counters. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    verdicts: [AtomicU64; VERDICTS],
    errors: [AtomicU64; ERRORS],
    buckets: [AtomicU64; BUCKETS_MS.len()],
    latency_count: AtomicU64,
    latency_sum_ms: AtomicU64,
    connected: AtomicU64,
    reconnects: AtomicU64,
    renewals: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub(crate) fn record(&self, outcome: Outcome, latency: Duration) {
        let slot = match outcome {
            Outcome::Verdict(v) => self.verdicts.get(v.code() as usize),
            Outcome::Error(e) => self.errors.get(e.code() as usize),
        };
        if let Some(c) = slot {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            if ms <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub(crate) fn set_connected(&self, up: bool) {
        self.connected.store(u64::from(up), Ordering::Relaxed);
    }

    pub(crate) fn reconnected(&self) -> u64 {
        self.reconnects.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn renewed(&self) {
        self.renewals.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests answered with `outcome` so far.
    pub fn count(&self, outcome: Outcome) -> u64 {
        let slot = match outcome {
            Outcome::Verdict(v) => self.verdicts.get(v.code() as usize),
            Outcome::Error(e) => self.errors.get(e.code() as usize),
        };
        slot.map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Reconnections since start.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Certificate renewals since start.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP pta_agent_requests_total Requests answered, by verdict or error."
        );
        let _ = writeln!(out, "# TYPE pta_agent_requests_total counter");
        for (code, c) in self.verdicts.iter().enumerate() {
            let name = verdict_name(code as u32);
            let _ = writeln!(
                out,
                "pta_agent_requests_total{{verdict=\"{name}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        for (code, c) in self.errors.iter().enumerate().skip(1) {
            let name = format!("{:?}", ErrorCode::from_code(code as u32));
            let _ = writeln!(
                out,
                "pta_agent_requests_total{{error=\"{name}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP pta_agent_request_duration_seconds Time from request to answer."
        );
        let _ = writeln!(out, "# TYPE pta_agent_request_duration_seconds histogram");
        for (bound, b) in BUCKETS_MS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "pta_agent_request_duration_seconds_bucket{{le=\"{}\"}} {}",
                *bound as f64 / 1000.0,
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "pta_agent_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "pta_agent_request_duration_seconds_sum {}",
            self.latency_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "pta_agent_request_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP pta_agent_connected Whether a session to the service is established."
        );
        let _ = writeln!(out, "# TYPE pta_agent_connected gauge");
        let _ = writeln!(
            out,
            "pta_agent_connected {}",
            self.connected.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP pta_agent_reconnects_total Reconnections since start."
        );
        let _ = writeln!(out, "# TYPE pta_agent_reconnects_total counter");
        let _ = writeln!(out, "pta_agent_reconnects_total {}", self.reconnects());
        let _ = writeln!(
            out,
            "# HELP pta_agent_renewals_total Certificate renewals since start."
        );
        let _ = writeln!(out, "# TYPE pta_agent_renewals_total counter");
        let _ = writeln!(out, "pta_agent_renewals_total {}", self.renewals());
        out
    }
}

fn verdict_name(code: u32) -> String {
    format!("{:?}", pta_wire::Verdict::from_code(code))
}

/// Serves `GET` of any path with the metrics text until the task is dropped.
pub(crate) async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(Error::network(&addr.to_string()))?;
    tracing::info!(%addr, "metrics listener");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                let read = tokio::time::timeout(Duration::from_secs(5), async {
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return false,
                            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
                        }
                    }
                    true
                })
                .await;
                if read != Ok(true) {
                    return;
                }
                let body = metrics.render();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(response.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histogram() {
        let m = Metrics::default();
        m.record(
            Outcome::Verdict(pta_wire::Verdict::Success),
            Duration::from_millis(3),
        );
        m.record(
            Outcome::Error(ErrorCode::Replay),
            Duration::from_millis(700),
        );
        let text = m.render();
        assert!(
            text.contains("pta_agent_requests_total{verdict=\"Success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pta_agent_requests_total{error=\"Replay\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pta_agent_request_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pta_agent_request_duration_seconds_bucket{le=\"1\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("pta_agent_request_duration_seconds_count 2"),
            "{text}"
        );
        assert_eq!(m.count(Outcome::Verdict(pta_wire::Verdict::Success)), 1);
    }
}
