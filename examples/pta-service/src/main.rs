//! The `pta-service` binary: runs the pass-through authentication service (agent listener,
//! registration endpoint, API), and offline admin commands that act directly on its store
//! (the SQLite file, or the PostgreSQL database of `store.url`), with or without a running
//! server.
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
//! `pta_service_cli::config` module; the commands are `pta_service_cli::commands`. Logs go to standard error; standard output carries only what
//! a command prints for scripts (addresses, a tenant id, a token, the agent list).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pta_service_cli::{CliError, Config, commands};

/// Pass-through authentication service.
///
/// Checks users' passwords against a customer's Active Directory or OpenLDAP through
/// on-premises agents. `serve` runs the service; the other commands change its store (SQLite
/// file or PostgreSQL database) directly and work whether or not a server is running.
#[derive(Debug, Parser)]
#[command(name = "pta-service", version, about, long_about)]
struct Cli {
    /// The configuration file (TOML; see pta-service.toml for every key). Environment
    /// overrides: PTA_DATA_DIR, PTA_AGENT_LISTEN, PTA_REGISTRATION_LISTEN, PTA_API_LISTEN,
    /// PTA_LOG, PTA_LOG_JSON, PTA_LOCKOUT_SECRET_FILE; secrets: PTA_ADMIN_TOKEN, PTA_API_KEYS,
    /// PTA_STORE_PASSWORD(_FILE), PTA_LOCKOUT_REDIS_PASSWORD(_FILE).
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
        Err(e) => {
            eprintln!("pta-service: {}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let path = cli.config.ok_or(CliError::ConfigRequired)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = Config::load(&path, &env)?;
    commands::init_logging(&config.log)?;
    match cli.command {
        Command::Serve => {
            // Watched before the addresses are printed: a signal sent as soon as they appear
            // stops the service cleanly.
            let mut signals = pta_signal::Signals::new().map_err(CliError::Signals)?;
            let serving = commands::serve(&config, &env).await?;
            println!("agent listener: {}", serving.service().agent_addr());
            println!("registration: https://{}", serving.registration_addr());
            println!("api: {}://{}", serving.api_scheme(), serving.api_addr());
            let signal = signals.next().await;
            tracing::info!(signal = signal.name(), "shutting down");
            serving.shutdown().await;
        }
        Command::Tenant(TenantCommand::Create { name }) => {
            println!(
                "{}",
                commands::tenant_create(&config, &env, &name).await?.id
            );
        }
        Command::Token(TokenCommand::Create { tenant, lifetime }) => {
            let token = commands::token_create(&config, &env, &tenant, lifetime.as_deref()).await?;
            println!("{}", token.as_str());
        }
        Command::Agents(AgentsCommand::List { tenant }) => {
            let agents = commands::agents_list(&config, &env, &tenant).await?;
            print!("{}", commands::agents_table(&agents));
        }
        Command::Agents(AgentsCommand::Revoke { agent_id }) => {
            match commands::agents_revoke(&config, &env, &agent_id).await? {
                (agent, true) => println!("revoked {agent}"),
                (agent, false) => println!("{agent} was already revoked"),
            }
        }
    }
    Ok(())
}
