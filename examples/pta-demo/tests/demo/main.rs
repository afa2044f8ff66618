//! pta-demo as a process: `--once` shows every verdict and the cloud lockout without printing
//! a password and cleans up; the serving demo answers pta-signin (good and bad password on
//! standard input, wrong API key) and stops cleanly on SIGINT.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The demo password, as documented in `pta-demo --help` and the README.
const SAMPLE_PASSWORD: &str = "Demo-Passw0rd-2026";
/// The showcase's wrong password (and its numbered variants for the lockout).
const WRONG_PASSWORD: &str = "not-the-Passw0rd";

const VERDICTS: &[&str] = &[
    "success",
    "invalid_credentials",
    "account_locked",
    "password_expired",
    "must_change_password",
    "account_disabled",
    "account_expired",
    "logon_hours_restricted",
    "workstation_restricted",
];

/// Kills the child (by its PID, through `Child::kill`) if the test fails before it exits.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "pta-demo did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The temporary directory named in the start-up line.
fn temp_dir(stdout: &str) -> PathBuf {
    let start = stdout.find("SQLite in ").expect("start-up line") + "SQLite in ".len();
    let end = stdout[start..].find(')').unwrap() + start;
    PathBuf::from(&stdout[start..end])
}

#[test]
fn once_shows_every_verdict_and_the_lockout_without_passwords() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pta-demo"))
        .arg("--once")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut guard = Guard(Some(child));
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let status = wait_with_timeout(guard.0.as_mut().unwrap(), Duration::from_secs(240));
    guard.0 = None;
    let out = out_reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    for verdict in VERDICTS {
        let row = format!(" {verdict} ");
        assert!(out.contains(&row), "no {verdict} row:\n{out}");
    }
    assert!(out.contains("repeat_rejected"), "{out}");
    assert!(out.contains("password expires in 5 days"), "{out}");
    let lockout = out
        .lines()
        .find(|l| {
            l.starts_with("lockout: mallory@demo.test locked by the cloud after 10 bad passwords")
        })
        .unwrap_or_else(|| panic!("no lockout line:\n{out}"));
    assert!(lockout.contains("the directory was not asked"), "{lockout}");
    assert!(
        lockout.contains("directory checks of mallory@demo.test: 10, 10 before the lock"),
        "{lockout}"
    );
    assert!(out.contains("every verdict was the expected one"), "{out}");
    assert!(
        !out.contains("EXPECTED") && !out.contains("NOT AS EXPECTED"),
        "{out}"
    );
    for secret in [SAMPLE_PASSWORD, WRONG_PASSWORD, "pta-demo-key-", "pta1."] {
        assert!(!out.contains(secret), "stdout holds {secret:?}");
        assert!(!err.contains(secret), "stderr holds {secret:?}");
    }
    let dir = temp_dir(&out);
    assert!(dir.starts_with(std::env::temp_dir()), "{}", dir.display());
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

/// Builds `bin` of `package` (another package of the workspace) and returns its path beside
/// pta-demo.
fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--locked", "-p", package, "--bin", bin]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "cargo build -p {package} failed");
    let path = PathBuf::from(env!("CARGO_BIN_EXE_pta-demo")).with_file_name(bin);
    assert!(path.exists(), "{} missing", path.display());
    path
}

fn pta_signin_binary() -> PathBuf {
    workspace_binary("pta-signin-cli", "pta-signin")
}

fn signin(binary: &Path, args: &[&str], api_key: &str, password: &str) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .env("PTA_API_KEY", api_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    rx.recv_timeout(Duration::from_secs(60))
        .expect("pta-signin did not finish within 60 s")
}

/// A serving pta-demo with its parsed instructions.
struct Serving {
    guard: Guard,
    pid: u32,
    printed: String,
    fields: HashMap<String, String>,
    lines: mpsc::Receiver<String>,
}

/// Starts `pta-demo ARGS` (serving) and reads its instructions up to "Press Ctrl-C".
fn start_serving(args: &[&str]) -> Serving {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pta-demo"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let guard = Guard(Some(child));
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut printed = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no instructions within 240 s:\n{printed}"));
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let fields = printed
        .lines()
        .filter_map(|l| l.trim().split_once(": "))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.split_whitespace().next().unwrap_or("").to_owned(),
            )
        })
        .collect();
    Serving {
        guard,
        pid,
        printed,
        fields,
        lines: rx,
    }
}

impl Serving {
    fn field(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("no {key:?} in:\n{}", self.printed))
    }

    /// pta-signin arguments for `user` against this demo.
    fn signin_args(&self, user: &str) -> Vec<String> {
        [
            "--service",
            self.field("service"),
            "--tenant",
            self.field("tenant"),
            "--user",
            user,
            "--ca-sha256",
            self.field("ca sha256"),
            "--client-ip",
            "192.0.2.10",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    /// SIGINT, then a clean exit within 60 s with the temporary directory removed.
    fn interrupt(mut self) {
        let status = Command::new("kill")
            .args(["-INT", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = wait_with_timeout(self.guard.0.as_mut().unwrap(), Duration::from_secs(60));
        self.guard.0 = None;
        assert_eq!(status.code(), Some(0));
        let mut rest = String::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            rest.push_str(&line);
            rest.push('\n');
        }
        assert!(rest.contains("SIGINT: stopping"), "{rest}");
        let dir = temp_dir(&self.printed);
        assert!(!dir.exists(), "{} was not removed", dir.display());
    }
}

#[test]
fn serving_demo_answers_pta_signin_and_stops_on_sigint() {
    let signin_binary = pta_signin_binary();
    let demo = start_serving(&[]);
    let printed = &demo.printed;
    let service = demo.field("service");
    let tenant = demo.field("tenant");
    let user = demo.field("user");
    let api_key = demo.field("api key");
    let pin = demo.field("ca sha256");
    assert!(service.starts_with("https://127.0.0.1:"), "{printed}");
    assert_eq!(tenant, "demo");
    assert_eq!(user, "alice@demo.test");
    assert_eq!(pin.len(), 64, "{printed}");
    assert!(api_key.starts_with("pta-demo-key-"), "{printed}");
    assert!(!printed.contains(SAMPLE_PASSWORD), "{printed}");
    assert!(
        printed.contains(&format!(
            "--service {service} --tenant {tenant} --user {user} --ca-sha256 {pin}"
        )),
        "{printed}"
    );
    let args = demo.signin_args(user);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let good = signin(&signin_binary, &args, api_key, SAMPLE_PASSWORD);
    let good_out = String::from_utf8_lossy(&good.stdout);
    assert_eq!(
        good.status.code(),
        Some(0),
        "{good_out}{}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(good_out.contains("verdict:    success"), "{good_out}");
    assert!(good_out.contains("decided by: agent"), "{good_out}");
    assert!(good_out.contains("latency:"), "{good_out}");
    let agent_line = good_out.lines().find(|l| l.starts_with("agent:")).unwrap();
    assert_eq!(
        agent_line.split_whitespace().nth(1).unwrap().len(),
        36,
        "{agent_line}"
    );

    let bad = signin(&signin_binary, &args, api_key, "Wrong-Passw0rd-x");
    let bad_out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "{bad_out}{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        bad_out.contains("verdict:    invalid_credentials"),
        "{bad_out}"
    );
    assert!(bad_out.contains("decided by: agent"), "{bad_out}");

    // A wrong API key: no verdict, exit 3, the 401 reported.
    let unauthorized = signin(
        &signin_binary,
        &args,
        "pta-demo-key-wrong-0000000000",
        SAMPLE_PASSWORD,
    );
    assert_eq!(unauthorized.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unauthorized.stderr).contains("HTTP 401 unauthorized"));

    // A pin that is not the service CA's: the TLS handshake fails, exit 3.
    let other_pin = "00".repeat(32);
    let mut pinned = args.clone();
    pinned[7] = &other_pin;
    let mismatch = signin(&signin_binary, &pinned, api_key, SAMPLE_PASSWORD);
    assert_eq!(mismatch.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("TLS"));

    // Ctrl-C: agents drain, the service stops, the temporary directory goes.
    demo.interrupt();
}

#[test]
fn sigint_during_set_up_still_removes_the_temporary_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pta-demo"))
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut guard = Guard(Some(child));
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    // The demo watches signals before it creates its temporary directory: once that exists,
    // interrupt the set-up (keys, registrations: seconds) midway.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(tmp.path()).unwrap().count() == 0 {
        assert!(
            Instant::now() < deadline,
            "no temporary directory within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_with_timeout(guard.0.as_mut().unwrap(), Duration::from_secs(60));
    guard.0 = None;
    let out = reader.join().unwrap();
    assert!(
        out.contains("interrupted: stopping") || out.contains("SIGINT: stopping"),
        "{out}"
    );
    assert!(
        status.code() == Some(1) || status.code() == Some(0),
        "{status:?}"
    );
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

mod ad;
mod deploy_doc;
mod slapd;
