use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use pta_cert::{Authority, AuthorityConfig, Csr, IssuedCertificate, KeyPair, SanEntry};

pub(crate) const DAY: Duration = Duration::from_secs(86_400);

/// A test key from `tests/data/keys/<name>.pem` (generated once with openssl genpkey).
pub(crate) fn key(name: &str) -> KeyPair {
    KeyPair::from_pkcs8_pem(&key_pem(name)).unwrap()
}

pub(crate) fn key_pem(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keys")
        .join(format!("{name}.pem"));
    std::fs::read_to_string(path).unwrap()
}

pub(crate) fn config(tenant: &str) -> AuthorityConfig {
    AuthorityConfig::for_tenant(tenant)
}

/// Tenant `a`'s self-signed authority.
pub(crate) fn root_a(now: SystemTime) -> Authority {
    Authority::create_root(config("a"), key("ca-a"), now).unwrap()
}

/// An offline root and tenant `a`'s intermediate under it.
pub(crate) fn intermediate_a(now: SystemTime) -> (Authority, Authority) {
    let mut root_cfg = config("a");
    root_cfg.common_name = Some("pta offline root".into());
    let root = Authority::create_root(root_cfg, key("root"), now).unwrap();
    let mut int_cfg = config("a");
    int_cfg.common_name = Some("pta tenant a intermediate".into());
    let intermediate = root
        .create_intermediate(int_cfg, key("intermediate"), now)
        .unwrap();
    (root, intermediate)
}

pub(crate) fn issue(
    authority: &Authority,
    agent_key: &KeyPair,
    agent_id: &str,
    now: SystemTime,
) -> IssuedCertificate {
    let csr = Csr::new(agent_key, agent_id).unwrap();
    authority.issue_agent(&csr, agent_id, now).unwrap()
}

/// The service CA and its server certificate for 127.0.0.1 / localhost.
pub(crate) fn service(now: SystemTime) -> (Authority, IssuedCertificate, KeyPair) {
    let mut cfg = config("service");
    cfg.common_name = Some("pta service CA".into());
    let ca = Authority::create_root(cfg, key("service-ca"), now).unwrap();
    let server_key = key("service");
    let csr = Csr::new(&server_key, "service").unwrap();
    let names = [
        SanEntry::Dns("localhost".into()),
        SanEntry::Ip("127.0.0.1".parse().unwrap()),
    ];
    let cert = ca.issue_server(&csr, &names, now).unwrap();
    (ca, cert, server_key)
}

/// Runs openssl; panics (never skips) when it is missing.
pub(crate) fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is required for these tests (scripts/install-deps.sh installs it)")
}

pub(crate) fn openssl_ok(args: &[&str]) -> String {
    let out = openssl(args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub(crate) fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

pub(crate) fn pem(der: &[u8], label: &str) -> String {
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
}
