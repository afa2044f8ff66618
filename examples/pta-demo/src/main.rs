//! `pta-demo`: the whole system on one machine in one command, no set-up.
//!
//! It starts an embedded service (SQLite in a temporary directory, default key sizes), its
//! registration and API listeners on 127.0.0.1, creates a tenant and join tokens, registers two
//! in-process agents through the real HTTPS registration endpoint, runs them on a sample
//! in-memory directory (or on an LDAP server with `--ldap-url`), signs in sample users showing
//! every verdict, demonstrates smart lockout, then keeps serving and prints how to try
//! `pta-signin` against it. Ctrl-C (or SIGTERM) stops it: agents drain, the service shuts down,
//! the temporary directory is removed. `--once` runs the showcase and exits: 0 when every
//! verdict was the expected one, 1 otherwise.

mod sample;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use pta_directory::Directory;
use pta_service::{
    ClientContext, Clock, DecidedBy, Password, Service, ServiceOptions, SignInResult, SystemClock,
    TenantId,
};
use pta_service_http::{self as http, Api, ApiAuth, ApiOptions, HttpServer, RegistrationOptions};
use pta_store_sqlite::SqliteStore;
use sample::{CASES, LOCKOUT_USER, SAMPLE_PASSWORD, SampleDirectory, TRY_USER, WRONG_PASSWORD};
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;
use zeroize::Zeroizing;

/// The tenant the demo creates.
const TENANT: &str = "demo";

/// Runs the pass-through authentication demo: an embedded service and two agents on
/// 127.0.0.1, sample sign-ins showing every verdict and smart lockout, then serving for
/// pta-signin until Ctrl-C.
///
/// Sample users (in-memory directory): alice, ivan (success, ivan with an expiry warning),
/// bob (account_locked), carol (password_expired), dave (must_change_password), erin
/// (account_disabled), frank (account_expired), grace (logon_hours_restricted), heidi
/// (workstation_restricted), mallory (the lockout showcase), all @demo.test, all with the demo
/// password "Demo-Passw0rd-2026". Logs: PTA_LOG (default "warn").
#[derive(Debug, Parser)]
#[command(name = "pta-demo", version, about, long_about)]
struct Cli {
    /// Run the showcase, then exit (0 if every verdict was the expected one, 1 otherwise).
    #[arg(long)]
    once: bool,
    /// Port of the API listener on 127.0.0.1 (default: a free port).
    #[arg(long, value_name = "PORT")]
    api_port: Option<u16>,
    /// Use this LDAP server instead of the sample directory (ldaps:// or ldap:// with StartTLS);
    /// the verdict showcase is skipped (the demo does not know your users).
    #[arg(long, value_name = "URL")]
    ldap_url: Option<String>,
    /// CA certificate (PEM) of the LDAP server.
    #[arg(long, value_name = "PEM", requires = "ldap_url")]
    ldap_ca_file: Option<PathBuf>,
    /// "none" for plain LDAP without TLS (lab only); default: TLS.
    #[arg(long, value_name = "auto|none", requires = "ldap_url")]
    ldap_tls: Option<String>,
    /// Directory flavour: detect (default), ad or openldap.
    #[arg(long, value_name = "DIALECT", requires = "ldap_url")]
    ldap_dialect: Option<String>,
    /// Service account DN for search-then-bind.
    #[arg(long, value_name = "DN", requires = "ldap_url")]
    ldap_bind_dn: Option<String>,
    /// File whose first line is the service account's password.
    #[arg(long, value_name = "FILE", requires = "ldap_bind_dn")]
    ldap_bind_password_file: Option<PathBuf>,
    /// Search base for logins (default: from the root DSE).
    #[arg(long, value_name = "DN", requires = "ldap_url")]
    ldap_base_dn: Option<String>,
    /// Bind DN with one {login}, e.g. "uid={login},ou=people,dc=example,dc=org": one bind per
    /// sign-in, no search, no service account.
    #[arg(long, value_name = "TEMPLATE", requires = "ldap_url")]
    ldap_dn_template: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(std::env::var("PTA_LOG").unwrap_or_else(|_| "warn".into()))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pta-demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("pta-demo: {message}");
            ExitCode::from(2)
        }
    }
}

/// An error and its causes, `a: b: c` (none of the crates' errors holds a secret).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// The running pieces, stopped in order by [`Demo::stop`].
struct Demo {
    service: Service,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    temp: tempfile::TempDir,
}

impl Demo {
    /// Agents drain and stop, then the HTTP listeners, then the service; the temporary
    /// directory goes last.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .is_err()
            {
                eprintln!("pta-demo: a task did not stop within 20 s");
            }
        }
        self.service.shutdown().await;
        drop(self.service);
        let path = self.temp.path().to_path_buf();
        if let Err(e) = self.temp.close() {
            eprintln!("pta-demo: cannot remove {}: {e}", path.display());
        }
    }
}

async fn run(cli: Cli) -> Result<bool, String> {
    let started = Instant::now();
    // Signals are caught from the start, so an interrupt during set-up still cleans up.
    let (signalled, signal) = watch::channel::<Option<&'static str>>(None);
    let mut signals = Signals::new().map_err(|e| format!("cannot watch signals: {e}"))?;
    tokio::spawn(async move {
        let name = signals.next().await;
        let _ = signalled.send(Some(name));
    });
    let temp = tempfile::Builder::new()
        .prefix("pta-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let store = SqliteStore::open(temp.path().join("pta.sqlite3"))
        .map_err(|e| format!("cannot open the store: {}", chain(&e)))?;
    let service = Service::start(
        Arc::new(store),
        ServiceOptions::default(),
        Arc::new(SystemClock),
    )
    .await
    .map_err(|e| format!("cannot start the service: {}", chain(&e)))?;
    let (stop, stopped) = watch::channel(false);
    let mut demo = Demo {
        service: service.clone(),
        stop,
        tasks: Vec::new(),
        temp,
    };
    let mut interrupted = signal.clone();
    // Set once the demo serves: from then on a signal is the normal way to stop (exit 0),
    // whichever branch below sees it first.
    let serving = Arc::new(AtomicBool::new(false));
    let result = tokio::select! {
        // Polled first: once serving, the signal ends `showcase_and_serve` itself (exit 0).
        biased;
        result = showcase_and_serve(&cli, &service, &mut demo, stopped, signal, started, &serving) => result,
        name = interrupted.wait_for(Option::is_some) => {
            let name = name.ok().and_then(|name| *name).unwrap_or("signal");
            // Serving: the same line as `showcase_and_serve` prints, whichever sees it first.
            if serving.load(Ordering::SeqCst) {
                print_stopping(name);
                Ok(true)
            } else {
                println!("pta-demo: interrupted: stopping");
                Ok(false)
            }
        }
    };
    drop(service);
    demo.stop().await;
    result
}

async fn wait_stop(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn showcase_and_serve(
    cli: &Cli,
    service: &Service,
    demo: &mut Demo,
    stopped: watch::Receiver<bool>,
    mut signal: watch::Receiver<Option<&'static str>>,
    started: Instant,
    serving: &AtomicBool,
) -> Result<bool, String> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let api: Arc<dyn Api> = Arc::new(service.clone());
    let tls = service.https_server_config();

    // Listeners: registration (free port) and API (free port or --api-port), HTTPS.
    let registration = HttpServer::bind(
        SocketAddr::new(loopback, 0),
        Some(Arc::clone(&tls)),
        http::registration_router(Arc::clone(&api), RegistrationOptions::default()),
    )
    .await
    .map_err(|e| format!("cannot listen for registrations: {e}"))?;
    let registration_addr = registration
        .local_addr()
        .map_err(|e| format!("registration listener: {e}"))?;
    let api_key = random_secret("pta-demo-key-").map_err(|e| format!("no randomness: {e}"))?;
    let api_listen = SocketAddr::new(loopback, cli.api_port.unwrap_or(0));
    let api_server = HttpServer::bind(
        api_listen,
        Some(tls),
        http::api_router(
            api,
            ApiOptions::new(ApiAuth::new(None, [api_key.as_bytes()])),
        ),
    )
    .await
    .map_err(|e| format!("cannot listen on {api_listen}: {e}"))?;
    let api_addr = api_server
        .local_addr()
        .map_err(|e| format!("API listener: {e}"))?;
    for server in [registration, api_server] {
        let stopped = stopped.clone();
        demo.tasks.push(tokio::spawn(async move {
            if let Err(e) = server.run(wait_stop(stopped)).await {
                eprintln!("pta-demo: HTTP listener failed: {e}");
            }
        }));
    }

    // Tenant, tokens, two agents registered through the HTTPS endpoint.
    let tenant = service
        .create_tenant(TENANT)
        .await
        .map_err(|e| format!("cannot create the tenant: {}", chain(&e)))?;
    let sample = match &cli.ldap_url {
        None => Some(Arc::new(
            SampleDirectory::new().map_err(|e| format!("sample directory: {}", chain(&e)))?,
        )),
        Some(_) => None,
    };
    let registration_url = format!("https://{registration_addr}");
    let mut registrations = Vec::new();
    for n in 1..=2 {
        let token = service
            .create_token(&tenant.id, None)
            .await
            .map_err(|e| format!("cannot create a join token: {}", chain(&e)))?;
        let token = pta_agent::JoinToken::parse(&token)
            .map_err(|e| format!("join token: {}", chain(&e)))?;
        let options = pta_agent::RegisterOptions::new(
            registration_url.clone(),
            token,
            demo.temp.path().join(format!("agent-{n}")),
        );
        registrations.push(async move { pta_agent::register(&options).await });
    }
    let mut agent_ids = Vec::new();
    for result in futures_join_all(registrations).await {
        let info = result.map_err(|e| format!("agent registration failed: {}", chain(&e)))?;
        agent_ids.push(info.agent_id);
    }
    for n in 1..=2 {
        let dir = demo.temp.path().join(format!("agent-{n}"));
        let agent = match (&sample, &cli.ldap_url) {
            (Some(sample), _) => {
                let directory: Arc<dyn Directory> = Arc::clone(sample) as Arc<dyn Directory>;
                pta_agent::Agent::with_directory(&dir, pta_agent::Config::default(), directory)
            }
            (None, _) => pta_agent::Agent::new(&dir, ldap_config(cli)?),
        }
        .map_err(|e| format!("agent {n}: {}", chain(&e)))?;
        let stopped = stopped.clone();
        demo.tasks.push(tokio::spawn(async move {
            if let Err(e) = agent.run(wait_stop(stopped)).await {
                eprintln!("pta-demo: agent {n} stopped: {}", chain(&e));
            }
        }));
    }
    wait_connected(service, &tenant.id, 2).await?;
    let fingerprint = service.service_ca().fingerprint();
    println!(
        "pta-demo: service, tenant {TENANT:?} and two agents ({}, {}) ready in {} ms \
         (RSA-3072 keys, SQLite in {})",
        agent_ids[0],
        agent_ids[1],
        started.elapsed().as_millis(),
        demo.temp.path().display(),
    );

    let mut all_as_expected = true;
    if let Some(sample) = &sample {
        all_as_expected &= verdict_table(service, &tenant.id).await;
        all_as_expected &= lockout_showcase(service, &tenant.id, sample).await;
    } else {
        println!(
            "pta-demo: --ldap-url given: no sample sign-ins (the demo does not know your users)"
        );
    }
    if cli.once {
        let summary = if sample.is_none() {
            "the agents are connected to the directory"
        } else if all_as_expected {
            "every verdict was the expected one"
        } else {
            "SOME VERDICTS DIFFERED FROM THE EXPECTED ONES"
        };
        println!("pta-demo: {summary}");
        return Ok(all_as_expected);
    }

    let try_user = if sample.is_some() {
        TRY_USER
    } else {
        "USER@YOUR.DOMAIN"
    };
    println!();
    println!("The demo keeps serving on 127.0.0.1. Try it with pta-signin (another terminal):");
    println!();
    println!("  service:    https://{api_addr}");
    println!("  tenant:     {TENANT}");
    println!("  user:       {try_user}");
    if sample.is_some() {
        println!(
            "  password:   the demo password from `pta-demo --help` (every sample user has it)"
        );
    }
    println!(
        "  api key:    {}   (generated for this run only: a demo key, printed once)",
        api_key.as_str()
    );
    println!("  ca sha256:  {fingerprint}");
    println!();
    println!("  export PTA_API_KEY='{}'", api_key.as_str());
    println!(
        "  cargo run --release -p pta-signin-cli -- --service https://{api_addr} --tenant {TENANT} \
         --user {try_user} --ca-sha256 {fingerprint}"
    );
    println!(
        "  (pta-signin prompts for the password without echo, or reads it from standard input)"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    serving.store(true, Ordering::SeqCst);
    drop(api_key);
    let signal = match signal.wait_for(Option::is_some).await {
        Ok(name) => name.unwrap_or("signal"),
        Err(_) => "signal",
    };
    print_stopping(signal);
    Ok(true)
}

/// What the serving demo prints when a signal stops it.
fn print_stopping(signal: &str) {
    println!(
        "pta-demo: {signal}: stopping (agents drain, the service shuts down, the temporary directory is removed)"
    );
}

/// Polls `futures` one after another after starting them all (they run as tasks).
async fn futures_join_all<F, T>(futures: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(value) => out.push(value),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

/// Waits until `count` agents of the tenant are connected (at most 30 s).
async fn wait_connected(service: &Service, tenant: &TenantId, count: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let agents = service
            .agents(tenant)
            .await
            .map_err(|e| format!("agents: {}", chain(&e)))?;
        if agents.iter().filter(|a| a.connections > 0).count() >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the agents did not connect within 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent configuration for `--ldap-url`.
fn ldap_config(cli: &Cli) -> Result<pta_agent::Config, String> {
    let mut ldap = toml::Table::new();
    let url = cli.ldap_url.clone().unwrap_or_default();
    ldap.insert("urls".into(), toml::Value::Array(vec![url.into()]));
    let mut set = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            ldap.insert(key.into(), value.into());
        }
    };
    set("tls", cli.ldap_tls.clone());
    set("dialect", cli.ldap_dialect.clone());
    set("bind_dn", cli.ldap_bind_dn.clone());
    set("base_dn", cli.ldap_base_dn.clone());
    set("dn_template", cli.ldap_dn_template.clone());
    set("ca_file", path_string(cli.ldap_ca_file.as_deref())?);
    set(
        "bind_password_file",
        path_string(cli.ldap_bind_password_file.as_deref())?,
    );
    let mut directory = toml::Table::new();
    directory.insert("ldap".into(), ldap.into());
    let mut root = toml::Table::new();
    root.insert("directory".into(), directory.into());
    let mut config = pta_agent::Config::from_toml(&root.to_string())
        .map_err(|e| format!("LDAP options: {}", chain(&e)))?;
    config.env = std::env::vars().collect::<HashMap<_, _>>();
    Ok(config)
}

fn path_string(path: Option<&Path>) -> Result<Option<String>, String> {
    path.map(|p| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is not UTF-8", p.display()))
    })
    .transpose()
}

/// A random secret, `prefix` + 64 hex digits.
fn random_secret(prefix: &str) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut_slice())?;
    let mut out = Zeroizing::new(String::with_capacity(prefix.len() + 64));
    out.push_str(prefix);
    for b in bytes.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    Ok(out)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The name the API gives a verdict.
fn verdict_name(v: pta_wire::Verdict) -> String {
    use pta_wire::Verdict as V;
    match v {
        V::Success => "success".into(),
        V::InvalidCredentials => "invalid_credentials".into(),
        V::AccountLocked => "account_locked".into(),
        V::PasswordExpired => "password_expired".into(),
        V::MustChangePassword => "must_change_password".into(),
        V::AccountDisabled => "account_disabled".into(),
        V::AccountExpired => "account_expired".into(),
        V::LogonHoursRestricted => "logon_hours_restricted".into(),
        V::WorkstationRestricted => "workstation_restricted".into(),
        V::NewPasswordRejected => "new_password_rejected".into(),
        V::Unknown(n) => format!("unknown_{n}"),
    }
}

fn decided_by(result: &SignInResult) -> (&'static str, String) {
    match result.decided_by {
        DecidedBy::Agent(id) => ("agent", id.to_string()),
        DecidedBy::Lockout { .. } => ("lockout", "-".into()),
        DecidedBy::RepeatRejected => ("repeat_rejected", "-".into()),
    }
}

fn warnings(result: &SignInResult) -> String {
    if result.warnings.is_empty() {
        return String::new();
    }
    let list: Vec<String> = result
        .warnings
        .iter()
        .map(|w| match w.kind {
            pta_wire::WarningKind::PasswordExpiresInDays => {
                format!("password expires in {} days", w.value)
            }
            pta_wire::WarningKind::Unknown(n) => format!("warning {n}: {}", w.value),
        })
        .collect();
    list.join(", ")
}

async fn sign_in(
    service: &Service,
    tenant: &TenantId,
    login: &str,
    password: &str,
    source: IpAddr,
) -> Result<SignInResult, String> {
    service
        .sign_in(
            tenant,
            login,
            Password::new(password.as_bytes().to_vec()),
            ClientContext::new(source),
        )
        .await
        .map_err(|e| format!("no verdict: {e}"))
}

/// Signs in every sample case and prints the table; whether every row was as expected.
async fn verdict_table(service: &Service, tenant: &TenantId) -> bool {
    let source = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let mut ok = true;
    println!();
    println!(
        "{:<18} {:<9} {:<24} {:<16} {:<38} {:>7}  note",
        "login", "password", "verdict", "decided by", "agent", "latency"
    );
    for case in CASES {
        let password = if case.right_password {
            SAMPLE_PASSWORD
        } else {
            WRONG_PASSWORD
        };
        let shown = if case.right_password {
            "right"
        } else {
            "wrong"
        };
        match sign_in(service, tenant, case.login, password, source).await {
            Ok(result) => {
                let verdict = verdict_name(result.verdict);
                let (by, agent) = decided_by(&result);
                let as_expected = verdict == case.expected && by == case.decided_by;
                ok &= as_expected;
                let mut note = warnings(&result);
                if !as_expected {
                    note = format!("EXPECTED {} by {} {note}", case.expected, case.decided_by);
                }
                println!(
                    "{:<18} {:<9} {:<24} {:<16} {:<38} {:>5}ms  {}",
                    case.login, shown, verdict, by, agent, result.latency_ms, note
                );
            }
            Err(e) => {
                ok = false;
                println!(
                    "{:<18} {:<9} {e} (EXPECTED {})",
                    case.login, shown, case.expected
                );
            }
        }
    }
    ok
}

/// Bad passwords until the cloud locks the account; then shows that the next attempt, even
/// with the right password, is answered by the cloud and never reaches the directory.
async fn lockout_showcase(service: &Service, tenant: &TenantId, sample: &SampleDirectory) -> bool {
    let source = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    println!();
    println!("Smart lockout: different wrong passwords for {LOCKOUT_USER} from {source} ...");
    let mut failures = 0;
    for attempt in 1..=20u32 {
        // Each wrong password differs: a repeat of the same one would not count.
        let wrong = format!("{WRONG_PASSWORD}-{attempt}");
        match sign_in(service, tenant, LOCKOUT_USER, &wrong, source).await {
            Ok(result) if matches!(result.decided_by, DecidedBy::Agent(_)) => failures += 1,
            Ok(result) if matches!(result.decided_by, DecidedBy::Lockout { .. }) => {
                let checks_before = sample.checks(LOCKOUT_USER);
                let right = sign_in(service, tenant, LOCKOUT_USER, SAMPLE_PASSWORD, source).await;
                let checks_after = sample.checks(LOCKOUT_USER);
                let locked = matches!(
                    &right,
                    Ok(r) if matches!(r.decided_by, DecidedBy::Lockout { .. })
                        && r.verdict == pta_wire::Verdict::AccountLocked
                );
                let until = match result.decided_by {
                    DecidedBy::Lockout { until_ms } => until_ms,
                    _ => 0,
                };
                let seconds = until.saturating_sub(SystemClock.unix_ms()) / 1000;
                println!(
                    "lockout: {LOCKOUT_USER} locked by the cloud after {failures} bad passwords \
                     (for about {seconds} s); attempt {} and then the right password were \
                     answered account_locked by the cloud; the directory was not asked \
                     (directory checks of {LOCKOUT_USER}: {checks_after}, {failures} before the lock)",
                    attempt
                );
                let untouched = checks_before == checks_after && checks_after == failures;
                if !(locked && untouched) {
                    println!(
                        "lockout: NOT AS EXPECTED (the directory was asked, or the lock did not hold)"
                    );
                }
                return locked && untouched;
            }
            Ok(result) => {
                println!(
                    "lockout: unexpected decider for attempt {attempt}: {}",
                    decided_by(&result).0
                );
                return false;
            }
            Err(e) => {
                println!("lockout: attempt {attempt}: {e}");
                return false;
            }
        }
    }
    println!("lockout: NOT AS EXPECTED: {LOCKOUT_USER} was never locked by the cloud");
    false
}

/// SIGINT (Ctrl-C) and SIGTERM, watched from creation on.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
