//! The running demo: the embedded service with its listeners, the tenant, the two agents, and
//! their orderly stop.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pta_directory::Directory;
use pta_service::{Service, ServiceOptions, SystemClock, TenantId};
use pta_service_http::{ApiAuth, ApiOptions, ServeOptions, Serving};
use pta_store_sqlite::SqliteStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use crate::DemoError;
use crate::sample::{SampleDirectory, TRY_USER};

/// The tenant the demo creates.
pub const TENANT: &str = "demo";

/// What the command line asks of the demo.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DemoOptions {
    /// Port of the API listener on 127.0.0.1 (`None`: a free port).
    pub api_port: Option<u16>,
    /// An LDAP server instead of the sample directory (the verdict showcase is then skipped).
    pub ldap: Option<LdapOptions>,
}

/// The agents' directory when it is a real LDAP server (the `--ldap-*` options): the keys of
/// the agent configuration's `[directory.ldap]` table.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct LdapOptions {
    /// `ldaps://` or `ldap://` (StartTLS) URL.
    pub url: String,
    /// CA certificate (PEM) of the LDAP server.
    pub ca_file: Option<PathBuf>,
    /// `none` for plain LDAP without TLS (lab only); default TLS.
    pub tls: Option<String>,
    /// `detect` (default), `ad` or `openldap`.
    pub dialect: Option<String>,
    /// Service account DN for search-then-bind.
    pub bind_dn: Option<String>,
    /// File whose first line is the service account's password.
    pub bind_password_file: Option<PathBuf>,
    /// Search base for logins (default: from the root DSE).
    pub base_dn: Option<String>,
    /// Bind DN template with one `{login}`.
    pub dn_template: Option<String>,
}

impl LdapOptions {
    /// Options for the server at `url`, everything else by default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// The running demo: an embedded service (SQLite in a temporary directory) served on
/// 127.0.0.1, then a tenant and two agents registered through the HTTPS endpoint.
///
/// ```text
///   start (temporary directory, store, service, listeners)
///     -> set_up (tenant, two agents registered and connected; may be cancelled)
///     -> showcase (sample sign-ins and the lockout) -> print_try_it
///     -> stop: agents drain, listeners stop, the service shuts down, the directory goes
/// ```
pub struct Demo {
    started: Instant,
    serving: Serving,
    temp: tempfile::TempDir,
    api_key: Zeroizing<String>,
    sample: Option<Arc<SampleDirectory>>,
    tenant: Option<TenantId>,
    stop_agents: watch::Sender<bool>,
    agents: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("serving", &self.serving)
            .field("temp", &self.temp.path())
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Creates the temporary directory, starts the service on a SQLite file in it and serves
    /// its registration listener (a free port) and its API listener (`api_port`, or a free
    /// port) over HTTPS on 127.0.0.1, with a random API key for this run.
    ///
    /// # Errors
    ///
    /// [`DemoError::TempDir`], [`DemoError::Store`], [`DemoError::Service`],
    /// [`DemoError::Random`], [`DemoError::Http`]; what was started is stopped again.
    pub async fn start(options: &DemoOptions) -> Result<Self, DemoError> {
        let started = Instant::now();
        let temp = tempfile::Builder::new()
            .prefix("pta-demo-")
            .tempdir()
            .map_err(DemoError::TempDir)?;
        let store = SqliteStore::open(temp.path().join("pta.sqlite3")).map_err(DemoError::Store)?;
        let service = Service::start(
            Arc::new(store),
            ServiceOptions::default(),
            Arc::new(SystemClock),
        )
        .await
        .map_err(|source| DemoError::Service {
            what: "cannot start the service",
            source,
        })?;
        let sample = match &options.ldap {
            None => Some(Arc::new(
                SampleDirectory::new().map_err(DemoError::SampleDirectory)?,
            )),
            Some(_) => None,
        };
        let api_key = random_secret("pta-demo-key-").map_err(DemoError::Random)?;
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let serve = ServeOptions::new(
            SocketAddr::new(loopback, 0),
            SocketAddr::new(loopback, options.api_port.unwrap_or(0)),
            ApiOptions::new(ApiAuth::new(None, [api_key.as_bytes()])),
        );
        let serving = match Serving::start(service.clone(), serve).await {
            Ok(serving) => serving,
            Err(e) => {
                service.shutdown().await;
                return Err(e.into());
            }
        };
        let (stop_agents, _) = watch::channel(false);
        Ok(Self {
            started,
            serving,
            temp,
            api_key,
            sample,
            tenant: None,
            stop_agents,
            agents: Vec::new(),
        })
    }

    /// Creates the tenant and two join tokens, registers two agents through the HTTPS
    /// registration endpoint, runs them on the sample directory (or the LDAP server of
    /// `options`), waits until both are connected and prints the start-up line. Cancelling
    /// it (a signal) is safe: [`stop`](Self::stop) stops what it started.
    ///
    /// # Errors
    ///
    /// [`DemoError::Service`], [`DemoError::Agent`], [`DemoError::NotUtf8`],
    /// [`DemoError::AgentsNotConnected`].
    pub async fn set_up(&mut self, options: &DemoOptions) -> Result<(), DemoError> {
        let service = self.serving.service().clone();
        let service_error = |what| move |source| DemoError::Service { what, source };
        let agent_error = |what: String| move |source| DemoError::Agent { what, source };
        let tenant = service
            .create_tenant(TENANT)
            .await
            .map_err(service_error("cannot create the tenant"))?;
        self.tenant = Some(tenant.id);
        let registration_url = format!("https://{}", self.serving.registration_addr());
        let mut registrations = Vec::new();
        for n in 1..=2 {
            let token = service
                .create_token(&tenant.id, None)
                .await
                .map_err(service_error("cannot create a join token"))?;
            let token = pta_agent::JoinToken::parse(&token).map_err(|e| DemoError::Agent {
                what: "join token".to_owned(),
                source: e.into(),
            })?;
            let options =
                pta_agent::RegisterOptions::new(registration_url.clone(), token, self.agent_dir(n));
            registrations.push(tokio::spawn(
                async move { pta_agent::register(&options).await },
            ));
        }
        let mut agent_ids = Vec::new();
        for handle in registrations {
            let info = match handle.await {
                Ok(result) => result.map_err(agent_error("agent registration failed".into()))?,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            agent_ids.push(info.agent_id);
        }
        for n in 1..=2 {
            let dir = self.agent_dir(n);
            let agent = match (&self.sample, &options.ldap) {
                (Some(sample), _) => {
                    let directory: Arc<dyn Directory> = Arc::clone(sample) as Arc<dyn Directory>;
                    pta_agent::Agent::with_directory(&dir, pta_agent::Config::default(), directory)
                }
                (None, ldap) => pta_agent::Agent::new(&dir, ldap_config(ldap.as_ref())?),
            }
            .map_err(agent_error(format!("agent {n}")))?;
            let mut stopped = self.stop_agents.subscribe();
            self.agents.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(e) = agent.run(stop).await {
                    let e = DemoError::Agent {
                        what: format!("agent {n} stopped"),
                        source: e,
                    };
                    eprintln!("pta-demo: {}", e.report());
                }
            }));
        }
        wait_connected(&service, &tenant.id, 2).await?;
        println!(
            "pta-demo: service, tenant {TENANT:?} and two agents ({}, {}) ready in {} ms \
             (RSA-3072 keys, SQLite in {})",
            agent_ids[0],
            agent_ids[1],
            self.started.elapsed().as_millis(),
            self.temp.path().display(),
        );
        Ok(())
    }

    /// Whether the agents run on the sample directory (not on an LDAP server).
    pub fn has_sample(&self) -> bool {
        self.sample.is_some()
    }

    /// Signs in the sample users (one per verdict) and shows smart lockout, printing a table
    /// and a paragraph; whether every verdict was the expected one. With an LDAP server it
    /// prints that it skips them and returns true.
    pub async fn showcase(&self) -> bool {
        let (Some(sample), Some(tenant)) = (&self.sample, &self.tenant) else {
            println!(
                "pta-demo: --ldap-url given: no sample sign-ins (the demo does not know your users)"
            );
            return true;
        };
        let service = self.serving.service();
        let table = crate::showcase::verdict_table(service, tenant).await;
        let lockout = crate::showcase::lockout_showcase(service, tenant, sample).await;
        table && lockout
    }

    /// Prints how to try `pta-signin` against the running demo (the API address, tenant,
    /// user, the API key of this run, the service CA's fingerprint).
    pub fn print_try_it(&self) {
        let api_addr = self.serving.api_addr();
        let fingerprint = self.serving.service().service_ca().fingerprint();
        let api_key = self.api_key.as_str();
        let try_user = if self.has_sample() {
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
        if self.has_sample() {
            println!(
                "  password:   the demo password from `pta-demo --help` (every sample user has it)"
            );
        }
        println!(
            "  api key:    {api_key}   (generated for this run only: a demo key, printed once)"
        );
        println!("  ca sha256:  {fingerprint}");
        println!();
        println!("  export PTA_API_KEY='{api_key}'");
        println!(
            "  cargo run --release -p pta-signin-cli -- --service https://{api_addr} --tenant {TENANT} \
             --user {try_user} --ca-sha256 {fingerprint}"
        );
        println!(
            "  (pta-signin prompts for the password without echo, or reads it from standard input)"
        );
        println!();
        println!("Press Ctrl-C to stop.");
    }

    /// Agents drain and stop (at most 20 s each), then the HTTP listeners, then the service;
    /// the temporary directory goes last.
    pub async fn stop(self) {
        let _ = self.stop_agents.send(true);
        for task in self.agents {
            if tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .is_err()
            {
                eprintln!("pta-demo: a task did not stop within 20 s");
            }
        }
        self.serving.shutdown().await;
        let path = self.temp.path().to_path_buf();
        if let Err(e) = self.temp.close() {
            eprintln!("pta-demo: cannot remove {}: {e}", path.display());
        }
    }

    fn agent_dir(&self, n: u32) -> PathBuf {
        self.temp.path().join(format!("agent-{n}"))
    }
}

/// Waits until `count` agents of the tenant are connected (at most 30 s).
async fn wait_connected(
    service: &Service,
    tenant: &TenantId,
    count: usize,
) -> Result<(), DemoError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let agents = service
            .agents(tenant)
            .await
            .map_err(|source| DemoError::Service {
                what: "agents",
                source,
            })?;
        if agents.iter().filter(|a| a.connections > 0).count() >= count {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(DemoError::AgentsNotConnected);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent configuration for `--ldap-url`.
fn ldap_config(options: Option<&LdapOptions>) -> Result<pta_agent::Config, DemoError> {
    let options = options.cloned().unwrap_or_default();
    let mut ldap = toml::Table::new();
    ldap.insert("urls".into(), toml::Value::Array(vec![options.url.into()]));
    let mut set = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            ldap.insert(key.into(), value.into());
        }
    };
    set("tls", options.tls);
    set("dialect", options.dialect);
    set("bind_dn", options.bind_dn);
    set("base_dn", options.base_dn);
    set("dn_template", options.dn_template);
    set("ca_file", path_string(options.ca_file.as_deref())?);
    set(
        "bind_password_file",
        path_string(options.bind_password_file.as_deref())?,
    );
    let mut directory = toml::Table::new();
    directory.insert("ldap".into(), ldap.into());
    let mut root = toml::Table::new();
    root.insert("directory".into(), directory.into());
    let mut config =
        pta_agent::Config::from_toml(&root.to_string()).map_err(|source| DemoError::Agent {
            what: "LDAP options".to_owned(),
            source,
        })?;
    config.env = std::env::vars().collect::<HashMap<_, _>>();
    Ok(config)
}

fn path_string(path: Option<&Path>) -> Result<Option<String>, DemoError> {
    path.map(|p| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| DemoError::NotUtf8 { path: p.to_owned() })
    })
    .transpose()
}

/// A random secret, `prefix` + 64 hex digits.
fn random_secret(prefix: &str) -> Result<Zeroizing<String>, getrandom::Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
