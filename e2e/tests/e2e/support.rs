//! The harness: the real service over a SQLite file with its HTTPS registration and API
//! listeners, agents as child processes of the `pta-e2e-agent` binary (the source of
//! `examples/pta-agent`), and directory configurations for the testkit's servers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use pta_cert::KeySize;
use pta_service::{
    AgentId, ClientContext, Password, Registrar, Service, ServiceOptions, SignInError,
    SignInResult, Store, SystemClock, TenantId,
};
use pta_service_http::{self as http, HttpServer, RateLimit, RegistrationOptions};
use pta_store_sqlite::SqliteStore;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::oneshot;

/// The agent binary (built by this package from examples/pta-agent/src/main.rs).
pub(crate) const AGENT_BIN: &str = env!("CARGO_BIN_EXE_pta-e2e-agent");
/// The admin token of the API listener.
pub(crate) const ADMIN: &str = "e2e-admin-token-0123456789abcdef";
/// Bound on every wait for a state (agent connected, reconnected, ...).
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// The sign-in deadline of every test service.
pub(crate) const DEADLINE: Duration = Duration::from_secs(8);

/// Service options for tests: RSA-2048 keys, listeners on 127.0.0.1, store polled often.
pub(crate) fn options() -> ServiceOptions {
    let mut o = ServiceOptions::default();
    o.service_key_size = KeySize::Rsa2048;
    let mut registrar = Registrar::new();
    registrar.ca_key_size = KeySize::Rsa2048;
    o.registrar = registrar;
    o.sign_in_deadline = DEADLINE;
    o.store_poll_interval = Duration::from_millis(200);
    o
}

/// A listener serving one router until dropped.
struct Running {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn serve(router: axum::Router, tls: Arc<rustls::ServerConfig>, at: SocketAddr) -> Running {
    let server = HttpServer::bind(at, Some(tls), router).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running { addr, _stop: stop }
}

/// The real service with its registration and API listeners, over a SQLite file.
pub(crate) struct Stack {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) service: Service,
    pub(crate) tenant: TenantId,
    options: ServiceOptions,
    registration: Running,
    api: Running,
}

impl Stack {
    pub(crate) async fn start() -> Self {
        Self::start_with(options()).await
    }

    pub(crate) async fn start_with(options: ServiceOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pta-e2e-")
            .tempdir()
            .unwrap();
        let (service, registration, api) = Self::launch(dir.path(), options.clone()).await;
        let tenant = service.create_tenant("contoso").await.unwrap().id;
        let mut options = options;
        // A restart binds the same agent port.
        options.agent_listen = service.agent_addr();
        Self {
            dir,
            service,
            tenant,
            options,
            registration,
            api,
        }
    }

    async fn launch(dir: &Path, options: ServiceOptions) -> (Service, Running, Running) {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("pta.sqlite3")).unwrap());
        let service = Service::start(store, options, Arc::new(SystemClock))
            .await
            .unwrap();
        let api: Arc<dyn http::Api> = Arc::new(service.clone());
        let tls = service.https_server_config();
        let registration = serve(
            http::registration_router(
                Arc::clone(&api),
                RegistrationOptions::new(RateLimit::new(600, 100)),
            ),
            Arc::clone(&tls),
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await;
        let auth = http::ApiAuth::new(Some(ADMIN.as_bytes()), std::iter::empty::<&[u8]>());
        let api = serve(
            http::api_router(api, http::ApiOptions::new(auth)),
            tls,
            SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await;
        (service, registration, api)
    }

    /// Stops the service (sessions close, listeners go) and starts it again on the same
    /// SQLite file and the same agent port.
    pub(crate) async fn restart(&mut self) {
        self.service.shutdown().await;
        let (service, registration, api) =
            Self::launch(self.dir.path(), self.options.clone()).await;
        let old = std::mem::replace(&mut self.service, service);
        drop(old);
        self.registration = registration;
        self.api = api;
    }

    pub(crate) fn registration_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.registration.addr.port())
    }

    pub(crate) async fn token(&self) -> String {
        self.service
            .create_token(&self.tenant, None)
            .await
            .unwrap()
            .to_string()
    }

    pub(crate) async fn sign_in(
        &self,
        login: &str,
        password: &str,
    ) -> Result<SignInResult, SignInError> {
        self.sign_in_from(login, password, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 4)))
            .await
    }

    pub(crate) async fn sign_in_from(
        &self,
        login: &str,
        password: &str,
        source: IpAddr,
    ) -> Result<SignInResult, SignInError> {
        let work = self.service.sign_in(
            &self.tenant,
            login,
            Password::new(password.as_bytes().to_vec()),
            ClientContext::new(source),
        );
        tokio::time::timeout(DEADLINE + Duration::from_secs(5), work)
            .await
            .expect("sign-in answered before its deadline")
    }

    /// The verdict of a sign-in that must reach one.
    pub(crate) async fn verdict(&self, login: &str, password: &str) -> pta_wire::Verdict {
        match self.sign_in(login, password).await {
            Ok(r) => r.verdict,
            Err(e) => panic!("sign-in of {login} reached no verdict: {e:?}"),
        }
    }

    /// Live connections of an agent.
    pub(crate) async fn connections(&self, agent: &str) -> u32 {
        let id: AgentId = agent.parse().unwrap();
        self.service
            .agents(&self.tenant)
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.record.id == id)
            .map_or(0, |v| v.connections)
    }

    /// The stored record of an agent.
    pub(crate) async fn record(&self, agent: &str) -> pta_service::AgentRecord {
        let id: AgentId = agent.parse().unwrap();
        self.service
            .agents(&self.tenant)
            .await
            .unwrap()
            .into_iter()
            .find(|v| v.record.id == id)
            .unwrap()
            .record
    }

    pub(crate) async fn agent_count(&self) -> usize {
        self.service.agents(&self.tenant).await.unwrap().len()
    }

    /// Waits until the agent has a live connection; returns how long it took.
    pub(crate) async fn wait_connected(&self, agent: &str) -> Duration {
        let start = Instant::now();
        while self.connections(agent).await == 0 {
            assert!(start.elapsed() < WAIT, "agent {agent} did not connect");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        start.elapsed()
    }

    /// An admin request on the API listener, HTTPS trusting the service CA.
    pub(crate) async fn admin_post(&self, path: &str) -> (u16, serde_json::Value) {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.service.service_ca_der()))
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let addr = self.api.addr;
        let work = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
                .connect(ServerName::from(addr.ip()), tcp)
                .await
                .unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let request = hyper::Request::builder()
                .method("POST")
                .uri(path)
                .header("host", addr.to_string())
                .header("authorization", format!("Bearer {ADMIN}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice(&body).unwrap())
        };
        tokio::time::timeout(WAIT, work).await.unwrap()
    }
}

/// What an agent's configuration file says besides the defaults of these tests.
#[derive(Clone, Default)]
pub(crate) struct AgentSetup {
    /// TOML of the `[directory...]` tables.
    pub(crate) directory: String,
    /// Extra TOML tables (`[proxy]`, `[renewal]`).
    pub(crate) extra: String,
    /// Run the binary under `faketime -f OFFSET` (e.g. `+5m`).
    pub(crate) faketime: Option<String>,
    /// `limits.max_in_flight` (default 64).
    pub(crate) max_in_flight: Option<u32>,
}

/// A registered agent: its state directory, configuration and (while running) its process.
pub(crate) struct AgentProc {
    pub(crate) id: String,
    pub(crate) state_dir: PathBuf,
    config: PathBuf,
    pub(crate) log: PathBuf,
    faketime: Option<String>,
    child: Option<Child>,
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The agent binary, under a fake wall clock if `faketime` is set (`+5m`, `-5m`).
///
/// This sets what the `faketime` wrapper (package faketime) sets, `LD_PRELOAD` of libfaketime
/// and `FAKETIME`, instead of running the wrapper: the wrapper forks, so killing it by its pid
/// would leave the agent running. The monotonic clock is left alone (only the wall clock is
/// skewed, as on a machine whose clock is off).
fn command(faketime: Option<&str>) -> Command {
    let mut c = Command::new(AGENT_BIN);
    if let Some(offset) = faketime {
        assert!(
            Path::new(LIBFAKETIME).exists(),
            "install faketime (scripts/install-deps.sh)"
        );
        c.env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME", offset)
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env("FAKETIME_DONT_RESET", "1");
    }
    c
}

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Runs a command to completion within `WAIT` (killing it by its pid otherwise).
fn run_bounded(mut cmd: Command) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > WAIT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "command timed out: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl AgentProc {
    /// Writes the configuration, registers through the service's HTTPS registration endpoint
    /// with a fresh join token (`pta-agent register`) and starts `pta-agent run`.
    pub(crate) async fn register_and_run(stack: &Stack, name: &str, setup: AgentSetup) -> Self {
        let base = stack.dir.path().join(name);
        std::fs::create_dir_all(&base).unwrap();
        let state_dir = base.join("state");
        let config = base.join("pta-agent.toml");
        let text = format!(
            "{}\n{}\n[limits]\nkey_bits = 2048\nmax_in_flight = {}\n[reconnect]\ninitial = \"100ms\"\nmax = \"500ms\"\n\
             [timeouts]\nconnect = \"2s\"\ntls_handshake = \"2s\"\ndrain = \"2s\"\nregistration = \"20s\"\n\
             [log]\nlevel = \"debug\"\n",
            setup.directory,
            setup.extra,
            setup.max_in_flight.unwrap_or(64)
        );
        std::fs::write(&config, text).unwrap();
        let token_file = base.join("token");
        std::fs::write(&token_file, stack.token().await).unwrap();
        let mut cmd = command(setup.faketime.as_deref());
        cmd.arg("register")
            .arg("--service")
            .arg(stack.registration_url())
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--token-file")
            .arg(&token_file)
            .arg("--config")
            .arg(&config);
        let out = tokio::task::spawn_blocking(move || run_bounded(cmd))
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "registration of {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state_dir.join("agent.json")).unwrap()).unwrap();
        let mut agent = Self {
            id: info["agent_id"].as_str().unwrap().to_owned(),
            state_dir,
            config,
            log: base.join("agent.log"),
            faketime: setup.faketime,
            child: None,
        };
        agent.start();
        agent
    }

    /// Starts `pta-agent run` (stderr appended to the log file).
    pub(crate) fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = command(self.faketime.as_deref())
            .arg("run")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--config")
            .arg(&self.config)
            .env("NO_PROXY", "")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `limit` for the process to exit; its status, if it did.
    pub(crate) async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if start.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `pta-agent status` output.
    pub(crate) fn status_text(&self) -> String {
        let mut cmd = Command::new(AGENT_BIN);
        cmd.arg("status").arg("--state-dir").arg(&self.state_dir);
        let out = run_bounded(cmd);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The serial of the agent's current certificate, as `pta-agent status` prints it.
    pub(crate) fn serial(&self) -> String {
        let status = pta_agent_status(&self.state_dir);
        status.serial
    }
}

fn pta_agent_status(dir: &Path) -> pta_agent::AgentStatus {
    pta_agent::status(dir).unwrap()
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `[directory.ldap]` for the testkit's slapd at `url` (through a relay, or its own).
pub(crate) fn slapd_directory(dir: &Path, url: &str, ca_pem: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let ca = write_file(dir, "slapd-ca.pem", ca_pem);
    let pw = write_file(dir, "slapd-bind-password", "Service-Passw0rd!\n");
    format!(
        "[directory.ldap]\nurls = [\"{url}\"]\nca_file = \"{}\"\ndialect = \"openldap\"\n\
         resolution = \"search\"\nbind_dn = \"cn=svc-pta,ou=services,{base}\"\n\
         bind_password_file = \"{}\"\nbase_dn = \"{base}\"\nconnect_timeout = \"2s\"\n\
         operation_timeout = \"3s\"\nserver_backoff = \"100ms\"\n",
        ca.display(),
        pw.display(),
        base = pta_testkit::SLAPD_BASE_DN,
    )
}

/// One LDAP section for the Samba AD fixture (under `table`).
fn samba_section(table: &str, ca: &Path, pw: &Path) -> String {
    format!(
        "[{table}]\nurls = [\"ldaps://127.0.0.1:636\"]\nca_file = \"{}\"\ndialect = \"ad\"\n\
         bind_dn = \"svc-pta@example.test\"\nbind_password_file = \"{}\"\nbase_dn = \"{}\"\n\
         connect_timeout = \"3s\"\noperation_timeout = \"5s\"\nserver_backoff = \"100ms\"\n",
        ca.display(),
        pw.display(),
        pta_testkit::SAMBA_BASE_DN
    )
}

/// Directory tables for the Samba AD fixture: with `routes`, one route per UPN suffix
/// (`example.test`, `alt.test`) to the same domain.
pub(crate) fn samba_directory(dir: &Path, ca_pem: &str, routes: bool) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let ca = write_file(dir, "samba-ca.pem", ca_pem);
    let pw = write_file(dir, "samba-bind-password", "Service-Passw0rd!\n");
    if !routes {
        return samba_section("directory.ldap", &ca, &pw);
    }
    let mut text = String::new();
    for suffix in ["example.test", pta_testkit::SAMBA_ALT_SUFFIX] {
        text.push_str(&format!("[[directory.route]]\nsuffix = \"{suffix}\"\n"));
        text.push_str(&samba_section("directory.route.ldap", &ca, &pw));
    }
    text
}

/// A TCP relay the test can cut and restore: "the directory is down" without losing its port.
pub(crate) struct Relay {
    pub(crate) port: u16,
    target: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

impl Relay {
    pub(crate) async fn start(target: u16) -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut r = Self {
            port,
            target,
            task: None,
        };
        r.serve(l);
        r
    }

    fn serve(&mut self, l: tokio::net::TcpListener) {
        let target = self.target;
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut a, _)) = l.accept().await else {
                    continue;
                };
                conns.spawn(async move {
                    if let Ok(mut b) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                    }
                });
            }
        }));
    }

    /// Cuts every relayed connection and refuses new ones.
    pub(crate) fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub(crate) async fn restore(&mut self) {
        let l = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        self.serve(l);
    }
}

/// `ldapsearch` over LDAPS with a simple bind; returns the values of `attr` of the entry at
/// `base` (one line each).
pub(crate) fn ldap_values(
    url: &str,
    ca_pem_path: &Path,
    bind_dn: &str,
    password: &str,
    base: &str,
    attr: &str,
) -> Vec<String> {
    let mut cmd = Command::new("ldapsearch");
    cmd.env("LDAPTLS_CACERT", ca_pem_path)
        .env("LDAPTLS_REQCERT", "demand")
        .arg("-LLL")
        .arg("-o")
        .arg("ldif-wrap=no")
        .arg("-x")
        .arg("-H")
        .arg(url)
        .arg("-D")
        .arg(bind_dn)
        .arg("-w")
        .arg(password)
        .arg("-b")
        .arg(base)
        .arg("-s")
        .arg("base")
        .arg("(objectClass=*)")
        .arg(attr);
    let out = run_bounded(cmd);
    assert!(
        out.status.success(),
        "ldapsearch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = format!("{attr}: ");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

pub(crate) fn unix_ms() -> u64 {
    use pta_service::Clock;
    SystemClock.unix_ms()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Registers and runs one agent (`a1`) for the slapd at `url`, with `extra` configuration;
/// waits until it is connected.
pub(crate) async fn one_agent(
    stack: &Stack,
    slapd: &pta_testkit::Slapd,
    url: &str,
    extra: &str,
) -> AgentProc {
    let directory = slapd_directory(&stack.dir.path().join("a1"), url, slapd.ca_pem());
    let agent = AgentProc::register_and_run(
        stack,
        "a1",
        AgentSetup {
            directory,
            extra: extra.to_owned(),
            ..AgentSetup::default()
        },
    )
    .await;
    stack.wait_connected(&agent.id).await;
    agent
}
