//! Opening connections and classifying ldap3 errors.

use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::{DirectoryError, Misconfiguration};

/// What went wrong talking to one server.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server could not be reached or the connection broke: try another server.
    Unreachable,
    /// A failure that another server would not fix.
    Fatal(DirectoryError),
}

impl From<DirectoryError> for Failure {
    fn from(e: DirectoryError) -> Self {
        Failure::Fatal(e)
    }
}

/// The rustls client configuration trusting only the CAs in `pem`.
pub(crate) fn tls_config(pem: &str) -> Result<Arc<rustls::ClientConfig>, DirectoryError> {
    let bad = DirectoryError::Misconfigured(Misconfiguration::BadCaPem);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|_| DirectoryError::Misconfigured(Misconfiguration::BadCaPem))?;
        roots
            .add(cert)
            .map_err(|_| DirectoryError::Misconfigured(Misconfiguration::BadCaPem))?;
    }
    if roots.is_empty() {
        return Err(bad);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| DirectoryError::Misconfigured(Misconfiguration::BadCaPem))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How to open connections to one server.
#[derive(Clone)]
pub(crate) struct Connector {
    pub(crate) url: String,
    pub(crate) settings: LdapConnSettings,
}

impl Connector {
    pub(crate) async fn connect(&self) -> Result<Ldap, Failure> {
        let (conn, ldap) = LdapConnAsync::with_settings(self.settings.clone(), &self.url)
            .await
            .map_err(|e| match e {
                // A server that does not answer the connection in time is unreachable.
                LdapError::Timeout { .. } => Failure::Unreachable,
                e => classify(&e),
            })?;
        ldap3::drive!(conn);
        Ok(ldap)
    }
}

/// Sorts an ldap3 error into "try another server" or a fatal error.
pub(crate) fn classify(e: &LdapError) -> Failure {
    match e {
        LdapError::Timeout { .. } => Failure::Fatal(DirectoryError::Timeout),
        LdapError::Rustls { source } => tls_failure(source),
        LdapError::Io { source } => match source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => tls_failure(tls),
            None => Failure::Unreachable,
        },
        LdapError::LdapResult { result } => {
            Failure::Fatal(DirectoryError::Protocol { rc: result.rc })
        }
        _ => Failure::Unreachable,
    }
}

fn tls_failure(e: &rustls::Error) -> Failure {
    match e {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            Failure::Fatal(DirectoryError::Misconfigured(Misconfiguration::TlsTrust))
        }
        _ => Failure::Unreachable,
    }
}
