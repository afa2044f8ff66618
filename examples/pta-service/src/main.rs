//! The `pta-service` binary: runs the pass-through authentication service (agent listener,
//! registration endpoint, API), and offline admin commands that act directly on its SQLite
//! file, with or without a running server.
//!
//! ```text
//! pta-service serve --config FILE
//! pta-service tenant create NAME --config FILE
//! pta-service token create --tenant NAME|ID [--lifetime 1h] --config FILE
//! pta-service agents list --tenant NAME|ID --config FILE
//! pta-service agents revoke AGENT_ID --config FILE
//! ```
//!
//! The configuration file is documented in `pta-service.toml` beside this crate and in the
//! `pta_service::config` module. Logs go to standard error; standard output carries only what
//! a command prints for scripts (addresses, a tenant id, a token, the agent list).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pta_service::config::{Config, ConfigError, parse_duration};
use pta_service::http::{self, Api, HttpServer};
use pta_service::{
    AgentId, Clock, Service, ServiceError, Store, StoreError, SystemClock, Tenant, TenantId,
};
use pta_store_sqlite::SqliteStore;
use tracing_subscriber::EnvFilter;

/// Pass-through authentication service.
///
/// Checks users' passwords against a customer's Active Directory or OpenLDAP through
/// on-premises agents. `serve` runs the service; the other commands change its SQLite file
/// directly and work whether or not a server is running.
#[derive(Debug, Parser)]
#[command(name = "pta-service", version, about, long_about)]
struct Cli {
    /// The configuration file (TOML; see pta-service.toml for every key). Environment
    /// overrides: PTA_DATA_DIR, PTA_AGENT_LISTEN, PTA_REGISTRATION_LISTEN, PTA_API_LISTEN,
    /// PTA_LOG, PTA_LOG_JSON; secrets: PTA_ADMIN_TOKEN, PTA_API_KEYS.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: agent listener, registration endpoint and API, until SIGINT or
    /// SIGTERM. Prints the listen addresses.
    Serve,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage registration tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agents(AgentsCommand),
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant with its own issuing CA; prints the tenant id.
    Create {
        /// The tenant's name (unique).
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a one-time registration token; prints only the token
    /// (`pta1.<token>.<service CA sha256>`) for the agent's installer.
    Create {
        /// The tenant, by name or id.
        #[arg(long)]
        tenant: String,
        /// How long the token is valid, like "30m", "1h", "2d" (default: tokens.lifetime of
        /// the configuration; at most 7d).
        #[arg(long, value_name = "DURATION")]
        lifetime: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// List a tenant's agents: id, status, version, last seen, last source address.
    List {
        /// The tenant, by name or id.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke an agent: it is refused from now on, its certificate goes on the tenant's CRL,
    /// and a running service closes its connections within about a second.
    Revoke {
        /// The agent's id.
        agent_id: String,
    },
}

/// A failure: what to print and the exit code (2 for configuration and usage, 1 otherwise).
struct Failure {
    code: u8,
    message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Self {
            code: 2,
            message: e.to_string(),
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        Self {
            code: 1,
            message: with_sources(&e),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self {
            code: 1,
            message: e.to_string(),
        }
    }
}

fn failure(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

/// An error and its causes, `a: b: c` (none of the crate's errors holds a secret).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("pta-service: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("pta-service: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Some(path) = cli.config else {
        return Err(failure(
            2,
            "--config FILE is required (see pta-service --help)",
        ));
    };
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = Config::load(&path, &env)?;
    init_logging(&config)?;
    match cli.command {
        Command::Serve => serve(&config, &env).await,
        Command::Tenant(TenantCommand::Create { name }) => tenant_create(&config, &name).await,
        Command::Token(TokenCommand::Create { tenant, lifetime }) => {
            token_create(&config, &tenant, lifetime.as_deref()).await
        }
        Command::Agents(AgentsCommand::List { tenant }) => agents_list(&config, &tenant).await,
        Command::Agents(AgentsCommand::Revoke { agent_id }) => {
            agents_revoke(&config, &agent_id).await
        }
    }
}

fn init_logging(config: &Config) -> Result<(), Failure> {
    let filter = EnvFilter::try_new(&config.log.level).map_err(|e| {
        failure(
            2,
            format!(
                "invalid configuration: log.level {:?}: {e}",
                config.log.level
            ),
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if config.log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(|e| failure(1, format!("cannot set up logging: {e}")))
}

fn open_store(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    let path = config.create_data_dir()?;
    Ok(Arc::new(SqliteStore::open(&path)?))
}

async fn find_tenant(store: &dyn Store, key: &str) -> Result<Tenant, Failure> {
    if let Ok(id) = key.parse::<TenantId>()
        && let Some(tenant) = store.tenant(&id).await?
    {
        return Ok(tenant);
    }
    store
        .tenant_by_name(key)
        .await?
        .ok_or_else(|| failure(1, format!("no tenant named or with id {key:?}")))
}

async fn serve(config: &Config, env: &HashMap<String, String>) -> Result<(), Failure> {
    let mut signals = ShutdownSignals::new()?;
    let secrets = config.load_secrets(env)?;
    let store = open_store(config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = Service::start(store, config.to_service_options(), Arc::clone(&clock)).await?;
    let api: Arc<dyn Api> = Arc::new(service.clone());
    let tls = service.https_server_config();

    let registration = HttpServer::bind(
        config.registration.listen,
        Some(Arc::clone(&tls)),
        http::registration_router(Arc::clone(&api), config.registration_options()),
    )
    .await
    .map_err(|e| {
        failure(
            1,
            format!("cannot listen on {}: {e}", config.registration.listen),
        )
    })?;
    let api_tls = if config.api.tls {
        Some(tls)
    } else {
        tracing::warn!(
            listen = %config.api.listen,
            "api.tls = false: the API is served over plain HTTP; only do this behind a \
             TLS-terminating proxy"
        );
        None
    };
    let options = config.api_options(&secrets, clock);
    if !options.auth.has_admin_token() {
        tracing::warn!("no admin token configured: the admin endpoints answer 401");
    }
    if options.auth.api_key_count() == 0 {
        tracing::warn!("no front-end API key configured: the sign-in endpoint answers 401");
    }
    drop(secrets);
    let api_server = HttpServer::bind(config.api.listen, api_tls, http::api_router(api, options))
        .await
        .map_err(|e| failure(1, format!("cannot listen on {}: {e}", config.api.listen)))?;

    let scheme = if config.api.tls { "https" } else { "http" };
    println!("agent listener: {}", service.agent_addr());
    println!("registration: https://{}", registration.local_addr()?);
    println!("api: {scheme}://{}", api_server.local_addr()?);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let servers = tokio::spawn({
        let (a, b) = (stopped.clone(), stopped);
        async move { tokio::try_join!(registration.run(wait(a)), api_server.run(wait(b))) }
    });
    let signal = signals.next().await;
    tracing::info!(signal, "shutting down");
    let _ = stop.send(true);
    match tokio::time::timeout(Duration::from_secs(30), servers).await {
        Ok(Ok(result)) => {
            result?;
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed"),
        Err(_) => tracing::warn!("HTTP servers did not stop in time"),
    }
    service.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM, watched from creation on: created before the addresses are printed, so a
/// signal sent as soon as they appear stops the service cleanly instead of killing it.
struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn new() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let watch = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| failure(1, format!("cannot watch {name}: {e}")))
            };
            Ok(Self {
                interrupt: watch(SignalKind::interrupt(), "SIGINT")?,
                terminate: watch(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next SIGINT or SIGTERM; returns its name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

async fn tenant_create(config: &Config, name: &str) -> Result<(), Failure> {
    let name = name.trim();
    if !http::is_valid_tenant_name(name) {
        return Err(failure(
            2,
            "the tenant name must be 1 to 128 bytes without control characters, and not a tenant id",
        ));
    }
    let store = open_store(config)?;
    let now = SystemClock.unix_ms();
    let registrar = config.to_service_options().registrar;
    let tenant = registrar
        .create_tenant(store.as_ref(), name, now)
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::TenantExists) => {
                failure(1, format!("tenant {name:?} already exists"))
            }
            e => e.into(),
        })?;
    if tenant.agent_limit != config.tenants.agent_limit {
        store
            .set_agent_limit(&tenant.id, config.tenants.agent_limit)
            .await?;
    }
    println!("{}", tenant.id);
    Ok(())
}

async fn token_create(
    config: &Config,
    tenant: &str,
    lifetime: Option<&str>,
) -> Result<(), Failure> {
    let lifetime_ms = match lifetime {
        None => config.token_lifetime_ms(),
        Some(text) => match parse_duration(text) {
            Some(d) if !d.is_zero() && d <= http::MAX_TOKEN_LIFETIME => {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
            }
            _ => {
                return Err(failure(
                    2,
                    format!(
                        "--lifetime {text:?}: expected a duration like 30m, 1h or 2d, at most 7d"
                    ),
                ));
            }
        },
    };
    let store = open_store(config)?;
    let tenant = find_tenant(store.as_ref(), tenant).await?;
    let now = SystemClock.unix_ms();
    let ca =
        pta_service::load_or_create_service_ca(store.as_ref(), config.tenants.ca_key_bits, now)
            .await?;
    let token =
        pta_service::create_join_token(store.as_ref(), &ca, &tenant.id, lifetime_ms, now).await?;
    println!("{}", token.as_str());
    Ok(())
}

async fn agents_list(config: &Config, tenant: &str) -> Result<(), Failure> {
    let store = open_store(config)?;
    let tenant = find_tenant(store.as_ref(), tenant).await?;
    println!("AGENT_ID\tSTATUS\tVERSION\tLAST_SEEN_MS\tLAST_SOURCE");
    for agent in store.agents(&tenant.id).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            agent.id,
            agent.status.code(),
            agent.software_version,
            agent.last_seen,
            agent
                .last_source
                .map_or_else(|| "-".to_owned(), |ip| ip.to_string()),
        );
    }
    Ok(())
}

async fn agents_revoke(config: &Config, agent: &str) -> Result<(), Failure> {
    let agent: AgentId = agent
        .parse()
        .map_err(|_| failure(2, format!("{agent:?} is not an agent id")))?;
    let store = open_store(config)?;
    let now = SystemClock.unix_ms();
    let newly = pta_service::revoke_agent_in_store(store.as_ref(), &agent, now)
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::UnknownAgent) => {
                failure(1, format!("no agent with id {agent}"))
            }
            e => e.into(),
        })?;
    if newly {
        println!("revoked {agent}");
    } else {
        println!("{agent} was already revoked");
    }
    Ok(())
}
