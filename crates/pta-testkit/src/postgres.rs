//! A private PostgreSQL server.

use std::fmt::Write as _;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, io};
use crate::process::{ServerProcess, StartFailure, free_port, log_tail, run};

/// How long PostgreSQL may take to accept connections (it takes well under a second).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts: a free port can be taken by someone else between our probe and the bind.
const START_ATTEMPTS: usize = 3;
/// Where Debian installs the server binaries, one directory per major version.
const DEBIAN_DIR: &str = "/usr/lib/postgresql";
/// The unprivileged system user the server runs as when the fixture runs as root
/// (`initdb` and `postgres` refuse to run as root).
const SYSTEM_USER: &str = "postgres";
/// The superuser created by `initdb`, reachable only over the fixture's Unix socket.
const SUPERUSER: &str = "postgres";
/// The test role: password authentication (scram-sha-256) over TCP, may create databases.
const ROLE: &str = "pta_test";
/// The test database, owned by [`ROLE`].
const DATABASE: &str = "pta_test";

/// A private PostgreSQL server on 127.0.0.1: a fresh cluster (`initdb`) in its own temporary
/// directory, a free port, a Unix socket in that directory, and a test role with a generated
/// password that authenticates with scram-sha-256 over TCP from 127.0.0.1 only. Stopped (fast
/// shutdown) and its directory deleted on drop.
///
/// When the test runs as root the server runs as Debian's `postgres` system user (PostgreSQL
/// refuses root); the directory is then owned by that user.
///
/// Durability is off (`fsync = off`, `synchronous_commit = off`, `full_page_writes = off`):
/// a crash loses data, a [`stop`](Self::stop) and [`start_again`](Self::start_again) does not.
/// Isolate tests with [`create_database`](Self::create_database): one server, a fresh database
/// per test.
pub struct Postgres {
    process: Option<ServerProcess>,
    bin: PathBuf,
    run_as: Option<&'static str>,
    port: u16,
    password: String,
    // Last, so the directory goes after the process has stopped.
    dir: tempfile::TempDir,
}

impl Postgres {
    /// Creates a cluster and starts the server.
    ///
    /// # Errors
    ///
    /// [`Error::MissingProgram`] if PostgreSQL is not installed; [`Error::Command`] if
    /// `initdb` or the set-up SQL fails; [`Error::Exited`] or [`Error::StartTimeout`] with the
    /// server's log if it does not come up within 20 s.
    pub fn start() -> Result<Self> {
        let bin = find_bin_dir()?;
        let run_as = if running_as_root() {
            Some(SYSTEM_USER)
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("pta-testkit-postgres-")
            .tempdir()
            .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
        let root = dir.path();
        if let Some(user) = run_as {
            run(
                Command::new("chown").arg(format!("{user}:")).arg(root),
                "chown (fixture directory)",
            )?;
        }
        let password = random_hex(16)?;
        let pwfile = root.join("superuser.pw");
        write(&pwfile, &random_hex(16)?)?;
        if let Some(user) = run_as {
            run(
                Command::new("chown").arg(format!("{user}:")).arg(&pwfile),
                "chown (password file)",
            )?;
        }
        let data = root.join("data");
        run(
            as_user(run_as, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        )?;
        // Local connections (the fixture's own socket, in a directory only the server's user
        // and root can enter) for the set-up; passwords over TCP from 127.0.0.1 only.
        write(
            &data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )?;

        let mut fixture = Self {
            process: None,
            bin,
            run_as,
            port: 0,
            password,
            dir,
        };
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            fixture.port = free_port()?;
            match fixture.spawn() {
                Ok(()) => {
                    last = None;
                    break;
                }
                // Most likely a port race: try another port.
                Err(StartFailure::Exited(e)) => last = Some(e),
                Err(StartFailure::Timeout(e)) => return Err(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        let setup = fixture.dir.path().join("setup.sql");
        write(
            &setup,
            &format!(
                "CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{}';\n\
                 CREATE DATABASE {DATABASE} OWNER {ROLE};\n",
                fixture.password
            ),
        )?;
        fixture.psql_file(&setup)?;
        std::fs::remove_file(&setup).map_err(io("remove", &setup))?;
        Ok(fixture)
    }

    /// `postgres://ROLE:PASSWORD@127.0.0.1:PORT/DATABASE` for the test database.
    pub fn url(&self) -> String {
        self.database_url(DATABASE)
    }

    /// The URL of database `name` on this server, as the test role.
    pub fn database_url(&self, name: &str) -> String {
        format!(
            "postgres://{ROLE}:{}@127.0.0.1:{}/{name}",
            self.password, self.port
        )
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test role's name.
    pub fn role(&self) -> &'static str {
        ROLE
    }

    /// The test role's generated password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The test database's name.
    pub fn database(&self) -> &'static str {
        DATABASE
    }

    /// Creates database `name` (letters, digits and `_` only), owned by the test role, and
    /// returns its URL: one server, a fresh database per test.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] if the name is not a plain identifier, is taken, or the server does
    /// not answer.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let plain = !name.is_empty()
            && name.len() < 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(Error::InvalidName {
                name: name.to_owned(),
            });
        }
        self.psql(&format!("CREATE DATABASE {name} OWNER {ROLE}"))?;
        Ok(self.database_url(name))
    }

    /// Runs one SQL command as the superuser over the fixture's Unix socket; returns its
    /// unaligned output.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] with psql's output if it fails.
    pub fn psql(&self, sql: &str) -> Result<String> {
        run(
            self.psql_command().args(["-tA", "-c", sql]),
            &format!("psql -c {sql:?}"),
        )
    }

    fn psql_file(&self, path: &Path) -> Result<String> {
        run(self.psql_command().arg("-f").arg(path), "psql (set-up)")
    }

    fn psql_command(&self) -> Command {
        let mut command = as_user(self.run_as, &self.bin.join("psql"));
        command
            .arg("-h")
            .arg(self.dir.path())
            .arg("-p")
            .arg(self.port.to_string())
            .args([
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-X",
                "-v",
                "ON_ERROR_STOP=1",
            ]);
        command
    }

    /// Process id of the postmaster, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ServerProcess::pid)
    }

    /// The fixture's directory (cluster in `data/`, log `postgres.log`, Unix socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Stops the server (fast shutdown: open sessions are ended) and keeps its data, so
    /// [`start_again`](Self::start_again) brings it back on the same port. A no-op when it
    /// is stopped.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.interrupt_and_wait(STOP_TIMEOUT);
        }
    }

    /// Starts the stopped server again on the same port with the same data. A no-op when it
    /// runs.
    ///
    /// # Errors
    ///
    /// [`Error::Exited`] (the port was taken meanwhile, say) or [`Error::StartTimeout`], with
    /// the server's log.
    pub fn start_again(&mut self) -> Result<()> {
        if self.process.is_some() {
            return Ok(());
        }
        self.spawn().map_err(|e| match e {
            StartFailure::Exited(e) | StartFailure::Timeout(e) => e,
        })
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Starts the postmaster on `self.port` and waits until it accepts connections.
    fn spawn(&mut self) -> Result<(), StartFailure> {
        let root = self.dir.path();
        let mut command = as_user(self.run_as, &self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(root.join("data"))
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!("port={}", self.port))
            .arg("-c")
            .arg(format!("unix_socket_directories={}", root.display()))
            .args(["-c", "password_encryption=scram-sha-256"])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .args(["-c", "logging_collector=off", "-c", "ssl=off"]);
        let log = self.log_path();
        let mut process =
            ServerProcess::spawn("postgres", command, log.clone()).map_err(StartFailure::Exited)?;
        let started = Instant::now();
        process.wait_listening(&[self.port], START_TIMEOUT)?;
        // The port opens before start-up ends; pg_isready says when sessions are accepted.
        let isready = self.bin.join("pg_isready");
        loop {
            let ready = Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p"])
                .arg(self.port.to_string())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                self.process = Some(process);
                return Ok(());
            }
            if let Some(status) = process.try_exited() {
                return Err(StartFailure::Exited(Error::Exited {
                    server: "postgres",
                    status,
                    log_path: log.clone(),
                    log: log_tail(&log),
                }));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartFailure::Timeout(Error::StartTimeout {
                    server: "postgres",
                    ports: vec![self.port],
                    seconds: START_TIMEOUT.as_secs(),
                    log_path: log.clone(),
                    log: log_tail(&log),
                }));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("process", &self.process)
            .field("bin", &self.bin)
            .field("run_as", &self.run_as)
            .field("port", &self.port)
            .field("password", &"[redacted]")
            .field("dir", &self.dir)
            .finish()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `/usr/lib/postgresql/<newest version>/bin`, with `initdb`, `postgres`, `psql` and
/// `pg_isready` in it.
fn find_bin_dir() -> Result<PathBuf> {
    let missing = Error::MissingProgram {
        program: "initdb",
        package: "postgresql",
    };
    let Ok(entries) = std::fs::read_dir(DEBIAN_DIR) else {
        return Err(missing);
    };
    let best = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "postgres", "psql", "pg_isready"]
                .iter()
                .all(|p| bin.join(p).is_file())
                .then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    best.map(|(_, bin)| bin).ok_or(missing)
}

/// Whether this process runs as root (`/proc/self` is owned by the effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program`, run as `user` through `setpriv` (which execs it: the process id stays the
/// server's), or directly.
fn as_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={user}"))
                .arg(format!("--regid={user}"))
                .arg("--init-groups")
                .arg("--")
                .arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// `bytes` random bytes from the kernel, as lowercase hex.
fn random_hex(bytes: usize) -> Result<String> {
    let path = "/dev/urandom";
    let mut buf = vec![0u8; bytes];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io("read", path))?;
    let mut hex = String::with_capacity(bytes * 2);
    for b in buf {
        let _ = write!(hex, "{b:02x}");
    }
    Ok(hex)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io("write", path))
}
