//! `pta-agent`: register, run and inspect the pass-through-authentication agent. Thin: parses
//! arguments, sets up logging, calls `pta_agent`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pta_agent::{Agent, Config, Error, JoinToken, RegisterOptions, SecretString, TokenSource};
use pta_signal::Signals;

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
            let config = Config::load(config.as_deref())?;
            init_logging(&config.log.level);
            let source = match (token, token_file) {
                (Some(t), _) => TokenSource::Argument(SecretString::new(t)),
                (None, Some(path)) => TokenSource::File(path),
                (None, None) => TokenSource::Stdin,
            };
            let mut options = RegisterOptions::new(service, JoinToken::read(source)?, state_dir);
            options.force = force;
            options.apply_config(&config)?;
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
            // Watched from here on: a signal while the agent starts still drains it.
            let mut signals = Signals::new().map_err(Error::Signals)?;
            let config = Config::load(Some(&config))?;
            init_logging(&config.log.level);
            let agent = Agent::new(state_dir, config)?;
            agent
                .run(async move {
                    signals.next().await;
                })
                .await
        }
        Command::Status { state_dir } => {
            println!("{}", pta_agent::status(&state_dir)?);
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
