//! The agent state store on a real directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use pta_cert::{Error, StateStore};

use crate::common::*;

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_load_renew_confirm_prune() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let store = StateStore::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert!(matches!(store.load(), Err(Error::StateMissing(p)) if p.ends_with("key.pem")));

    let now = SystemTime::now();
    let ca = root_a(now);
    let first = issue(&ca, &key("agent-1"), "agent-1", now);
    store.install(&key("agent-1"), &first.chain).unwrap();
    assert!(matches!(store.load(), Err(Error::StateMissing(p)) if p.ends_with("service-ca.pem")));
    store.save_service_ca(ca.certificate_der()).unwrap();
    for name in ["key.pem", "chain.pem", "service-ca.pem"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let state = store.load().unwrap();
    assert_eq!(state.current.chain, first.chain);
    assert_eq!(&state.service_ca, ca.certificate_der());
    assert!(state.previous.is_none());
    assert_eq!(
        state.current.key.public_key_der().unwrap(),
        key("agent-1").public_key_der().unwrap()
    );

    // Renewal: the first pair is kept as previous.
    let second = issue(&ca, &key("agent-2"), "agent-1", now);
    store.install(&key("agent-2"), &second.chain).unwrap();
    let state = store.load().unwrap();
    assert_eq!(state.current.chain, second.chain);
    assert_eq!(state.previous.as_ref().unwrap().chain, first.chain);
    // A second renewal before the new one was used keeps the known-good previous pair.
    let third = issue(&ca, &key("agent-3"), "agent-1", now);
    store.install(&key("agent-3"), &third.chain).unwrap();
    let state = store.load().unwrap();
    assert_eq!(state.current.chain, third.chain);
    assert_eq!(state.previous.as_ref().unwrap().chain, first.chain);
    // Not expired yet: prune keeps it.
    assert!(!store.prune(now).unwrap());
    assert!(store.load().unwrap().previous.is_some());
    // Used once: the previous pair goes.
    assert!(store.confirm_current().unwrap());
    assert!(store.load().unwrap().previous.is_none());
    assert!(!store.confirm_current().unwrap());

    // Renew again, then prune after the previous certificate expired.
    let fourth = issue(&ca, &key("agent-1"), "agent-1", now);
    store.install(&key("agent-1"), &fourth.chain).unwrap();
    assert!(store.prune(now + 181 * DAY).unwrap());
    assert!(store.load().unwrap().previous.is_none());
    // No temporary files left behind.
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["chain.pem", "key.pem", "service-ca.pem"]);
}

fn filled_store() -> (tempfile::TempDir, StateStore) {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::open(tmp.path().join("s")).unwrap();
    let now = SystemTime::now();
    let ca = root_a(now);
    let issued = issue(&ca, &key("agent-1"), "agent-1", now);
    store.install(&key("agent-1"), &issued.chain).unwrap();
    store.save_service_ca(ca.certificate_der()).unwrap();
    (tmp, store)
}

#[test]
fn world_readable_files_and_directory_are_refused() {
    let (_tmp, store) = filled_store();
    let key_path = store.dir().join("key.pem");
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        matches!(store.load(), Err(Error::InsecurePermissions { path, mode: 0o644 }) if path == key_path)
    );
    fs::set_permissions(&key_path, fs::Permissions::from_mode(0o600)).unwrap();
    store.load().unwrap();

    fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(
        StateStore::open(store.dir()),
        Err(Error::InsecurePermissions { mode: 0o755, .. })
    ));
    assert!(matches!(
        store.load(),
        Err(Error::InsecurePermissions { mode: 0o755, .. })
    ));
}

#[test]
fn corrupt_files_are_typed_errors() {
    let (_tmp, store) = filled_store();
    let write_600 = |name: &str, contents: &[u8]| {
        let path = store.dir().join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    };
    let original_chain = fs::read(store.dir().join("chain.pem")).unwrap();

    write_600("chain.pem", b"not pem at all");
    assert!(matches!(store.load(), Err(Error::StateCorrupt(p)) if p.ends_with("chain.pem")));
    // A valid chain for another key is corrupt state too.
    let other = issue(
        &root_a(SystemTime::now()),
        &key("agent-2"),
        "agent-2",
        SystemTime::now(),
    );
    write_600(
        "chain.pem",
        pta_cert::certificates_to_pem(&other.chain)
            .unwrap()
            .as_bytes(),
    );
    assert!(matches!(store.load(), Err(Error::StateCorrupt(p)) if p.ends_with("chain.pem")));
    write_600("chain.pem", &original_chain);
    store.load().unwrap();

    write_600(
        "key.pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    assert!(matches!(store.load(), Err(Error::StateCorrupt(p)) if p.ends_with("key.pem")));
    write_600("key.pem", &[0xff, 0xfe, 0x00]);
    assert!(matches!(store.load(), Err(Error::StateCorrupt(p)) if p.ends_with("key.pem")));

    write_600("key.pem", key_pem("agent-1").as_bytes());
    write_600("service-ca.pem", b"");
    assert!(matches!(store.load(), Err(Error::StateCorrupt(p)) if p.ends_with("service-ca.pem")));
}

#[test]
fn open_refuses_a_file_as_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    fs::write(&file, b"x").unwrap();
    assert!(matches!(
        StateStore::open(&file),
        Err(Error::StateCorrupt(_))
    ));
}
