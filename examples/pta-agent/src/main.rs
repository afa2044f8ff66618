//! `pta-agent`: register, run and inspect the pass-through-authentication agent. Thin: parses
//! arguments, sets up logging, calls `pta_agent`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pta_agent::{Agent, Config, Error, JoinToken, RegisterOptions};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  error (message on stderr)
  2  usage error
  3  the agent certificate expired: register again (pta-agent register --force)
  4  the state directory is locked by another running agent";

/// The pass-through-authentication agent.
#[derive(Parser)]
#[command(version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register this agent with the service using a join token.
    #[command(after_help = EXIT_CODES)]
    Register {
        /// Registration endpoint: https://HOST or https://HOST:PORT.
        #[arg(long)]
        service: String,
        /// The join token. Visible to other local users in the process list: prefer
        /// --token-file or standard input.
        #[arg(long, conflicts_with = "token_file")]
        token: Option<String>,
        /// File holding the join token. Without --token and --token-file the token is read
        /// from standard input.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// State directory (created 0700).
        #[arg(long)]
        state_dir: PathBuf,
        /// Replace an existing registration.
        #[arg(long)]
        force: bool,
        /// Optional configuration file (proxy, key size, registration timeout, log level).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the agent until SIGINT or SIGTERM, then drain.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// State directory of a registered agent.
        #[arg(long)]
        state_dir: PathBuf,
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Show the agent's identity, certificate and connection state.
    #[command(after_help = EXIT_CODES)]
    Status {
        /// State directory.
        #[arg(long)]
        state_dir: PathBuf,
    },
}

fn init_logging(level: &str) {
    let level = level
        .parse::<tracing_subscriber::filter::LevelFilter>()
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, Error> {
    let mut config = match path {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    config.env = std::env::vars().collect();
    Ok(config)
}

/// Watches SIGINT and SIGTERM from the moment it is called (not from the first poll), so a
/// signal that arrives while the agent starts still drains it; the future ends at the first one.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                (int, term) => {
                    if let Err(e) = int.as_ref().and(term.as_ref()) {
                        tracing::warn!(error = %e, "cannot watch SIGINT/SIGTERM; Ctrl-C only");
                    }
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Register {
            service,
            token,
            token_file,
            state_dir,
            force,
            config,
        } => {
            let config = load_config(config.as_ref())?;
            init_logging(&config.log.level);
            let text = match (token, token_file) {
                (Some(t), _) => {
                    tracing::warn!(
                        "the token was given on the command line, where other local users can see it; prefer --token-file or standard input"
                    );
                    zeroize::Zeroizing::new(t)
                }
                (None, Some(path)) => zeroize::Zeroizing::new(
                    std::fs::read_to_string(&path)
                        .map_err(|_| Error::SecretSource(format!("file {}", path.display())))?,
                ),
                (None, None) => {
                    let mut t = zeroize::Zeroizing::new(String::new());
                    std::io::stdin()
                        .read_to_string(&mut t)
                        .map_err(|_| Error::SecretSource("standard input".into()))?;
                    t
                }
            };
            let token = JoinToken::parse(&text)?;
            let mut options = RegisterOptions::new(service, token, state_dir);
            options.force = force;
            options.key_size = config.limits.key_size()?;
            options.proxy = config.proxy_settings()?;
            options.timeout = config.timeouts.registration;
            let info = pta_agent::register(&options).await?;
            println!(
                "registered agent {} for tenant {}; endpoints: {}",
                info.agent_id,
                info.tenant,
                info.endpoints.join(", ")
            );
            Ok(())
        }
        Command::Run { state_dir, config } => {
            let stop = shutdown_signal();
            let config = load_config(Some(&config))?;
            init_logging(&config.log.level);
            let agent = Agent::new(state_dir, config)?;
            agent.run(stop).await
        }
        Command::Status { state_dir } => {
            let status = pta_agent::status(&state_dir)?;
            println!("{status}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread runs the session, the request tasks and the LDAP connections: no wake-ups
    // across worker threads per request (futexes were the agent's largest kernel cost with the
    // multi-thread runtime). RSA work (grants, renewal keys) still goes to the blocking pool.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pta-agent: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pta-agent: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
