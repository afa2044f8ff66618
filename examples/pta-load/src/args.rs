//! The command line (and the secrets, which come from the environment only).

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::Failure;

/// Load generator for pta-service (sign-ins) and LDAP directories (raw rebinds).
#[derive(Parser)]
#[command(name = "pta-load", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Sign-ins through the service's HTTP API (`POST /v1/tenants/{tenant}/sign-in`).
    SignIn(SignInArgs),
    /// Simple binds on ldap3 connections held open (one per worker), rebinding the users.
    RawLdap(RawLdapArgs),
}

#[derive(Args)]
pub(crate) struct Common {
    /// Concurrent workers (each holds one keep-alive connection).
    #[arg(long, default_value_t = 8)]
    pub(crate) workers: usize,
    /// Stop after this many requests (at most 10,000,000).
    #[arg(long)]
    pub(crate) count: Option<u64>,
    /// Stop after this long (`10s`, `500ms`, `2m`; at most 10 minutes; default 10s without
    /// `--count`).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Open loop: schedule this many requests per second in all.
    #[arg(long)]
    pub(crate) rate: Option<f64>,
    /// Timeout of one request.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub(crate) timeout: Duration,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    pub(crate) threads: usize,
    /// Print the summary as one JSON object on standard output.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct SignInArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The API listener: `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long)]
    pub(crate) url: String,
    /// PEM file with the service CA (required for https).
    #[arg(long)]
    pub(crate) ca: Option<std::path::PathBuf>,
    /// Tenant id or name.
    #[arg(long)]
    pub(crate) tenant: String,
    /// Logins whose password is `PTA_LOAD_PASSWORD`: a pattern `pre{00000..00299}post` or
    /// `@FILE` (one login per line).
    #[arg(long)]
    pub(crate) users: String,
    /// Share of requests sent with a wrong password (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    pub(crate) bad_ratio: f64,
    /// Logins used for the wrong-password requests (default: `--users`). Point them at
    /// users nobody signs in as correctly, or lockout will turn good sign-ins into
    /// `account_locked`.
    #[arg(long)]
    pub(crate) bad_users: Option<String>,
}

#[derive(Args)]
pub(crate) struct RawLdapArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// `ldap://HOST:PORT` (StartTLS when `--ca` is given) or `ldaps://HOST:PORT`.
    #[arg(long)]
    pub(crate) url: String,
    /// PEM file with the directory's CA.
    #[arg(long)]
    pub(crate) ca: Option<std::path::PathBuf>,
    /// Bind names with the password `PTA_LOAD_PASSWORD`: a pattern or `@FILE`.
    #[arg(long)]
    pub(crate) users: String,
}

/// A secret from the environment variable `name` (never the command line); a usage error when
/// it is unset or empty.
pub(crate) fn secret_env(name: &str) -> Result<String, Failure> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Failure::Usage(format!("set {name} in the environment")))
}

/// A duration as every `pta` tool reads one (humantime: `250ms`, `10s`, `2m`, `1h 30m`), or
/// bare seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: {s}"));
    }
    humantime_serde::re::humantime::parse_duration(s)
        .map_err(|_| format!("not a duration: {s} (for example 250ms, 10s, 2m)"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_like_every_pta_tool() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1_500)));
        for bad in ["", "ten seconds", "-1", "5 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
