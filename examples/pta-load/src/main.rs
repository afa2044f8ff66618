//! `pta-load`: drives sign-ins against a running `pta-service` through its HTTP API (or raw
//! LDAP rebinds against a directory, for the directory's own ceiling) with N concurrent
//! workers, for a bounded count and time, and prints throughput, latency percentiles
//! (HdrHistogram), verdict counts and errors.
//!
//! ```text
//! PTA_LOAD_API_KEY=... PTA_LOAD_PASSWORD=... pta-load sign-in \
//!     --url https://127.0.0.1:8445 --ca service-ca.pem --tenant bench \
//!     --users 'bulk{00000..00299}' --bad-users 'nobody{00000..99999}' --bad-ratio 0.1 \
//!     --workers 16 --duration 20s [--rate 2000] [--json]
//! PTA_LOAD_PASSWORD=... pta-load raw-ldap --url ldap://127.0.0.1:3890 --ca ldap-ca.pem \
//!     --users 'uid=bulk{00000..00299},ou=bulk,dc=example,dc=test' --workers 4 --duration 10s
//! ```
//!
//! Secrets come from the environment only (`PTA_LOAD_API_KEY`, `PTA_LOAD_PASSWORD`), never
//! from the command line. Without `--rate` each worker sends its next request when the last
//! one is answered (closed loop, for saturation); with `--rate R` requests are scheduled at
//! `R` per second and latency counts from the scheduled time (open loop, no coordinated
//! omission). A run stops at `--count` requests or after `--duration`, whichever comes first,
//! and never runs longer than 10 minutes or past 10 million requests.
//!
//! Exit codes: 0 when every request got the expected answer; 1 on any error or unexpected
//! verdict (or when no request completed, or the summary could not be written); 2 on a usage
//! error.

mod http;
mod ldap;
mod plan;
mod report;
mod users;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::plan::Limits;
use crate::report::Summary;
use crate::users::UserSet;

/// Load generator for pta-service (sign-ins) and LDAP directories (raw rebinds).
#[derive(Parser)]
#[command(name = "pta-load", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign-ins through the service's HTTP API (`POST /v1/tenants/{tenant}/sign-in`).
    SignIn(SignInArgs),
    /// Simple binds on ldap3 connections held open (one per worker), rebinding the users.
    RawLdap(RawLdapArgs),
}

#[derive(Args)]
struct Common {
    /// Concurrent workers (each holds one keep-alive connection).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Stop after this many requests (at most 10,000,000).
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this long (`10s`, `500ms`, `2m`; at most 10 minutes; default 10s without
    /// `--count`).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Open loop: schedule this many requests per second in all.
    #[arg(long)]
    rate: Option<f64>,
    /// Timeout of one request.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    timeout: Duration,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the summary as one JSON object on standard output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SignInArgs {
    #[command(flatten)]
    common: Common,
    /// The API listener: `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long)]
    url: String,
    /// PEM file with the service CA (required for https).
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// Tenant id or name.
    #[arg(long)]
    tenant: String,
    /// Logins whose password is `PTA_LOAD_PASSWORD`: a pattern `pre{00000..00299}post` or
    /// `@FILE` (one login per line).
    #[arg(long)]
    users: String,
    /// Share of requests sent with a wrong password (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    bad_ratio: f64,
    /// Logins used for the wrong-password requests (default: `--users`). Point them at
    /// users nobody signs in as correctly, or lockout will turn good sign-ins into
    /// `account_locked`.
    #[arg(long)]
    bad_users: Option<String>,
}

#[derive(Args)]
struct RawLdapArgs {
    #[command(flatten)]
    common: Common,
    /// `ldap://HOST:PORT` (StartTLS when `--ca` is given) or `ldaps://HOST:PORT`.
    #[arg(long)]
    url: String,
    /// PEM file with the directory's CA.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
    /// Bind names with the password `PTA_LOAD_PASSWORD`: a pattern or `@FILE`.
    #[arg(long)]
    users: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = match &cli.command {
        Command::SignIn(a) => &a.common,
        Command::RawLdap(a) => &a.common,
    };
    let limits = match Limits::new(common.count, common.duration, common.rate, common.workers) {
        Ok(l) => l,
        Err(e) => return usage(&e),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(common.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failure(&format!("cannot start the runtime: {e}")),
    };
    let json = common.json;
    let result = rt.block_on(async {
        match &cli.command {
            Command::SignIn(a) => sign_in(a, limits).await,
            Command::RawLdap(a) => raw_ldap(a, limits).await,
        }
    });
    match result {
        Ok(summary) => {
            let printed = summary.print(json);
            if printed && summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(Failure::Usage(e)) => usage(&e),
        Err(Failure::Run(e)) => failure(&e),
    }
}

enum Failure {
    Usage(String),
    Run(String),
}

fn secret_env(name: &str) -> Result<String, Failure> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Failure::Usage(format!("set {name} in the environment")))
}

async fn sign_in(a: &SignInArgs, limits: Limits) -> Result<Summary, Failure> {
    if !(0.0..=1.0).contains(&a.bad_ratio) {
        return Err(Failure::Usage("--bad-ratio must be within 0 to 1".into()));
    }
    let good = UserSet::parse(&a.users).map_err(Failure::Usage)?;
    let bad = match &a.bad_users {
        Some(p) => UserSet::parse(p).map_err(Failure::Usage)?,
        None => good.clone(),
    };
    let target = http::Target::new(
        &a.url,
        a.ca.as_deref(),
        &a.tenant,
        secret_env("PTA_LOAD_API_KEY")?,
        secret_env("PTA_LOAD_PASSWORD")?,
        a.common.timeout,
    )
    .map_err(Failure::Usage)?;
    let mix = http::Mix {
        good,
        bad,
        bad_ratio: a.bad_ratio,
    };
    let (plan, stats) = http::run(Arc::new(target), Arc::new(mix), limits, a.common.workers)
        .await
        .map_err(Failure::Run)?;
    Ok(Summary::new("sign-in", &plan, a.common.workers, stats))
}

async fn raw_ldap(a: &RawLdapArgs, limits: Limits) -> Result<Summary, Failure> {
    let users = UserSet::parse(&a.users).map_err(Failure::Usage)?;
    let target = ldap::Target::new(
        &a.url,
        a.ca.as_deref(),
        secret_env("PTA_LOAD_PASSWORD")?,
        a.common.timeout,
    )
    .map_err(Failure::Usage)?;
    let (plan, stats) = ldap::run(Arc::new(target), Arc::new(users), limits, a.common.workers)
        .await
        .map_err(Failure::Run)?;
    Ok(Summary::new("raw-ldap", &plan, a.common.workers, stats))
}

/// `250ms`, `10s`, `2m`, or bare seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("not a duration: {s} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: {s}"))
}

fn usage(e: &str) -> ExitCode {
    eprintln!("pta-load: {e}");
    ExitCode::from(2)
}

fn failure(e: &str) -> ExitCode {
    eprintln!("pta-load: {e}");
    ExitCode::FAILURE
}
