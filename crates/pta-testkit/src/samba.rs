//! A Samba Active Directory domain controller.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result, io};
use crate::process::{
    ServerProcess, StartFailure, find_program, port_is_open, process_is_alive, run,
};
use crate::tls::{TestCa, set_mode};
use crate::users::{
    Role, SAMBA_ALT_SUFFIX, SAMBA_BASE_DN, SAMBA_DOMAIN, SAMBA_REALM, SAMBA_USERS, TestUser,
    short_name,
};

/// The Python script that populates a provisioned domain (runs on sam.ldb directly).
const SETUP_PY: &str = include_str!("../samba/setup.py");
/// Administrator password of the test domain.
const ADMIN_PASSWORD: &str = "Admin-Passw0rd!";
/// Samba's LDAP ports are fixed.
const LDAP_PORT: u16 = 389;
/// Samba's LDAPS port.
const LDAPS_PORT: u16 = 636;
/// How long Samba may take to listen (it takes under a second from a restored copy).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fixture waits for another to release the domain.
const LOCK_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// A pristine copy older than this is provisioned again (the locked user's lockout lasts
/// 99,999 minutes, about 69 days, from provisioning).
const PRISTINE_MAX_AGE: Duration = Duration::from_secs(30 * 86_400);

/// One Samba AD DC for the domain `EXAMPLE.TEST` on 127.0.0.1:389 (LDAP and StartTLS) and :636
/// (LDAPS), with the user matrix of [`SAMBA_USERS`]. Stopped on drop.
///
/// The domain is provisioned once (a few seconds) into the fixture directory
/// (`$PTA_TESTKIT_DIR`, default `/var/tmp/pta-testkit`) and kept as a pristine copy; each
/// fixture restores that copy, so every test starts from the same state. Because the ports are
/// fixed, only one fixture runs at a time on a machine: fixtures in any test binary wait for an
/// exclusive lock on `samba.lock` in that directory.
///
/// Domain policy: lockout after 3 bad passwords (for 99,999 minutes), passwords never expire,
/// no complexity rules; a fine-grained policy expires the password-expired user's password after
/// 2 days (it was set 3 days before provisioning). The forest also has the UPN suffix
/// `alt.test`. Needs root (ports below 1024).
#[derive(Debug)]
pub struct SambaAd {
    process: ServerProcess,
    ca: TestCa,
    run_dir: PathBuf,
    /// How long this fixture took to start, and whether it provisioned the domain.
    start: StartReport,
    // Last: released only after the server has stopped.
    _lock: File,
}

/// What starting a [`SambaAd`] fixture cost.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct StartReport {
    /// Time spent waiting for another fixture to release the domain.
    pub waited: Duration,
    /// Time spent provisioning, if this fixture had to (no pristine copy, or a stale one).
    pub provisioned: Option<Duration>,
    /// Time from restoring the pristine copy to Samba listening.
    pub restored: Duration,
}

impl SambaAd {
    /// Starts the domain controller from the pristine copy, provisioning it first if needed.
    pub fn start() -> Result<Self> {
        let samba = find_program("samba", "samba-ad-dc")?;
        let base = fixture_dir();
        std::fs::create_dir_all(&base).map_err(io("create", &base))?;

        let t0 = Instant::now();
        let lock = lock_exclusive(&base.join("samba.lock"))?;
        let waited = t0.elapsed();

        let run_dir = base.join("samba-run");
        stop_stale_instance(&base, &run_dir)?;

        let pristine = base.join(format!("samba-pristine-{:016x}", recipe_hash()));
        let provisioned = if pristine_is_fresh(&pristine) {
            None
        } else {
            let t = Instant::now();
            provision(&samba, &base, &run_dir, &pristine)?;
            Some(t.elapsed())
        };

        let t1 = Instant::now();
        restore(&pristine, &run_dir)?;
        let ca = TestCa::create(&run_dir.join("tls"))?;
        let process = start_samba(&samba, &base, &run_dir)?;
        let start = StartReport {
            waited,
            provisioned,
            restored: t1.elapsed(),
        };
        Ok(Self {
            process,
            ca,
            run_dir,
            start,
            _lock: lock,
        })
    }

    /// `ldap://127.0.0.1:389` (plain LDAP; StartTLS works on it).
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{LDAP_PORT}")
    }

    /// `ldaps://127.0.0.1:636`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{LDAPS_PORT}")
    }

    /// The plain LDAP port (389).
    pub fn ldap_port(&self) -> u16 {
        LDAP_PORT
    }

    /// The LDAPS port (636).
    pub fn ldaps_port(&self) -> u16 {
        LDAPS_PORT
    }

    /// The test CA that issued the server certificate (SAN `IP:127.0.0.1`, `DNS:localhost`).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The test CA certificate as PEM.
    pub fn ca_pem(&self) -> &str {
        self.ca.ca_pem()
    }

    /// Process id of samba.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The running copy of the domain (configuration `etc/smb.conf`, log `samba.log`).
    pub fn dir(&self) -> &Path {
        &self.run_dir
    }

    /// What starting this fixture cost.
    pub fn start_report(&self) -> StartReport {
        self.start
    }

    /// The base DN, `DC=example,DC=test`.
    pub fn base_dn(&self) -> &'static str {
        SAMBA_BASE_DN
    }

    /// The realm, `EXAMPLE.TEST`.
    pub fn realm(&self) -> &'static str {
        SAMBA_REALM
    }

    /// The NetBIOS domain, `EXAMPLE`.
    pub fn domain(&self) -> &'static str {
        SAMBA_DOMAIN
    }

    /// The user matrix.
    pub fn users(&self) -> &'static [TestUser] {
        SAMBA_USERS
    }

    /// The matrix user with `role`, if this fixture has one.
    pub fn user(&self, role: Role) -> Option<&'static TestUser> {
        crate::users::by_role(SAMBA_USERS, role)
    }

    /// Stops the server now (as dropping does).
    pub fn stop(self) {}
}

/// Where fixtures keep state that outlives one test: `$PTA_TESTKIT_DIR` or `/var/tmp/pta-testkit`.
pub fn fixture_dir() -> PathBuf {
    std::env::var_os("PTA_TESTKIT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/pta-testkit"))
}

fn lock_exclusive(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("open", path))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() > LOCK_TIMEOUT {
                    return Err(Error::LockTimeout {
                        path: path.to_owned(),
                        seconds: LOCK_TIMEOUT.as_secs(),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("lock", path)(e)),
        }
    }
}

/// A Samba that an earlier fixture started and could not stop (its test binary was killed)
/// still holds the ports. It is ours if its command line names our run directory: stop it.
/// Anything else on the ports is an error.
fn stop_stale_instance(base: &Path, run_dir: &Path) -> Result<()> {
    let pid_file = base.join("samba.pid");
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(&*run_dir.to_string_lossy());
        if ours && process_is_alive(pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while process_is_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    for port in [LDAP_PORT, LDAPS_PORT] {
        if port_is_open(port) {
            return Err(Error::PortBusy { port });
        }
    }
    Ok(())
}

/// A hash of everything the pristine copy depends on: a change to the recipe provisions anew.
fn recipe_hash() -> u64 {
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    feed(SETUP_PY.as_bytes());
    feed(smb_conf_extra(Path::new("/")).as_bytes());
    feed(SAMBA_ALT_SUFFIX.as_bytes());
    for spec in user_specs() {
        feed(spec.as_bytes());
    }
    h
}

fn pristine_is_fresh(pristine: &Path) -> bool {
    std::fs::metadata(pristine.join("complete"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < PRISTINE_MAX_AGE)
}

/// `name:password:upn:mail:kind` for setup.py.
fn user_specs() -> Vec<String> {
    SAMBA_USERS
        .iter()
        .map(|u| {
            let kind = match u.role {
                Role::Disabled => "disabled",
                Role::AccountExpired => "account-expired",
                Role::PasswordExpired => "password-expired",
                Role::MustChange => "must-change",
                _ => "good",
            };
            format!(
                "{}:{}:{}:{}:{kind}",
                short_name(u),
                u.password,
                u.login,
                u.mail.unwrap_or("")
            )
        })
        .collect()
}

fn smb_conf_extra(run_dir: &Path) -> String {
    let tls = run_dir.join("tls");
    format!(
        "\tinterfaces = 127.0.0.1\n\
         \tbind interfaces only = yes\n\
         \tserver services = ldap\n\
         \tldap server require strong auth = no\n\
         \told password allowed period = 0\n\
         \ttls enabled = yes\n\
         \ttls keyfile = {key}\n\
         \ttls certfile = {cert}\n\
         \ttls cafile = {ca}\n\
         \tpid directory = {pid}\n",
        key = tls.join("server.key").display(),
        cert = tls.join("server.pem").display(),
        ca = tls.join("ca.pem").display(),
        pid = run_dir.join("run").display(),
    )
}

fn provision(samba: &Path, base: &Path, run_dir: &Path, pristine: &Path) -> Result<()> {
    let samba_tool = find_program("samba-tool", "samba")?;
    let faketime = find_program("faketime", "faketime")?;
    let ldapwhoami = find_program("ldapwhoami", "ldap-utils")?;
    let python = PathBuf::from("/usr/bin/python3");
    if !python.is_file() {
        return Err(Error::MissingProgram {
            program: "/usr/bin/python3",
            package: "python3",
        });
    }

    remove_dir(run_dir)?;
    std::fs::create_dir_all(run_dir).map_err(io("create", run_dir))?;
    // An empty configuration keeps /etc/samba/smb.conf out of the provisioned one.
    let empty = run_dir.join("empty.conf");
    std::fs::write(&empty, "").map_err(io("write", &empty))?;
    run(
        Command::new(&samba_tool)
            .args(["domain", "provision", "-s"])
            .arg(&empty)
            .arg(format!("--realm={SAMBA_REALM}"))
            .arg(format!("--domain={SAMBA_DOMAIN}"))
            .args([
                "--server-role=dc",
                "--dns-backend=NONE",
                "--host-ip=127.0.0.1",
            ])
            .arg("--host-name=ptadc")
            .arg(format!("--adminpass={ADMIN_PASSWORD}"))
            .arg(format!("--targetdir={}", run_dir.display())),
        "samba-tool domain provision",
    )?;

    // Keep only the LDAP server, on 127.0.0.1, with simple binds over plain LDAP allowed (the
    // provisioner drops that option, so it is appended afterwards) and our TLS files.
    let conf = run_dir.join("etc/smb.conf");
    let text = std::fs::read_to_string(&conf).map_err(io("read", &conf))?;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("server services") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[global]" {
            out.push_str(&smb_conf_extra(run_dir));
        }
    }
    std::fs::write(&conf, out).map_err(io("write", &conf))?;
    std::fs::create_dir_all(run_dir.join("run")).map_err(io("create", run_dir.join("run")))?;

    let script = run_dir.join("setup.py");
    std::fs::write(&script, SETUP_PY).map_err(io("write", &script))?;
    run(
        Command::new(&python)
            .arg(&script)
            .arg(&conf)
            .args(["users", SAMBA_ALT_SUFFIX])
            .args(user_specs()),
        "setup.py users",
    )?;
    // Date the expired user's password back three days; its policy's maximum age is two.
    if let Some(user) = crate::users::by_role(SAMBA_USERS, Role::PasswordExpired) {
        run(
            Command::new(&faketime)
                .args(["-f", "-3d"])
                .arg(&python)
                .arg(&script)
                .arg(&conf)
                .args(["set-password", short_name(user), user.password]),
            "faketime -f -3d setup.py set-password",
        )?;
    }

    // Lock the locked user for real: three bad passwords through the running server.
    TestCa::create(&run_dir.join("tls"))?;
    let mut process = start_samba(samba, base, run_dir)?;
    if let Some(user) = crate::users::by_role(SAMBA_USERS, Role::FailureLocked) {
        for _ in 0..3 {
            let out = whoami(&ldapwhoami, user.login, "not-the-password");
            if !out.contains("data 52e") {
                return Err(provision_error(
                    "bad-password bind for the locked user",
                    out,
                ));
            }
        }
        let out = whoami(&ldapwhoami, user.login, user.password);
        if !out.contains("data 775") {
            return Err(provision_error("the locked user is not locked", out));
        }
    }
    terminate(&mut process);

    remove_dir(pristine)?;
    run(
        Command::new("cp").arg("-a").arg(run_dir).arg(pristine),
        "cp -a (pristine copy of the provisioned domain)",
    )?;
    let marker = pristine.join("complete");
    std::fs::write(&marker, "").map_err(io("write", &marker))?;
    Ok(())
}

fn whoami(ldapwhoami: &Path, login: &str, password: &str) -> String {
    Command::new(ldapwhoami)
        .args(["-x", "-H", "ldap://127.0.0.1", "-D", login, "-w", password])
        .output()
        .map(|o| {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s
        })
        .unwrap_or_else(|e| e.to_string())
}

fn provision_error(what: &str, output: String) -> Error {
    Error::Command {
        command: format!("provisioning check: {what}"),
        status: std::process::ExitStatus::default(),
        output,
    }
}

/// Stops Samba cleanly (SIGTERM, then SIGKILL after 10 s) so its databases are consistent
/// before they are copied.
fn terminate(process: &mut ServerProcess) {
    let pid = process.pid();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while process.try_exited().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    process.stop();
}

fn restore(pristine: &Path, run_dir: &Path) -> Result<()> {
    remove_dir(run_dir)?;
    run(
        Command::new("cp").arg("-a").arg(pristine).arg(run_dir),
        "cp -a (restore the pristine domain)",
    )?;
    Ok(())
}

fn start_samba(samba: &Path, base: &Path, run_dir: &Path) -> Result<ServerProcess> {
    set_mode(&run_dir.join("tls/server.key"), 0o600)?;
    let mut command = Command::new(samba);
    command
        .arg("-s")
        .arg(run_dir.join("etc/smb.conf"))
        // Foreground, one process: the fixture owns exactly one pid.
        .args(["-i", "-M", "single", "--debug-stdout", "-d", "1"]);
    let mut process = ServerProcess::spawn("samba", command, run_dir.join("samba.log"))?;
    let pid_file = base.join("samba.pid");
    std::fs::write(&pid_file, process.pid().to_string()).map_err(io("write", &pid_file))?;
    match process.wait_listening(&[LDAP_PORT, LDAPS_PORT], START_TIMEOUT) {
        Ok(()) => Ok(process),
        Err(StartFailure::Exited(e) | StartFailure::Timeout(e)) => Err(e),
    }
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path)(e)),
    }
}
