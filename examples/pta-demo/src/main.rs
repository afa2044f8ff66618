//! `pta-demo`: the whole system on one machine in one command, no set-up.
//!
//! It starts an embedded service (SQLite in a temporary directory, default key sizes), its
//! registration and API listeners on 127.0.0.1, creates a tenant and join tokens, registers two
//! in-process agents through the real HTTPS registration endpoint, runs them on a sample
//! in-memory directory (or on an LDAP server with `--ldap-url`), signs in sample users showing
//! every verdict, demonstrates smart lockout, then keeps serving and prints how to try
//! `pta-signin` against it. Ctrl-C (or SIGTERM) stops it: agents drain, the service shuts down,
//! the temporary directory is removed. `--once` runs the showcase and exits: 0 when every
//! verdict was the expected one, 1 otherwise. The work is done by the `pta_demo` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pta_demo::{Demo, DemoError, DemoOptions, LdapOptions};
use tracing_subscriber::EnvFilter;

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

impl Cli {
    fn options(&self) -> DemoOptions {
        let mut options = DemoOptions::default();
        options.api_port = self.api_port;
        options.ldap = self.ldap_url.as_ref().map(|url| {
            let mut ldap = LdapOptions::new(url.clone());
            ldap.ca_file.clone_from(&self.ldap_ca_file);
            ldap.tls.clone_from(&self.ldap_tls);
            ldap.dialect.clone_from(&self.ldap_dialect);
            ldap.bind_dn.clone_from(&self.ldap_bind_dn);
            ldap.bind_password_file
                .clone_from(&self.ldap_bind_password_file);
            ldap.base_dn.clone_from(&self.ldap_base_dn);
            ldap.dn_template.clone_from(&self.ldap_dn_template);
            ldap
        });
        options
    }
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
    match runtime.block_on(run(&cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pta-demo: {}", e.report());
            ExitCode::from(2)
        }
    }
}

/// Starts the demo, runs the showcase (a signal interrupts it: exit 1), then with `--once`
/// exits, else serves until a signal (exit 0); the demo is stopped in every case.
async fn run(cli: &Cli) -> Result<bool, DemoError> {
    // Signals are caught from the start, so an interrupt during set-up still cleans up.
    let mut signals = pta_signal::Signals::new().map_err(DemoError::Signals)?;
    let options = cli.options();
    let mut demo = Demo::start(&options).await?;
    let showcase = async {
        demo.set_up(&options).await?;
        Ok::<_, DemoError>(demo.showcase().await)
    };
    // `None`: interrupted before the showcase ended.
    let outcome = tokio::select! {
        biased;
        result = showcase => result.map(Some),
        _ = signals.next() => Ok(None),
    };
    let result = match outcome {
        Err(e) => Err(e),
        Ok(None) => {
            println!("pta-demo: interrupted: stopping");
            Ok(false)
        }
        Ok(Some(all_as_expected)) if cli.once => {
            let summary = if !demo.has_sample() {
                "the agents are connected to the directory"
            } else if all_as_expected {
                "every verdict was the expected one"
            } else {
                "SOME VERDICTS DIFFERED FROM THE EXPECTED ONES"
            };
            println!("pta-demo: {summary}");
            Ok(all_as_expected)
        }
        Ok(Some(_)) => {
            demo.print_try_it();
            let signal = signals.next().await;
            println!(
                "pta-demo: {signal}: stopping (agents drain, the service shuts down, the temporary directory is removed)"
            );
            Ok(true)
        }
    };
    demo.stop().await;
    result
}
