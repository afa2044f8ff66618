//! Counters of the running service and their Prometheus text exposition (written by hand: the
//! format is a few lines of text).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the sign-in latency histogram, seconds.
const BUCKETS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Upper bounds of the lockout store latency histogram, seconds: an in-memory store answers
/// in microseconds, a shared one within a network round trip or two.
const LOCKOUT_BUCKETS_S: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A call to the lockout store, as the `op` label of `pta_lockout_store_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockoutOp {
    /// Before the directory is asked.
    Check,
    /// The directory's outcome.
    Record,
}

impl LockoutOp {
    fn label(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Record => "record",
        }
    }
}

/// A latency histogram with fixed bounds: per-bucket counts (the last slot is `+Inf`), the
/// sum in microseconds and the count.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LOCKOUT_BUCKETS_S.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = LOCKOUT_BUCKETS_S
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LOCKOUT_BUCKETS_S.len());
        if let Some(c) = self.buckets.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `label`.
    fn render(&self, out: &mut String, name: &str, label: &str) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut cumulative = 0;
        for (i, bound) in LOCKOUT_BUCKETS_S.iter().enumerate() {
            cumulative += self.buckets.get(i).map(load).unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{{label},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self
            .buckets
            .get(LOCKOUT_BUCKETS_S.len())
            .map(load)
            .unwrap_or(0);
        let _ = writeln!(out, "{name}_bucket{{{label},le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum{{{label}}} {}",
            load(&self.sum_us) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{{{label}}} {}", load(&self.count));
    }
}

/// A counter per label value.
#[derive(Debug, Default)]
struct Labelled(Mutex<BTreeMap<&'static str, u64>>);

impl Labelled {
    fn inc(&self, label: &'static str) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *map.entry(label).or_insert(0) += 1;
    }

    fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// Every counter the runtime keeps. Cheap to update from any task.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    sign_ins: Labelled,
    sign_in_errors: Labelled,
    /// Cumulative-per-bucket is computed at render time; these are per-bucket counts, the last
    /// slot being `+Inf`.
    duration_buckets: [AtomicU64; BUCKETS_S.len() + 1],
    duration_sum_us: AtomicU64,
    duration_count: AtomicU64,
    pub(crate) agent_connections: AtomicU64,
    source_changes: Labelled,
    pub(crate) bad_replies: AtomicU64,
    pub(crate) unknown_replies: AtomicU64,
    pub(crate) audit_dropped: AtomicU64,
    pub(crate) lockout_errors: AtomicU64,
    pub(crate) lockout_snapshot_errors: AtomicU64,
    lockout_check: Histogram,
    lockout_record: Histogram,
    renewals: Labelled,
    /// `changes_since` calls (one per wake-up when nothing changed).
    pub(crate) store_change_reads: AtomicU64,
    /// Changes of the store's feed applied.
    pub(crate) store_changes_applied: AtomicU64,
    /// Runs of once-per-cluster jobs on this node (it held the lease), by job.
    cluster_jobs: Labelled,
}

impl Metrics {
    /// A sign-in reached `verdict` (a stable snake-case label).
    pub(crate) fn sign_in(&self, verdict: &'static str) {
        self.sign_ins.inc(verdict);
    }

    /// A sign-in failed with `kind` (a stable snake-case label).
    pub(crate) fn sign_in_error(&self, kind: &'static str) {
        self.sign_in_errors.inc(kind);
    }

    /// A sign-in took `micros`.
    pub(crate) fn sign_in_duration(&self, micros: u64) {
        let secs = micros as f64 / 1e6;
        let slot = BUCKETS_S
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS_S.len());
        if let Some(c) = self.duration_buckets.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.duration_sum_us.fetch_add(micros, Ordering::Relaxed);
        self.duration_count.fetch_add(1, Ordering::Relaxed);
    }

    /// A call to the lockout store took `elapsed` (failed calls included).
    pub(crate) fn lockout_store_call(&self, op: LockoutOp, elapsed: Duration) {
        match op {
            LockoutOp::Check => self.lockout_check.observe(elapsed),
            LockoutOp::Record => self.lockout_record.observe(elapsed),
        }
    }

    /// A known agent turned up with a new source address (`new_source`) or key (`new_key`).
    pub(crate) fn source_change(&self, kind: &'static str) {
        self.source_changes.inc(kind);
    }

    /// A renewal ended with `result` (`ok`, `refused`, `failed`).
    pub(crate) fn renewal(&self, result: &'static str) {
        self.renewals.inc(result);
    }

    /// A once-per-cluster job (`sweep`, `prune`) ran on this node.
    pub(crate) fn cluster_job(&self, job: &'static str) {
        self.cluster_jobs.inc(job);
    }

    /// The text exposition; `connected` is the number of connected agents per tenant.
    pub(crate) fn render(&self, connected: &[(String, usize)]) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        labelled(
            &mut out,
            "pta_sign_ins_total",
            "Sign-ins that reached a verdict, by verdict.",
            "verdict",
            &self.sign_ins.snapshot(),
        );
        labelled(
            &mut out,
            "pta_sign_in_errors_total",
            "Sign-ins that reached no verdict, by kind.",
            "kind",
            &self.sign_in_errors.snapshot(),
        );
        let _ = writeln!(
            out,
            "# HELP pta_sign_in_duration_seconds Time from the call to the result of a sign-in.\n\
             # TYPE pta_sign_in_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (i, bound) in BUCKETS_S.iter().enumerate() {
            cumulative += self.duration_buckets.get(i).map(load).unwrap_or(0);
            let _ = writeln!(
                out,
                "pta_sign_in_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        cumulative += self
            .duration_buckets
            .get(BUCKETS_S.len())
            .map(load)
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "pta_sign_in_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "pta_sign_in_duration_seconds_sum {}",
            load(&self.duration_sum_us) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "pta_sign_in_duration_seconds_count {}",
            load(&self.duration_count)
        );
        let _ = writeln!(
            out,
            "# HELP pta_agents_connected Agents with at least one live connection, by tenant.\n\
             # TYPE pta_agents_connected gauge"
        );
        for (tenant, n) in connected {
            let _ = writeln!(out, "pta_agents_connected{{tenant=\"{tenant}\"}} {n}");
        }
        counter(
            &mut out,
            "pta_agent_connections_total",
            "Agent connections accepted (after TLS and the registry check).",
            load(&self.agent_connections),
        );
        labelled(
            &mut out,
            "pta_agent_source_changes_total",
            "Known agents seen with a new source address or a new key, by kind.",
            "kind",
            &self.source_changes.snapshot(),
        );
        counter(
            &mut out,
            "pta_bad_replies_total",
            "Agent replies whose MAC did not verify.",
            load(&self.bad_replies),
        );
        counter(
            &mut out,
            "pta_unknown_replies_total",
            "Agent replies for a request id the session did not have outstanding (dropped).",
            load(&self.unknown_replies),
        );
        counter(
            &mut out,
            "pta_audit_dropped_total",
            "Audit events dropped because the audit queue was full or the store failed.",
            load(&self.audit_dropped),
        );
        counter(
            &mut out,
            "pta_lockout_store_errors_total",
            "Calls to the lockout store that failed (sign-ins refused uncounted, admin calls failed).",
            load(&self.lockout_errors),
        );
        counter(
            &mut out,
            "pta_lockout_snapshot_errors_total",
            "Lockout snapshots that could not be written or read (see the log).",
            load(&self.lockout_snapshot_errors),
        );
        let _ = writeln!(
            out,
            "# HELP pta_lockout_store_seconds Time of a call to the lockout store, by operation \
             (check before the directory, record after it; failed calls included).\n\
             # TYPE pta_lockout_store_seconds histogram"
        );
        for (op, histogram) in [
            (LockoutOp::Check, &self.lockout_check),
            (LockoutOp::Record, &self.lockout_record),
        ] {
            histogram.render(
                &mut out,
                "pta_lockout_store_seconds",
                &format!("op=\"{}\"", op.label()),
            );
        }
        labelled(
            &mut out,
            "pta_renewals_total",
            "Certificate renewals over agent sessions, by result.",
            "result",
            &self.renewals.snapshot(),
        );
        counter(
            &mut out,
            "pta_store_change_reads_total",
            "Reads of the store's change feed (one per wake-up when nothing changed).",
            load(&self.store_change_reads),
        );
        counter(
            &mut out,
            "pta_store_changes_applied_total",
            "Changes of the store's change feed applied (tenants created, certificates revoked).",
            load(&self.store_changes_applied),
        );
        labelled(
            &mut out,
            "pta_cluster_jobs_total",
            "Runs of once-per-cluster jobs on this node while it held the job's lease, by job.",
            "job",
            &self.cluster_jobs.snapshot(),
        );
        out
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn labelled(out: &mut String, name: &str, help: &str, label: &str, values: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.sign_in("success");
        m.sign_in("success");
        m.sign_in_error("timeout");
        m.sign_in_duration(3_000);
        m.sign_in_duration(20_000_000);
        let text = m.render(&[("t1".to_owned(), 2)]);
        assert!(text.contains("pta_sign_ins_total{verdict=\"success\"} 2"));
        assert!(text.contains("pta_sign_in_errors_total{kind=\"timeout\"} 1"));
        assert!(text.contains("pta_sign_in_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("pta_sign_in_duration_seconds_bucket{le=\"10\"} 1"));
        assert!(text.contains("pta_sign_in_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("pta_sign_in_duration_seconds_count 2"));
        assert!(text.contains("pta_agents_connected{tenant=\"t1\"} 2"));
        assert!(text.contains("pta_bad_replies_total 0"));
    }

    #[test]
    fn lockout_store_latency_is_a_histogram_by_operation() {
        use super::LockoutOp;
        use std::time::Duration;
        let m = Metrics::default();
        m.lockout_store_call(LockoutOp::Check, Duration::from_micros(80));
        m.lockout_store_call(LockoutOp::Check, Duration::from_millis(3));
        m.lockout_store_call(LockoutOp::Record, Duration::from_secs(2));
        let text = m.render(&[]);
        assert!(text.contains("# TYPE pta_lockout_store_seconds histogram"));
        assert!(text.contains("pta_lockout_store_seconds_bucket{op=\"check\",le=\"0.0001\"} 1"));
        assert!(text.contains("pta_lockout_store_seconds_bucket{op=\"check\",le=\"0.005\"} 2"));
        assert!(text.contains("pta_lockout_store_seconds_count{op=\"check\"} 2"));
        assert!(text.contains("pta_lockout_store_seconds_bucket{op=\"record\",le=\"1\"} 0"));
        assert!(text.contains("pta_lockout_store_seconds_bucket{op=\"record\",le=\"+Inf\"} 1"));
        assert!(text.contains("pta_lockout_store_seconds_sum{op=\"record\"} 2"));
    }
}
