//! What to send when: a shared ticket counter, bounded in count and time, optionally paced.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Hard caps, whatever the command line says.
const MAX_COUNT: u64 = 10_000_000;
const MAX_DURATION: Duration = Duration::from_secs(600);
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Validated bounds of one run.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    count: u64,
    duration: Duration,
    rate: Option<f64>,
}

impl Limits {
    pub(crate) fn new(
        count: Option<u64>,
        duration: Option<Duration>,
        rate: Option<f64>,
        workers: usize,
    ) -> Result<Self, String> {
        if workers == 0 || workers > 10_000 {
            return Err("--workers must be within 1 to 10000".into());
        }
        if count.is_some_and(|c| c == 0 || c > MAX_COUNT) {
            return Err(format!("--count must be within 1 to {MAX_COUNT}"));
        }
        if duration.is_some_and(|d| d.is_zero() || d > MAX_DURATION) {
            return Err("--duration must be within 1ms to 10m".into());
        }
        if rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return Err("--rate must be a positive number".into());
        }
        let duration = match (count, duration) {
            (_, Some(d)) => d,
            (Some(_), None) => MAX_DURATION,
            (None, None) => DEFAULT_DURATION,
        };
        Ok(Self {
            count: count.unwrap_or(MAX_COUNT),
            duration,
            rate,
        })
    }
}

/// Tickets shared by the workers.
pub(crate) struct Plan {
    limits: Limits,
    start: Instant,
    next: AtomicU64,
    done: AtomicU64,
}

impl Plan {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            start: Instant::now(),
            next: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }

    /// The next request number and when it is due (now, without a rate), or `None` when the
    /// run is over.
    pub(crate) fn take(&self) -> Option<(u64, Instant)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.limits.count {
            return None;
        }
        let due = match self.limits.rate {
            Some(r) => self.start + Duration::from_secs_f64(i as f64 / r),
            None => Instant::now(),
        };
        (due < self.deadline()).then_some((i, due))
    }

    /// A request finished.
    pub(crate) fn finished(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.start + self.limits.duration
    }

    pub(crate) fn rate(&self) -> Option<f64> {
        self.limits.rate
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A progress bar on standard error while the run lasts, only on a terminal.
    pub(crate) fn progress(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let plan = self.clone();
        Some(tokio::spawn(async move {
            let total = plan.limits.duration.as_millis() as u64;
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let done = plan.done.load(Ordering::Relaxed);
                let secs = plan.elapsed().as_secs_f64().max(1e-3);
                bar.set_position(plan.elapsed().as_millis() as u64);
                bar.set_message(format!("{done} requests, {:.0}/s", done as f64 / secs));
                if done >= plan.limits.count || Instant::now() >= plan.deadline() {
                    break;
                }
            }
            bar.finish_and_clear();
        }))
    }
}
