//! The `pta-service` binary, run as a process: help, configuration errors, offline admin
//! commands on a real SQLite file, and (needing the runtime) `serve` and tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_pta-service");
/// Every run of the binary is bounded by this.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A data directory and a configuration file using it (RSA-2048 CAs for speed, every listener
/// on 127.0.0.1 port 0).
struct Setup {
    dir: TempDir,
    config: PathBuf,
}

impl Setup {
    fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pta-service.toml");
        let text = format!(
            "data_dir = {:?}\n\
             [agent]\nlisten = \"127.0.0.1:0\"\n\
             [registration]\nlisten = \"127.0.0.1:0\"\n\
             [api]\nlisten = \"127.0.0.1:0\"\n\
             [tenants]\nca_key_bits = 2048\nagent_limit = 7\n\
             [log]\nlevel = \"warn\"\n{extra}",
            dir.path().join("data").display().to_string()
        );
        std::fs::write(&config, text).unwrap();
        Self { dir, config }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config.display().to_string();
        all.extend(["--config", &config]);
        run(&all, &[])
    }
}

/// Runs the binary with a clean `PTA_*` environment plus `env`, bounded in time.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).stdin(Stdio::null());
    for (key, _) in std::env::vars() {
        if key.starts_with("PTA_") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            panic!("pta-service {args:?} did not finish in {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_fails(o: &Output, code: i32, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
    for needle in needles {
        assert!(
            stderr(o).contains(needle),
            "{needle:?} not in {}",
            stderr(o)
        );
    }
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("c.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

// ----- help and usage -----

#[test]
fn help_lists_the_commands() {
    let o = run(&["--help"], &[]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in ["serve", "tenant", "token", "agents", "--config"] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    let o = run(&["token", "create", "--help"], &[]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in ["--tenant", "--lifetime", "pta1.", "7d"] {
        assert!(text.contains(needle), "{needle:?} not in {text}");
    }
    let o = run(&["agents", "--help"], &[]);
    assert!(stdout(&o).contains("list") && stdout(&o).contains("revoke"));
    let o = run(&["--version"], &[]);
    assert!(o.status.success() && stdout(&o).starts_with("pta-service "));
}

#[test]
fn usage_errors_exit_2() {
    // No command, an unknown command, a missing argument: clap's usage errors.
    assert_eq!(run(&[], &[]).status.code(), Some(2));
    assert_fails(&run(&["frobnicate"], &[]), 2, &["frobnicate"]);
    assert_fails(
        &run(&["token", "create", "--config", "x"], &[]),
        2,
        &["--tenant"],
    );
    // No --config.
    assert_fails(
        &run(&["tenant", "create", "acme"], &[]),
        2,
        &["--config FILE is required"],
    );
}

// ----- configuration errors -----

#[test]
fn missing_config_file_is_named() {
    assert_fails(
        &run(&["serve", "--config", "/nonexistent/pta.toml"], &[]),
        2,
        &["/nonexistent/pta.toml"],
    );
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "data_dir = \"/tmp/x\"\n[api]\ntls = true\nlisten_on = 1\n",
    );
    assert_fails(
        &run(&["serve", "--config", &config], &[]),
        2,
        &["listen_on", "line 4"],
    );
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[sign_in]\ndeadline = \"forever\"\n");
    assert_fails(
        &run(&["serve", "--config", &config], &[]),
        2,
        &["line 2", "duration"],
    );
    let config = write_config(
        dir.path(),
        "[status]\ninactive_after = \"2h\"\npurge_after = \"1h\"\n",
    );
    assert_fails(
        &run(&["serve", "--config", &config], &[]),
        2,
        &["status.purge_after"],
    );
    let config = write_config(dir.path(), "[log]\nlevel = \"info,=[\"\n");
    assert_fails(
        &run(&["serve", "--config", &config], &[]),
        2,
        &["log.level"],
    );
}

#[test]
fn plain_secret_in_the_file_is_refused_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[secrets]\nadmin_token = \"Hunter2-Hunter2-Hunter2\"\n",
    );
    let o = run(&["serve", "--config", &config], &[]);
    assert_fails(&o, 2, &["secrets.admin_token", "PTA_ADMIN_TOKEN", "line 2"]);
    assert!(!stderr(&o).contains("Hunter2"));
    assert!(!stdout(&o).contains("Hunter2"));
}

#[test]
fn bad_environment_is_named() {
    let setup = Setup::new("");
    let config = setup.config.display().to_string();
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_API_LISTEN", "nowhere")],
    );
    assert_fails(&o, 2, &["PTA_API_LISTEN"]);
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_LOG_JSON", "perhaps")],
    );
    assert_fails(&o, 2, &["PTA_LOG_JSON"]);
    // A weak secret is refused before anything starts, and not echoed.
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_ADMIN_TOKEN", "tiny-Secret")],
    );
    assert_fails(&o, 2, &["admin token", "16"]);
    assert!(!stderr(&o).contains("tiny-Secret"));
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_API_KEYS", "ok-key-0123456789abc,bad key here!!")],
    );
    assert_fails(&o, 2, &["API key 2"]);
}

#[test]
fn bad_lifetime_and_agent_id_are_refused() {
    let setup = Setup::new("");
    assert_fails(
        &setup.run(&["token", "create", "--tenant", "x", "--lifetime", "8d"]),
        2,
        &["--lifetime", "7d"],
    );
    assert_fails(
        &setup.run(&["token", "create", "--tenant", "x", "--lifetime", "soon"]),
        2,
        &["--lifetime"],
    );
    assert_fails(
        &setup.run(&["agents", "revoke", "not-an-id"]),
        2,
        &["not an agent id"],
    );
    // A tenant name that is an id, or holds a control character.
    assert_fails(
        &setup.run(&["tenant", "create", "01010101-0101-4101-8101-010101010101"]),
        2,
        &["not a tenant id"],
    );
    assert_fails(&setup.run(&["tenant", "create", "a\tb"]), 2, &["control"]);
}

// ----- offline admin commands on a real SQLite file -----

#[test]
fn tenant_create_and_agents_list_work_offline() {
    let setup = Setup::new("");
    let o = setup.run(&["tenant", "create", "contoso"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).trim().to_owned();
    assert_eq!(id.len(), 36, "a tenant id: {id}");
    assert_eq!(id.matches('-').count(), 4);
    // The data directory was created 0700 with the database inside.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(setup.data_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    assert!(setup.data_dir().join("pta.sqlite3").is_file());
    // The same name again: refused.
    assert_fails(
        &setup.run(&["tenant", "create", "contoso"]),
        1,
        &["already exists"],
    );
    // Listed by name and by id: a header, no agents yet.
    for key in ["contoso", id.as_str()] {
        let o = setup.run(&["agents", "list", "--tenant", key]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stdout(&o),
            "AGENT_ID\tSTATUS\tVERSION\tLAST_SEEN_MS\tLAST_SOURCE\n"
        );
    }
    assert_fails(
        &setup.run(&["agents", "list", "--tenant", "nope"]),
        1,
        &["no tenant", "nope"],
    );
    // The data directory can also come from the environment.
    let other = tempfile::tempdir().unwrap();
    let dir = other.path().join("state");
    let config = setup.config.display().to_string();
    let o = run(
        &["tenant", "create", "fabrikam", "--config", &config],
        &[("PTA_DATA_DIR", dir.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("pta.sqlite3").is_file());
}

// ----- needing the runtime -----

#[test]
fn token_create_prints_only_the_token() {
    let setup = Setup::new("");
    assert!(setup.run(&["tenant", "create", "contoso"]).status.success());
    let o = setup.run(&[
        "token",
        "create",
        "--tenant",
        "contoso",
        "--lifetime",
        "30m",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "one line: {out}");
    let parts: Vec<&str> = line.split('.').collect();
    assert_eq!(parts.len(), 3, "{line}");
    assert_eq!(parts[0], "pta1");
    assert_eq!(parts[1].len(), 43);
    assert!(
        parts[1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(parts[2].len(), 64);
    assert!(
        parts[2]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    // A second token pins the same service CA.
    let o = setup.run(&["token", "create", "--tenant", "contoso"]);
    assert!(stdout(&o).trim().ends_with(parts[2]));
    assert_fails(
        &setup.run(&["token", "create", "--tenant", "nope"]),
        1,
        &["no tenant"],
    );
}

#[test]
fn agents_revoke_unknown_agent_fails() {
    let setup = Setup::new("");
    let o = setup.run(&["agents", "revoke", "01010101-0101-4101-8101-010101010101"]);
    assert_fails(&o, 1, &["no agent"]);
}

#[test]
fn serve_prints_addresses_and_stops_on_sigterm() {
    let setup = Setup::new("");
    let config = setup.config.display().to_string();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", &config])
        .env("PTA_ADMIN_TOKEN", "admin-token-0123456789")
        .env("PTA_API_KEYS", "front-end-key-0123456789")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Not read by the test: a pipe could fill up and block the server.
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..3 {
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
        }
    });
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("an address line");
        addrs.push(line);
    }
    assert!(
        addrs[0].starts_with("agent listener: 127.0.0.1:"),
        "{addrs:?}"
    );
    assert!(
        addrs[1].starts_with("registration: https://127.0.0.1:"),
        "{addrs:?}"
    );
    assert!(addrs[2].starts_with("api: https://127.0.0.1:"), "{addrs:?}");
    // Each printed address accepts connections.
    for line in &addrs {
        let addr = line.rsplit(['/', ' ']).next().unwrap();
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5))
            .unwrap();
    }
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            start.elapsed() < RUN_TIMEOUT,
            "serve did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    // The in-memory lockout store persists by default: a generated secret (32 bytes, 0600)
    // and the snapshot written at shutdown, both in the data directory.
    let secret = setup.data_dir().join("lockout.secret");
    let snapshot = setup.data_dir().join("lockout.snapshot");
    assert_eq!(std::fs::read(&secret).unwrap().len(), 32);
    assert!(
        std::fs::read(&snapshot)
            .unwrap()
            .starts_with(b"PTALOCKF\x01")
    );
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&secret, &snapshot] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
}

#[test]
fn a_redis_lockout_store_needs_a_secret_file() {
    let setup = Setup::new("[lockout]\nredis_url = \"redis://127.0.0.1:1\"\n");
    let config = setup.config.display().to_string();
    let o = run(&["serve", "--config", &config], &[]);
    assert_fails(&o, 2, &["lockout.secret_file", "Redis"]);
    assert!(!setup.data_dir().join("lockout.secret").exists());
}

#[test]
fn serve_refuses_a_short_or_missing_lockout_secret_naming_key_and_path() {
    let setup = Setup::new("");
    let short = setup.dir.path().join("lockout.key");
    std::fs::write(&short, b"TOO-SHORT-LOCKOUT-SECRET").unwrap();
    let config = setup.config.display().to_string();
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_LOCKOUT_SECRET_FILE", short.to_str().unwrap())],
    );
    assert_fails(&o, 2, &["lockout.secret_file", "lockout.key", "32"]);
    assert!(!stderr(&o).contains("TOO-SHORT"));
    let missing = setup.dir.path().join("missing.key");
    let o = run(
        &["serve", "--config", &config],
        &[("PTA_LOCKOUT_SECRET_FILE", missing.to_str().unwrap())],
    );
    assert_fails(&o, 2, &["lockout.secret_file", "missing.key"]);
}

// ----- PostgreSQL and Redis -----

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 GET over plain TCP (the API with `tls = false`): status line and body.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn an_unreachable_postgres_store_is_named_by_host_and_port_never_the_password() {
    let port = free_port();
    let password = "pg-Password-that-must-not-leak";
    let setup = Setup::new(&format!(
        "[store]\nurl = \"postgres://pta@127.0.0.1:{port}/pta\"\nconnect_timeout = \"2s\"\n"
    ));
    let file = setup.dir.path().join("pg-password");
    std::fs::write(&file, password).unwrap();
    let config = setup.config.display().to_string();
    let file = file.display().to_string();
    for args in [
        &["tenant", "create", "contoso", "--config", &config][..],
        &["serve", "--config", &config][..],
    ] {
        let o = run(args, &[("PTA_STORE_PASSWORD_FILE", &file)]);
        assert_fails(&o, 1, &["state store", &format!("127.0.0.1:{port}")]);
        assert!(!stderr(&o).contains(password), "{}", stderr(&o));
        assert!(!stdout(&o).contains(password));
    }
    // A password in the URL is refused before anything is opened, and not echoed.
    let setup = Setup::new(&format!(
        "[store]\nurl = \"postgres://pta:{password}@127.0.0.1:{port}/pta\"\n"
    ));
    let o = setup.run(&["tenant", "create", "contoso"]);
    assert_fails(&o, 2, &["store.url", "password_file"]);
    assert!(!stderr(&o).contains(password));
}

#[test]
fn serve_on_postgres_and_redis_with_a_tenant_made_offline() {
    let pg = pta_testkit::Postgres::start().unwrap();
    let redis = pta_testkit::Redis::start().unwrap();
    let url = pg.create_database("cli_serve").unwrap();
    assert!(url.contains(pg.password()));
    let setup = Setup::new(&format!(
        "[store]\nurl = \"postgres://{}@127.0.0.1:{}/cli_serve\"\npassword_file = \"PWFILE\"\npool_size = 4\n\
         [lockout]\nredis_url = \"{}\"\nkey_prefix = \"cli:\"\nthreshold = 5\n\
         [lockout.tenants.\"contoso\"]\nthreshold = 3\n",
        pg.role(),
        pg.port(),
        redis.url(),
    ));
    let password_file = setup.dir.path().join("pg-password");
    std::fs::write(&password_file, format!("{}\n", pg.password())).unwrap();
    // Nodes sharing a Redis lockout store share a secret from a file.
    let secret_file = setup.dir.path().join("lockout.key");
    std::fs::write(&secret_file, [7u8; 32]).unwrap();
    let text = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("PWFILE", password_file.to_str().unwrap())
        .replace(
            "[lockout]\n",
            &format!(
                "[lockout]\nsecret_file = {:?}\n",
                secret_file.to_str().unwrap()
            ),
        )
        .replace(
            "[api]\nlisten = \"127.0.0.1:0\"",
            "[api]\nlisten = \"127.0.0.1:0\"\ntls = false",
        );
    std::fs::write(&setup.config, text).unwrap();

    // Offline, against the same database.
    let o = setup.run(&["tenant", "create", "contoso"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id = stdout(&o).trim().to_owned();
    let o = setup.run(&["agents", "list", "--tenant", "contoso"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!setup.data_dir().join("pta.sqlite3").exists());

    let config = setup.config.display().to_string();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", &config])
        .env("PTA_ADMIN_TOKEN", "admin-token-0123456789")
        .env("PTA_API_KEYS", "front-end-key-0123456789")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..3 {
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
        }
    });
    let mut api = None;
    for _ in 0..3 {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("a line");
        if let Some(addr) = line.strip_prefix("api: http://") {
            api = Some(addr.to_owned());
        }
    }
    let api = api.expect("the api line");
    let health = http_get(&api, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains("\"tenants\":1"), "{health}");
    let metrics = http_get(&api, "/metrics");
    assert!(metrics.contains("# TYPE pta_lockout_store_seconds histogram"));
    // A tenant made offline while the node runs is picked up from the shared database.
    let o = setup.run(&["tenant", "create", "fabrikam"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let start = Instant::now();
    loop {
        let health = http_get(&api, "/healthz");
        if health.contains("\"tenants\":2") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{health}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!id.is_empty());

    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(start.elapsed() < RUN_TIMEOUT, "serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}
