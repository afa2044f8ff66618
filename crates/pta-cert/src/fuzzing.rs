//! Hooks for the cargo-fuzz targets in `fuzz/`. Each panics only on a real bug.

use rustls::pki_types::CertificateDer;

use crate::{AgentIdentity, Csr, Error, TenantTrust};

/// CSR parse and verify: never panics; whatever parses re-encodes to the same bytes and
/// re-parses; a verified CSR has a key within policy.
pub fn csr(data: &[u8]) {
    if let Ok(csr) = Csr::from_der(data) {
        assert_eq!(csr.as_der(), data);
        if let Ok(pem) = csr.to_pem() {
            let again = Csr::from_pem(&pem).map(|c| c.as_der().to_vec());
            assert_eq!(again.ok().as_deref(), Some(data));
        }
        if let Ok(verified) = csr.verify() {
            assert!((2048..=4096).contains(&verified.key_bits()));
        }
    }
    let _ = Csr::from_pem(&String::from_utf8_lossy(data));
}

/// Peer certificate to identity: never panics; an extracted identity has valid ids, and the
/// trust check against a CA that did not issue it never accepts it.
pub fn identity(data: &[u8]) {
    let read = AgentIdentity::read_unverified(data);
    if let Ok(id) = &read {
        assert!(crate::policy::check_id(&id.agent_id).is_ok());
        assert!(crate::policy::check_id(&id.tenant).is_ok());
    }
    let mut trust = TenantTrust::new();
    let ca = CertificateDer::from(&include_bytes!("../tests/data/fuzz-ca.der")[..]);
    if trust.insert("fuzz", &[ca]).is_err() {
        return;
    }
    let chain = [CertificateDer::from(data)];
    let result = trust.identify(&chain);
    assert!(
        matches!(
            result,
            Ok(_)
                | Err(Error::NoAgentIdentity
                    | Error::MalformedCertificate
                    | Error::UnknownTenant(_)
                    | Error::TenantMismatch(_))
        ),
        "unexpected result {result:?}"
    );
    // Identify reads the same names as read_unverified, then adds the tenant check.
    assert!(
        !(read.is_err() && result.is_ok()),
        "identify accepted unreadable names"
    );
    if let (Ok(a), Ok(b)) = (&read, &result) {
        assert_eq!(a, b);
    }
    // The fuzz CA's key never signed anything; only a certificate copying its name and key
    // id can pass this check (which trusts the TLS layer for the signature), and it must then
    // name the fuzz tenant.
    if let Ok(id) = result {
        assert_eq!(id.tenant, "fuzz");
    }
}
