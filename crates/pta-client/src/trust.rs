//! Which service certificate to accept: a CA file, or a CA named by its SHA-256.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::ConfigError;

/// The SHA-256 of the service CA certificate's DER (64 hexadecimal digits in a join token and
/// in what `pta-demo` prints).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CaPin([u8; 32]);

impl CaPin {
    /// A pin from its 32 bytes.
    pub fn new(sha256: [u8; 32]) -> Self {
        Self(sha256)
    }

    /// A pin from 64 hexadecimal digits (either case; surrounding white space ignored).
    pub fn from_hex(hex: &str) -> Result<Self, ConfigError> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(ConfigError::BadPin);
        }
        let mut pin = [0u8; 32];
        for (byte, pair) in pin.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| ConfigError::BadPin)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| ConfigError::BadPin)?;
        }
        Ok(Self(pin))
    }

    /// The pin's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for CaPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaPin(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// How the service's TLS certificate is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trust {
    /// The certificates of this file (PEM, any number, or one DER certificate) are the trust
    /// anchors; the service's certificate must chain to one and name the URL's host.
    CaFile(PathBuf),
    /// Only a chain holding the certificate with this SHA-256 is accepted, and the service's
    /// certificate must verify against that certificate for the URL's host
    /// ([`pta_cert::PinnedServerVerifier`]).
    CaSha256(CaPin),
}

impl Trust {
    /// A rustls client configuration for this trust: TLS 1.3 only, aws-lc-rs, ALPN
    /// `http/1.1`, no client certificate.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(ConfigError::Tls)?;
        let mut config = match self {
            Self::CaFile(path) => builder
                .with_root_certificates(roots_from_file(path)?)
                .with_no_client_auth(),
            Self::CaSha256(pin) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(pta_cert::PinnedServerVerifier::new(
                    pin.0, provider,
                )))
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The trust anchors of a PEM or DER file.
fn roots_from_file(path: &Path) -> Result<RootCertStore, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::CaFileUnreadable {
        path: path.to_owned(),
        source,
    })?;
    let bad_cert = |source| ConfigError::CaFileCertificate {
        path: path.to_owned(),
        source,
    };
    let mut roots = RootCertStore::empty();
    // A DER certificate starts with a SEQUENCE tag; PEM is text with BEGIN lines.
    let pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !pem && bytes.first() == Some(&0x30) {
        roots.add(CertificateDer::from(bytes)).map_err(bad_cert)?;
        return Ok(roots);
    }
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|source| ConfigError::CaFilePem {
            path: path.to_owned(),
            source,
        })?;
        roots.add(cert).map_err(bad_cert)?;
    }
    if roots.is_empty() {
        return Err(ConfigError::CaFileEmpty {
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

/// Whether a TLS handshake error is a refusal for the pin ([`pta_cert::PinMismatch`]).
pub(crate) fn is_pin_mismatch(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .is_some_and(pta_cert::is_pin_mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_64_hex_digits() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let pin = CaPin::from_hex(&format!(" {hex}\n")).unwrap();
        assert_eq!(pin.as_bytes()[..4], [0x00, 0x11, 0x22, 0x33]);
        assert_eq!(pin.as_bytes()[31], 0xff);
        for bad in [
            "",
            "abc",
            &hex[1..],
            &format!("{hex}0"),
            &hex.replace('a', "g"),
        ] {
            assert!(
                matches!(CaPin::from_hex(bad), Err(ConfigError::BadPin)),
                "{bad}"
            );
        }
        // Multi-byte characters of the right byte length.
        let wide = format!("é{}", &hex[2..]);
        assert!(matches!(CaPin::from_hex(&wide), Err(ConfigError::BadPin)));
    }

    #[test]
    fn a_pin_gives_a_tls13_config_with_http11_alpn() {
        let config = Trust::CaSha256(CaPin::new([7; 32]))
            .client_config()
            .unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(config.enable_sni);
    }

    #[test]
    fn ca_file_errors_say_which_file_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = Trust::CaFile(missing.clone()).client_config().unwrap_err();
        assert!(matches!(e, ConfigError::CaFileUnreadable { .. }), "{e}");
        assert!(e.to_string().contains("missing.pem: I/O error"), "{e}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let e = Trust::CaFile(empty).client_config().unwrap_err();
        assert!(matches!(e, ConfigError::CaFileEmpty { .. }), "{e}");

        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = Trust::CaFile(broken).client_config().unwrap_err();
        assert!(matches!(e, ConfigError::CaFilePem { .. }), "{e}");

        let not_der = dir.path().join("junk.der");
        std::fs::write(&not_der, [0x30, 0x03, 0x02, 0x01, 0x00]).unwrap();
        let e = Trust::CaFile(not_der).client_config().unwrap_err();
        assert!(matches!(e, ConfigError::CaFileCertificate { .. }), "{e}");
    }

    #[test]
    fn only_pin_refusals_count_as_pin_mismatches() {
        let refusal = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
                Arc::new(pta_cert::PinMismatch),
            ))),
        );
        assert!(is_pin_mismatch(&refusal));
        let other = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(!is_pin_mismatch(&other));
        assert!(!is_pin_mismatch(
            &std::io::ErrorKind::ConnectionReset.into()
        ));
    }
}
