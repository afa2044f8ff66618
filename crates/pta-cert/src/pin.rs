//! Trust on a pin (PROTOCOL.md section 13.2): one certificate of the server's presented chain
//! must have the pinned SHA-256, and the leaf must verify against that certificate, as the only
//! trust anchor, for the server name. The agent uses it with the join token's pin before it has
//! the service CA; clients holding only the CA's fingerprint (`pta-signin --ca-sha256`) too.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// The refusal of [`PinnedServerVerifier`] when no certificate of the server's chain has the
/// pinned SHA-256: this is not the server the pin names (or the pin was mistyped). It travels
/// inside `rustls::Error::InvalidCertificate(CertificateError::Other(..))`; tell it apart from
/// other certificate errors with [`is_pin_mismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinMismatch;

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no certificate in the server's chain has the pinned SHA-256")
    }
}

impl std::error::Error for PinMismatch {}

/// Whether a rustls error is [`PinnedServerVerifier`]'s [`PinMismatch`].
pub fn is_pin_mismatch(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))
            if inner.is::<PinMismatch>()
    )
}

/// A rustls server-certificate verifier that accepts a server only through the certificate
/// whose SHA-256 (of its DER) is the pin. Use it with
/// `ClientConfig::dangerous().set_certificate_verifier` or
/// `with_custom_certificate_verifier`; everything but the choice of trust anchor is webpki's
/// ordinary check.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    pin: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl PinnedServerVerifier {
    /// A verifier for `pin` (SHA-256 of the anchor certificate's DER) with `provider`'s
    /// signature algorithms.
    pub fn new(pin: [u8; 32], provider: Arc<CryptoProvider>) -> Self {
        Self { pin, provider }
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let anchor = std::iter::once(end_entity)
            .chain(intermediates)
            .find(|c| {
                let digest: [u8; 32] = Sha256::digest(c.as_ref()).into();
                bool::from(subtle::ConstantTimeEq::ct_eq(&digest[..], &self.pin[..]))
            })
            .ok_or_else(|| {
                rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                    PinMismatch,
                ))))
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(anchor.clone().into_owned())?;
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("pinned verifier: {e}")))?;
        inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
