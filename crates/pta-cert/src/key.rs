use std::fmt;

use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::PrivateKey as RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Error;

/// RSA modulus sizes this crate generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeySize {
    /// 2048 bits: the minimum accepted anywhere.
    Rsa2048,
    /// 3072 bits: the default for agents and authorities.
    #[default]
    Rsa3072,
    /// 4096 bits.
    Rsa4096,
}

impl KeySize {
    /// The modulus length in bits.
    pub fn bits(self) -> usize {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }
}

/// An RSA private key (agent key or CA key), used for sha256WithRSAEncryption signatures.
///
/// Zeroized on drop (by `rsa`); `Debug` prints `[redacted]` and there is no `Display`.
pub struct KeyPair {
    signing: SigningKey<Sha256>,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPair([redacted])")
    }
}

impl KeyPair {
    /// Generates a fresh RSA key with e = 65537 from the system random number generator.
    ///
    /// Takes tens of milliseconds (2048) to about a second (4096) in release builds.
    pub fn generate(size: KeySize) -> Result<Self, Error> {
        let mut rng = getrandom::SysRng;
        let key =
            RsaPrivateKey::new(&mut rng, size.bits()).map_err(|_| Error::RandomUnavailable)?;
        Ok(Self::from_rsa(key))
    }

    fn from_rsa(key: RsaPrivateKey) -> Self {
        Self {
            signing: SigningKey::new(key),
        }
    }

    /// Parses a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`). The key must be RSA
    /// with at least 2048 bits and e = 65537.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| Error::InvalidPrivateKey)?;
        Self::checked(key)
    }

    /// Parses a PKCS#8 DER private key; same rules as [`KeyPair::from_pkcs8_pem`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| Error::InvalidPrivateKey)?;
        Self::checked(key)
    }

    fn checked(key: RsaPrivateKey) -> Result<Self, Error> {
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| Error::InvalidPrivateKey)?;
        crate::policy::check_spki_der(spki.as_bytes())?;
        Ok(Self::from_rsa(key))
    }

    /// The key as PKCS#8 PEM, in a zeroizing, redacting wrapper.
    pub fn to_pkcs8_pem(&self) -> Result<SecretPem, Error> {
        let pem = self
            .rsa()
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| Error::InvalidPrivateKey)?;
        Ok(SecretPem(pem))
    }

    /// The key as PKCS#8 DER, zeroized on drop.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let doc = self
            .rsa()
            .to_pkcs8_der()
            .map_err(|_| Error::InvalidPrivateKey)?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_der(&self) -> Result<Vec<u8>, Error> {
        let doc = self
            .rsa()
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| Error::InvalidPrivateKey)?;
        Ok(doc.into_vec())
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> usize {
        self.rsa().n().bit_width_vartime() as usize
    }

    fn rsa(&self) -> &RsaPrivateKey {
        self.signing.as_ref()
    }

    pub(crate) fn signer(&self) -> &SigningKey<Sha256> {
        &self.signing
    }
}

/// A PEM-encoded private key: zeroized on drop, `Debug` prints `[redacted]`, no `Display`.
#[derive(Clone)]
pub struct SecretPem(Zeroizing<String>);

impl SecretPem {
    /// Wraps PEM text (read from a file, say).
    pub fn new(pem: String) -> Self {
        Self(Zeroizing::new(pem))
    }

    /// The PEM text. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretPem([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = include_str!("../tests/data/keys/agent-1.pem");

    #[test]
    fn pem_round_trip_and_redaction() {
        let key = KeyPair::from_pkcs8_pem(AGENT).unwrap();
        assert_eq!(key.bits(), 2048);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(format!("{pem:?}"), "SecretPem([redacted])");
        assert_eq!(format!("{key:?}"), "KeyPair([redacted])");
        let again = KeyPair::from_pkcs8_pem(pem.expose()).unwrap();
        assert_eq!(
            again.public_key_der().unwrap(),
            key.public_key_der().unwrap()
        );
        let der = key.to_pkcs8_der().unwrap();
        assert_eq!(
            KeyPair::from_pkcs8_der(&der)
                .unwrap()
                .public_key_der()
                .unwrap(),
            key.public_key_der().unwrap()
        );
    }

    #[test]
    fn weak_and_odd_keys_are_refused() {
        let weak = include_str!("../tests/data/keys/weak-1024.pem");
        assert!(matches!(
            KeyPair::from_pkcs8_pem(weak),
            Err(Error::KeyPolicy(crate::KeyPolicyViolation::TooSmall {
                bits: 1024
            }))
        ));
        let e3 = include_str!("../tests/data/keys/exp3-2048.pem");
        assert!(matches!(
            KeyPair::from_pkcs8_pem(e3),
            Err(Error::KeyPolicy(crate::KeyPolicyViolation::Exponent))
        ));
        let ec = include_str!("../tests/data/keys/ec-p256.pem");
        assert!(matches!(
            KeyPair::from_pkcs8_pem(ec),
            Err(Error::InvalidPrivateKey)
        ));
        assert!(matches!(
            KeyPair::from_pkcs8_pem("garbage"),
            Err(Error::InvalidPrivateKey)
        ));
    }

    #[test]
    fn generates_2048() {
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        assert_eq!(key.bits(), 2048);
        assert_eq!(KeySize::default().bits(), 3072);
        assert_eq!(KeySize::Rsa4096.bits(), 4096);
    }
}
