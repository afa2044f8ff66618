//! Integration tests for pta-envelope: properties (round trips, tampering, addressing, session
//! key rotation and eviction), the ordering of session-key opens after grants in flight,
//! envelope sizes, Wycheproof vectors for both RSA backends and AES-256-GCM, and interop with
//! independent implementations (python jwcrypto, openssl CLI), and the worked example of
//! docs/PROTOCOL.md (generated here, compared with the document).

// Helpers outside #[test] functions fail loudly too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod example;
mod interop;
mod ordering;
mod properties;
mod sessions;
mod sizes;
mod wycheproof;

use std::sync::OnceLock;

use pta_envelope::RsaIdentity;

pub(crate) const BOUND: &[u8] =
    b"request-id=7|tenant=contoso|login=alice@contoso.com|kid=ab12|deadline=1700000005000";

pub(crate) fn key_path(name: &str) -> String {
    format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn pkcs8(bits: usize) -> Vec<u8> {
    std::fs::read(key_path(&format!("rsa{bits}.pk8.der"))).unwrap()
}

pub(crate) fn spki(bits: usize) -> Vec<u8> {
    std::fs::read(key_path(&format!("rsa{bits}.spki.der"))).unwrap()
}

/// The test key of `bits` bits (2048, 3072 or 4096), parsed once per test binary.
pub(crate) fn rsa(bits: usize) -> &'static RsaIdentity {
    static KEYS: [OnceLock<RsaIdentity>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = match bits {
        2048 => 0,
        3072 => 1,
        4096 => 2,
        _ => panic!("no test key of {bits} bits"),
    };
    KEYS[i].get_or_init(|| RsaIdentity::from_pkcs8_der(&pkcs8(bits)).unwrap())
}

#[cfg(feature = "aws-lc")]
pub(crate) fn aws_lc(bits: usize) -> &'static pta_envelope::AwsLcRsaIdentity {
    use pta_envelope::AwsLcRsaIdentity;
    static KEYS: [OnceLock<AwsLcRsaIdentity>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = match bits {
        2048 => 0,
        3072 => 1,
        4096 => 2,
        _ => panic!("no test key of {bits} bits"),
    };
    KEYS[i].get_or_init(|| AwsLcRsaIdentity::from_pkcs8_der(&pkcs8(bits)).unwrap())
}
