//! The binary's exit codes and usage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, StateStore};

fn pta_agent(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pta-agent"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A registered state directory whose certificate was issued `age` ago for `lifetime`.
fn provision(dir: &Path, age: Duration, lifetime: Duration) {
    let issued_at = SystemTime::now() - age;
    let mut config = AuthorityConfig::for_tenant("contoso");
    config.agent_lifetime = lifetime;
    let ca = Authority::create_root(
        config,
        KeyPair::generate(KeySize::Rsa2048).unwrap(),
        issued_at,
    )
    .unwrap();
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let issued = ca
        .issue_agent(&Csr::new(&key, "x").unwrap(), "agent-1", issued_at)
        .unwrap();
    let store = StateStore::open(dir).unwrap();
    store.install(&key, &issued.chain).unwrap();
    store.save_service_ca(ca.certificate_der()).unwrap();
    let path = dir.join("agent.json");
    let info = serde_json::json!({"agent_id": "agent-1", "tenant": "contoso",
        "endpoints": ["127.0.0.1:9"], "registered_at": 1});
    std::fs::write(&path, info.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn config(dir: &Path) -> String {
    let path = dir.join("agent.toml");
    std::fs::write(&path, "[directory.memory]\n[log]\nlevel = \"warn\"\n").unwrap();
    path.display().to_string()
}

#[test]
fn help_documents_the_exit_codes_and_usage_errors_exit_2() {
    let out = pta_agent(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "3  the agent certificate expired",
        "4  the state directory is locked",
    ] {
        assert!(text.contains(line), "{text}");
    }
    assert_eq!(pta_agent(&["run"]).status.code(), Some(2));
    assert_eq!(pta_agent(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn status_of_an_unregistered_directory_fails_with_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let out = pta_agent(&["status", "--state-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not registered"));
}

#[test]
fn status_prints_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    provision(&dir, Duration::ZERO, Duration::from_secs(86_400));
    let out = pta_agent(&["status", "--state-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("agent-1") && text.contains("contoso") && text.contains("running:       no"),
        "{text}"
    );
}

#[test]
fn expired_certificate_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    provision(&dir, Duration::from_secs(7200), Duration::from_secs(3600));
    let cfg = config(tmp.path());
    let out = pta_agent(&[
        "run",
        "--state-dir",
        dir.to_str().unwrap(),
        "--config",
        &cfg,
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("register"));
}

#[test]
fn locked_state_dir_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    provision(&dir, Duration::ZERO, Duration::from_secs(86_400));
    let _held = pta_agent::StateLock::acquire(&dir).unwrap();
    let cfg = config(tmp.path());
    let out = pta_agent(&[
        "run",
        "--state-dir",
        dir.to_str().unwrap(),
        "--config",
        &cfg,
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
}

#[test]
fn a_token_in_argv_is_warned_about_and_a_bad_token_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let out = pta_agent(&[
        "register",
        "--service",
        "https://127.0.0.1:9",
        "--token",
        "pta1.short.abc",
        "--state-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("other local users"), "{err}");
    assert!(err.contains("invalid join token"), "{err}");
    assert!(!err.contains("pta1.short.abc"), "{err}");
}
