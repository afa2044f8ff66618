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

mod args;
mod http;
mod ldap;
mod plan;
mod report;
mod users;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::plan::Limits;

/// Why a run did not happen: a usage error (exit code 2) or a failure (exit code 1).
pub(crate) enum Failure {
    Usage(String),
    Run(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let common = match &cli.command {
        Command::SignIn(a) => &a.common,
        Command::RawLdap(a) => &a.common,
    };
    let limits = match Limits::new(common.count, common.duration, common.rate, common.workers) {
        Ok(l) => l,
        Err(e) => return exit(Failure::Usage(e)),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(common.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return exit(Failure::Run(format!("cannot start the runtime: {e}"))),
    };
    let result = rt.block_on(async {
        match &cli.command {
            Command::SignIn(a) => http::sign_in(a, limits).await,
            Command::RawLdap(a) => ldap::raw_ldap(a, limits).await,
        }
    });
    match result {
        Ok(summary) => {
            let printed = summary.print(common.json);
            if printed && summary.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(failure) => exit(failure),
    }
}

fn exit(failure: Failure) -> ExitCode {
    let (code, message) = match failure {
        Failure::Usage(m) => (ExitCode::from(2), m),
        Failure::Run(m) => (ExitCode::FAILURE, m),
    };
    eprintln!("pta-load: {message}");
    code
}
