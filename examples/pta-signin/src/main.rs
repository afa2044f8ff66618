//! `pta-signin`: checks one user's password through a pass-through authentication service's
//! sign-in API (`POST /v1/tenants/{tenant}/sign-in`, docs/SERVICE.md) and prints the verdict.
//!
//! ```text
//! pta-signin --service URL --tenant T --user U [--client-ip IP] [--location L]
//!            [--api-key-file F | env PTA_API_KEY]
//!            [--ca-file PEM | --ca-sha256 HEX | --insecure-loopback-http]
//! ```
//!
//! The password comes from a prompt that does not echo (standard input is a terminal) or from
//! standard input (a pipe or a file: the first line), never from the command line. Exit codes:
//! 0 success verdict, 1 any other verdict, 2 usage, 3 no verdict (HTTP error, no agent,
//! timeout, TLS or connection failure).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use pta_client::{
    ApiKey, CaPin, Client, ClientConfig, ConfigError, PlainHttp, ServiceUrl, SignIn, Trust,
};

mod messages;

/// Checks one user's password through the sign-in API of a pta service.
///
/// The password is read from a prompt that does not echo when standard input is a terminal,
/// otherwise from standard input (its first line); it is never taken from the command line.
/// The API key comes from --api-key-file (first line) or the PTA_API_KEY environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "pta-signin",
    version,
    about,
    long_about,
    after_help = "Exit codes:\n  0  the verdict is success\n  1  any other verdict (invalid_credentials, account_locked, ...)\n  2  usage error (bad or missing option, no API key, no password)\n  3  no verdict: HTTP or API error (no agent available, timeout, unauthorized, ...), TLS or connection failure"
)]
struct Cli {
    /// The service's API base URL, e.g. https://pta.example.com:8445
    #[arg(long, value_name = "URL")]
    service: String,
    /// The tenant, by name or id.
    #[arg(long, value_name = "TENANT")]
    tenant: String,
    /// The login to check, e.g. alice@contoso.com.
    #[arg(long, value_name = "LOGIN")]
    user: String,
    /// The end user's address as the front end saw it (lockout source).
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    client_ip: IpAddr,
    /// A location key (device id, network); default: the client address.
    #[arg(long, value_name = "KEY")]
    location: Option<String>,
    /// File whose first line is the front-end API key (default: the PTA_API_KEY variable).
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
    /// Trust this CA certificate (PEM) for the service's TLS certificate.
    #[arg(long, value_name = "PEM", group = "trust")]
    ca_file: Option<PathBuf>,
    /// Trust the service only through the CA certificate with this SHA-256 (64 hex digits: the
    /// pin at the end of a join token, printed by pta-demo).
    #[arg(long, value_name = "HEX", group = "trust")]
    ca_sha256: Option<String>,
    /// Allow an http:// URL; only for a service on 127.0.0.1 (a TLS-terminating proxy's
    /// backend, a test).
    #[arg(long, group = "trust")]
    insecure_loopback_http: bool,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err((code, message)) => {
            eprintln!("pta-signin: {message}");
            ExitCode::from(code)
        }
    }
}

/// The exit code of the verdict, or the exit code and message of the failure.
fn run(cli: &Cli) -> Result<u8, (u8, String)> {
    let usage = |e: ConfigError| messages::config_failure(e, &cli.service);
    let plain_http = if cli.insecure_loopback_http {
        PlainHttp::Loopback
    } else {
        PlainHttp::Refuse
    };
    let service = ServiceUrl::parse(&cli.service, plain_http).map_err(usage)?;
    let trust = match (&cli.ca_file, &cli.ca_sha256) {
        (Some(path), _) => Some(Trust::CaFile(path.clone())),
        (None, Some(hex)) => Some(Trust::CaSha256(CaPin::from_hex(hex).map_err(usage)?)),
        (None, None) => None,
    };
    let api_key = match &cli.api_key_file {
        Some(path) => ApiKey::from_file(path),
        None => ApiKey::from_env("PTA_API_KEY"),
    };
    let mut config = ClientConfig::new(service, &cli.tenant, api_key.map_err(usage)?);
    config.trust = trust;
    config.timeout = Duration::from_secs(cli.timeout);
    let client = Client::new(config).map_err(usage)?;
    let password = pta_client::read_password(&cli.user).map_err(usage)?;
    let mut request = SignIn::new(&cli.user, &password, cli.client_ip);
    if let Some(location) = &cli.location {
        request = request.with_location(location);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (3, format!("cannot start the async runtime: {e}")))?;
    let answer = runtime
        .block_on(client.sign_in(&request))
        .map_err(|e| (3, e.to_string()))?;
    println!("{answer}");
    Ok(if answer.is_success() { 0 } else { 1 })
}
