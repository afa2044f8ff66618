//! Counting outcomes and printing the summary.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::plan::Plan;

/// What one worker saw.
pub(crate) struct Stats {
    /// Latency in microseconds.
    latency: Histogram<u64>,
    verdicts: BTreeMap<String, u64>,
    errors: BTreeMap<String, u64>,
    mismatches: u64,
}

impl Stats {
    pub(crate) fn new() -> Result<Self, String> {
        // 1 us to 10 min, 3 significant digits; auto-resize covers anything longer.
        let mut latency =
            Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| format!("histogram: {e}"))?;
        latency.auto(true);
        Ok(Self {
            latency,
            verdicts: BTreeMap::new(),
            errors: BTreeMap::new(),
            mismatches: 0,
        })
    }

    /// A verdict arrived after `latency`; `expected` says whether it is one the mix allows.
    pub(crate) fn verdict(&mut self, latency: Duration, verdict: &str, expected: bool) {
        self.record(latency);
        *self.verdicts.entry(verdict.to_owned()).or_default() += 1;
        if !expected {
            self.mismatches += 1;
        }
    }

    /// A request failed (no verdict).
    pub(crate) fn error(&mut self, latency: Duration, kind: String) {
        self.record(latency);
        *self.errors.entry(kind).or_default() += 1;
    }

    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        // Auto-resizing: recording cannot fail for values within u64.
        let _ = self.latency.record(us);
    }

    pub(crate) fn merge(&mut self, other: Self) {
        let _ = self.latency.add(&other.latency);
        for (k, v) in other.verdicts {
            *self.verdicts.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.mismatches += other.mismatches;
    }
}

/// The run's result.
pub(crate) struct Summary {
    mode: &'static str,
    workers: usize,
    rate: Option<f64>,
    seconds: f64,
    stats: Stats,
}

impl Summary {
    pub(crate) fn new(mode: &'static str, plan: &Plan, workers: usize, stats: Stats) -> Self {
        Self {
            mode,
            workers,
            rate: plan.rate(),
            seconds: plan.elapsed().as_secs_f64(),
            stats,
        }
    }

    fn requests(&self) -> u64 {
        self.stats.latency.len()
    }

    fn errors(&self) -> u64 {
        self.stats.errors.values().sum()
    }

    /// Every request answered as expected, and at least one was sent.
    pub(crate) fn ok(&self) -> bool {
        self.requests() > 0 && self.errors() == 0 && self.stats.mismatches == 0
    }

    fn quantile_us(&self, q: f64) -> u64 {
        self.stats.latency.value_at_quantile(q)
    }

    /// Prints the summary on standard output; `false` if it could not be written.
    pub(crate) fn print(&self, json: bool) -> bool {
        let mut out = std::io::stdout().lock();
        self.write(&mut out, json)
            .and_then(|()| out.flush())
            .is_ok()
    }

    fn write(&self, out: &mut impl Write, json: bool) -> std::io::Result<()> {
        let throughput = self.requests() as f64 / self.seconds.max(1e-9);
        if json {
            let value = serde_json::json!({
                "mode": self.mode,
                "workers": self.workers,
                "rate": self.rate,
                "requests": self.requests(),
                "seconds": self.seconds,
                "throughput": throughput,
                "latency_us": {
                    "p50": self.quantile_us(0.50),
                    "p90": self.quantile_us(0.90),
                    "p99": self.quantile_us(0.99),
                    "max": self.stats.latency.max(),
                    "mean": self.stats.latency.mean(),
                },
                "verdicts": self.stats.verdicts,
                "errors": self.stats.errors,
                "mismatches": self.stats.mismatches,
                "ok": self.ok(),
            });
            return writeln!(out, "{value}");
        }
        let ms = |us: u64| us as f64 / 1000.0;
        writeln!(
            out,
            "{}: {} requests in {:.2} s with {} workers{}: {:.0}/s",
            self.mode,
            self.requests(),
            self.seconds,
            self.workers,
            self.rate
                .map_or(String::new(), |r| format!(" at {r}/s scheduled")),
            throughput
        )?;
        writeln!(
            out,
            "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            ms(self.quantile_us(0.5)),
            ms(self.quantile_us(0.9)),
            ms(self.quantile_us(0.99)),
            ms(self.stats.latency.max())
        )?;
        for (k, v) in &self.stats.verdicts {
            writeln!(out, "verdict {k}: {v}")?;
        }
        for (k, v) in &self.stats.errors {
            writeln!(out, "error {k}: {v}")?;
        }
        if self.stats.mismatches > 0 {
            writeln!(out, "unexpected verdicts: {}", self.stats.mismatches)?;
        }
        Ok(())
    }
}
