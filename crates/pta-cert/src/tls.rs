use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{Error, KeyPair, TenantTrust};

/// The ALPN protocol id of the agent protocol.
pub const ALPN_PTA1: &[u8] = b"pta/1";

/// Options shared by [`server_config`] and [`client_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// ALPN protocols offered/accepted (default `["pta/1"]`).
    pub alpn: Vec<Vec<u8>>,
    /// Refuse clients when a CRL is past its nextUpdate (default true). rustls ignores CRL
    /// expiry unless asked.
    pub enforce_crl_expiry: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        Self {
            alpn: vec![ALPN_PTA1.to_vec()],
            enforce_crl_expiry: true,
        }
    }
}

/// The aws-lc-rs provider, passed explicitly so no process-default provider is needed (and no
/// panic if another crate enables ring).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn tls_err(e: rustls::Error) -> Error {
    Error::Tls(e)
}

fn verifier_err(e: rustls::server::VerifierBuilderError) -> Error {
    use rustls::server::VerifierBuilderError as E;
    match e {
        E::InvalidCrl(crl) => Error::Tls(rustls::Error::InvalidCertRevocationList(crl)),
        _ => Error::NoTrustAnchors,
    }
}

fn private_key(key: &KeyPair) -> Result<PrivateKeyDer<'static>, Error> {
    let der = key.to_pkcs8_der()?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec())))
}

/// The service's rustls config: TLS 1.3 only, client certificate required and verified
/// against the trust anchors of `trust`, revocation checked along the whole chain with `crls`
/// (one current CRL for every CA in [`TenantTrust::ca_certificates`]; unknown status is
/// refused), and `chain` + `key` as the server certificate.
///
/// A config is immutable: build a new one when a CRL or the trust set changes, and use it for
/// new connections. After the handshake, call [`TenantTrust::identify_connection`].
pub fn server_config(
    trust: &TenantTrust,
    crls: &[CertificateRevocationListDer<'static>],
    chain: &[CertificateDer<'static>],
    key: &KeyPair,
    options: &TlsOptions,
) -> Result<Arc<ServerConfig>, Error> {
    let mut roots = RootCertStore::empty();
    for anchor in trust.trust_anchors() {
        roots.add(anchor).map_err(tls_err)?;
    }
    let mut verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .with_crls(crls.iter().cloned());
    if options.enforce_crl_expiry {
        verifier = verifier.enforce_revocation_expiration();
    }
    let verifier = verifier.build().map_err(verifier_err)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.to_vec(), private_key(key)?)
        .map_err(tls_err)?;
    config.alpn_protocols = options.alpn.clone();
    Ok(Arc::new(config))
}

/// The agent's rustls config: TLS 1.3 only, trusting only the pinned `service_ca`, presenting
/// `chain` (leaf first) with `key` as the client certificate.
pub fn client_config(
    service_ca: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    key: &KeyPair,
    options: &TlsOptions,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    roots.add(service_ca.clone()).map_err(tls_err)?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(verifier_err)?;
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_err)?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(chain.to_vec(), private_key(key)?)
        .map_err(tls_err)?;
    config.alpn_protocols = options.alpn.clone();
    Ok(Arc::new(config))
}
