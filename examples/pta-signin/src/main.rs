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

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use zeroize::Zeroizing;

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

/// A failure before a verdict: exit code and message.
struct Failure {
    code: u8,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn error(message: impl Into<String>) -> Failure {
    Failure {
        code: 3,
        message: message.into(),
    }
}

/// How the service is reached.
struct Target {
    host: String,
    port: u16,
    path_prefix: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("pta-signin: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<u8, Failure> {
    let target = target(&cli)?;
    let api_key = api_key(&cli)?;
    let password = read_password(&cli.user)?;
    let body = request_body(&cli, &password)?;
    drop(password);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error(format!("cannot start the async runtime: {e}")))?;
    let path = format!(
        "{}/v1/tenants/{}/sign-in",
        target.path_prefix,
        percent_encode(&cli.tenant)
    );
    let (status, text) = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(cli.timeout),
            post(&target, &path, &api_key, body),
        )
        .await
        .map_err(|_| error(format!("no answer within {} s", cli.timeout)))?
    })?;
    report(status, &text)
}

/// Parses the URL and builds the TLS settings.
fn target(cli: &Cli) -> Result<Target, Failure> {
    let uri: Uri = cli
        .service
        .parse()
        .map_err(|_| usage(format!("--service {:?} is not a URL", cli.service)))?;
    let scheme = uri.scheme_str().unwrap_or_default();
    let host = uri
        .host()
        .ok_or_else(|| usage("--service needs a host, like https://pta.example.com"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let path_prefix = uri.path().trim_end_matches('/').to_owned();
    if uri.query().is_some() {
        return Err(usage("--service must not have a query"));
    }
    match scheme {
        "https" => {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(|e| error(format!("TLS set-up: {e}")))?;
            let mut config = if let Some(path) = &cli.ca_file {
                let mut roots = RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| usage(format!("--ca-file {}: {e}", path.display())))?;
                for cert in certs {
                    let cert =
                        cert.map_err(|e| usage(format!("--ca-file {}: {e}", path.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| usage(format!("--ca-file {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(usage(format!(
                        "--ca-file {}: no certificate in the file",
                        path.display()
                    )));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            } else if let Some(hex) = &cli.ca_sha256 {
                let pin = parse_pin(hex)?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(
                        pta_cert::PinnedServerVerifier::new(pin, provider),
                    ))
                    .with_no_client_auth()
            } else {
                return Err(usage(
                    "an https:// service needs --ca-file PEM or --ca-sha256 HEX (the service CA)",
                ));
            };
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Target {
                port: uri.port_u16().unwrap_or(443),
                host,
                path_prefix,
                tls: Some(Arc::new(config)),
            })
        }
        "http" => {
            if !cli.insecure_loopback_http {
                return Err(usage(
                    "an http:// service is refused: use https://, or --insecure-loopback-http \
                     for a service on 127.0.0.1",
                ));
            }
            if host != "127.0.0.1" {
                return Err(usage(
                    "--insecure-loopback-http allows only http://127.0.0.1[:PORT]",
                ));
            }
            Ok(Target {
                port: uri.port_u16().unwrap_or(80),
                host,
                path_prefix,
                tls: None,
            })
        }
        _ => Err(usage(format!(
            "--service {:?}: the scheme must be https:// (or http:// with --insecure-loopback-http)",
            cli.service
        ))),
    }
}

fn parse_pin(hex: &str) -> Result<[u8; 32], Failure> {
    let hex = hex.trim();
    let bad = || usage("--ca-sha256 must be 64 hexadecimal digits");
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut pin = [0u8; 32];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

/// The API key: the first line of --api-key-file, else PTA_API_KEY.
fn api_key(cli: &Cli) -> Result<Zeroizing<String>, Failure> {
    let key = if let Some(path) = &cli.api_key_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--api-key-file {}: {e}", path.display())))?,
        );
        Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_owned())
    } else {
        match std::env::var("PTA_API_KEY") {
            Ok(value) => Zeroizing::new(value.trim().to_owned()),
            Err(_) => {
                return Err(usage(
                    "no API key: give --api-key-file FILE or set PTA_API_KEY",
                ));
            }
        }
    };
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(usage("the API key must be non-empty visible ASCII"));
    }
    Ok(key)
}

/// The password: a no-echo prompt on a terminal, else the first line of standard input.
fn read_password(user: &str) -> Result<Zeroizing<String>, Failure> {
    let stdin = std::io::stdin();
    let mut line = Zeroizing::new(String::with_capacity(1024));
    if stdin.is_terminal() {
        // Echo off before the prompt: input typed (or pasted) as soon as the prompt shows
        // must not be echoed.
        let echo_off = EchoOff::new(&stdin);
        eprint!("Password for {user}: ");
        let _ = std::io::stderr().flush();
        let read = stdin.lock().read_line(&mut line);
        drop(echo_off);
        eprintln!();
        read.map_err(|e| error(format!("cannot read the password: {e}")))?;
    } else {
        let mut all = Zeroizing::new(Vec::with_capacity(1024));
        stdin
            .lock()
            .take(64 * 1024)
            .read_to_end(&mut all)
            .map_err(|e| error(format!("cannot read the password from standard input: {e}")))?;
        let text = std::str::from_utf8(&all)
            .map_err(|_| usage("the password on standard input is not UTF-8"))?;
        line.push_str(text.split('\n').next().unwrap_or_default());
    }
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    if line.is_empty() {
        return Err(usage("empty password"));
    }
    Ok(line)
}

/// Terminal echo turned off until dropped.
struct EchoOff<'a> {
    fd: &'a std::io::Stdin,
    saved: Option<rustix::termios::Termios>,
}

impl<'a> EchoOff<'a> {
    fn new(fd: &'a std::io::Stdin) -> Self {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let saved = tcgetattr(fd).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = tcsetattr(fd, OptionalActions::Now, &quiet);
        }
        Self { fd, saved }
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ =
                rustix::termios::tcsetattr(self.fd, rustix::termios::OptionalActions::Now, saved);
        }
    }
}

/// The JSON body, written into a buffer that never reallocates (no stray copies of the
/// password) and is wiped when dropped.
fn request_body(cli: &Cli, password: &str) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let request = serde_json::json!({
        "login": cli.user,
        "client_ip": cli.client_ip.to_string(),
        "location": cli.location,
    });
    let mut body = Zeroizing::new(Vec::with_capacity(
        password.len() * 6
            + cli.user.len() * 6
            + cli.location.as_ref().map_or(0, |l| l.len() * 6)
            + 256,
    ));
    let encode = |_| error("cannot encode the request");
    body.extend_from_slice(b"{\"password\":");
    serde_json::to_writer(&mut *body, password).map_err(encode)?;
    for (key, value) in request.as_object().into_iter().flatten() {
        if value.is_null() {
            continue;
        }
        body.push(b',');
        serde_json::to_writer(&mut *body, key).map_err(encode)?;
        body.push(b':');
        serde_json::to_writer(&mut *body, value).map_err(encode)?;
    }
    body.push(b'}');
    Ok(body)
}

async fn post(
    target: &Target,
    path: &str,
    api_key: &str,
    body: Zeroizing<Vec<u8>>,
) -> Result<(u16, Bytes), Failure> {
    let where_ = format!("{}:{}", target.host, target.port);
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| error(format!("cannot connect to {where_}: {e}")))?;
    let mut authorization = Zeroizing::new(String::with_capacity(api_key.len() + 8));
    authorization.push_str("Bearer ");
    authorization.push_str(api_key);
    let request = Request::post(path)
        .header(hyper::header::HOST, where_.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::AUTHORIZATION, authorization.as_str())
        .body(Full::new(Bytes::from_owner(body)))
        .map_err(|_| usage(format!("cannot build a request for {path:?}")))?;
    drop(authorization);
    match &target.tls {
        Some(config) => {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| usage(format!("{:?} is not a host name", target.host)))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                .connect(name, tcp)
                .await
                .map_err(|e| error(format!("TLS with {where_}: {e}")))?;
            exchange(TokioIo::new(tls), request).await
        }
        None => exchange(TokioIo::new(tcp), request).await,
    }
}

async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<(u16, Bytes), Failure>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| error(format!("HTTP: {e}")))?;
    let driver = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| error(format!("HTTP: {e}")))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), 1024 * 1024)
        .collect()
        .await
        .map_err(|e| error(format!("reading the answer: {e}")))?
        .to_bytes();
    driver.abort();
    Ok((status, body))
}

/// Prints the answer; the exit code for a verdict, or the failure.
fn report(status: u16, text: &[u8]) -> Result<u8, Failure> {
    let json: serde_json::Value = serde_json::from_slice(text)
        .map_err(|_| error(format!("HTTP {status} with a body that is not JSON")))?;
    let field = |name: &str| json.get(name).and_then(|v| v.as_str()).unwrap_or("");
    if status != 200 {
        let mut message = format!("HTTP {status} {}: {}", field("error"), field("message"));
        if let Some(agent_error) = json.get("agent_error").and_then(|v| v.as_str()) {
            message.push_str(&format!(" (agent error: {agent_error})"));
        }
        if let Some(retry) = json.get("retry_after_secs").and_then(|v| v.as_u64()) {
            message.push_str(&format!(" (retry after {retry} s)"));
        }
        return Err(error(message));
    }
    let verdict = field("verdict");
    if verdict.is_empty() {
        return Err(error("HTTP 200 without a verdict"));
    }
    println!("verdict:    {verdict}");
    let warnings: Vec<String> = json
        .get("warnings")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .map(|w| {
            let kind = w.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown");
            match w.get("value") {
                Some(value) => format!("{kind}={value}"),
                None => kind.to_owned(),
            }
        })
        .collect();
    println!(
        "warnings:   {}",
        if warnings.is_empty() {
            "none".to_owned()
        } else {
            warnings.join(", ")
        }
    );
    let decided_by = field("decided_by");
    match decided_by {
        "lockout" => {
            let until = json
                .get("locked_until_ms")
                .and_then(|v| v.as_u64())
                .map_or_else(String::new, |ms| format!(" until {ms} (Unix ms)"));
            println!(
                "decided by: lockout (cloud smart lockout{until}; the directory was not asked)"
            );
        }
        "repeat_rejected" => {
            println!("decided by: repeat_rejected (a recent repeat of a rejected password)");
        }
        other => println!("decided by: {other}"),
    }
    println!(
        "agent:      {}",
        json.get("agent_id").and_then(|v| v.as_str()).unwrap_or("-")
    );
    println!(
        "latency:    {} ms",
        json.get("latency_ms").and_then(|v| v.as_u64()).unwrap_or(0)
    );
    println!("request id: {}", field("request_id"));
    Ok(if verdict == "success" { 0 } else { 1 })
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved characters).
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
