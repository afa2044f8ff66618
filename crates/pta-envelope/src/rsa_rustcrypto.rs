//! RSA-OAEP-256 through the RustCrypto `rsa` crate (the default backend), and the key parsing
//! both backends share.

use getrandom::SysRng;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, PrivateKey, PublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::rsa_oaep::{self, OaepDecrypt, OaepEncrypt};
use crate::{
    AgentIdentity, AgentRecipient, ContentKey, Identity, KeyError, KeyId, OpenError, Recipient,
    SealError, SessionKey, Stanza,
};

/// Parses a DER SubjectPublicKeyInfo, checks the size, and returns the key with its id.
pub(crate) fn parse_public(spki_der: &[u8]) -> Result<(PublicKey, KeyId), KeyError> {
    let key = PublicKey::from_public_key_der(spki_der).map_err(|_| KeyError::Malformed)?;
    let id = key_id(&key)?;
    Ok((key, id))
}

/// Parses a DER PKCS#8 RSA private key, checks the size, and returns it with its id.
pub(crate) fn parse_private(pkcs8_der: &[u8]) -> Result<(PrivateKey, KeyId), KeyError> {
    let key = PrivateKey::from_pkcs8_der(pkcs8_der).map_err(|_| KeyError::Malformed)?;
    let id = key_id(key.as_public_key())?;
    Ok((key, id))
}

fn key_id(key: &PublicKey) -> Result<KeyId, KeyError> {
    let bits = key.n().bit_width() as usize;
    if !(2048..=4096).contains(&bits) {
        return Err(KeyError::UnsupportedSize { bits });
    }
    let der = key.to_public_key_der().map_err(|_| KeyError::Malformed)?;
    Ok(KeyId::of_spki(der.as_bytes()))
}

/// An agent's RSA public key (RustCrypto backend): seals content keys (RSA-OAEP-256) and
/// session-key grants to it.
#[derive(Clone, Debug)]
pub struct RsaRecipient {
    key: PublicKey,
    id: KeyId,
}

impl RsaRecipient {
    /// From a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`KeyError`] if it is not an RSA key of 2048 to 4096 bits.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, KeyError> {
        let (key, id) = parse_public(spki_der)?;
        Ok(Self { key, id })
    }

    /// From a PEM `PUBLIC KEY`.
    ///
    /// # Errors
    ///
    /// As [`Self::from_spki_der`].
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let key = PublicKey::from_public_key_pem(pem).map_err(|_| KeyError::Malformed)?;
        let id = key_id(&key)?;
        Ok(Self { key, id })
    }

    /// The DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`KeyError::Malformed`] if encoding fails.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, KeyError> {
        Ok(self
            .key
            .to_public_key_der()
            .map_err(|_| KeyError::Malformed)?
            .into_vec())
    }

    fn encrypt(&self, plain: &[u8], label: Option<&[u8]>) -> Result<Vec<u8>, SealError> {
        let padding = match label {
            None => Oaep::<Sha256>::new(),
            Some(l) => Oaep::<Sha256>::new_with_label(l),
        };
        self.key
            .encrypt(&mut SysRng, padding, plain)
            .map_err(|_| SealError::Rsa)
    }

    #[doc(hidden)]
    /// RSA-OAEP-256 of arbitrary bytes with an optional label (test hook).
    pub fn encrypt_oaep(&self, plain: &[u8], label: Option<&[u8]>) -> Result<Vec<u8>, SealError> {
        self.encrypt(plain, label)
    }
}

impl OaepEncrypt for RsaRecipient {
    fn id(&self) -> &KeyId {
        &self.id
    }

    fn oaep_encrypt(&self, plain: &[u8], label: Option<&[u8]>) -> Result<Vec<u8>, SealError> {
        self.encrypt(plain, label)
    }
}

impl Recipient for RsaRecipient {
    fn wrap(&self, key: &ContentKey, _nonce: &[u8; 12]) -> Result<Stanza, SealError> {
        rsa_oaep::wrap(self, key)
    }
}

impl AgentRecipient for RsaRecipient {
    fn key_id(&self) -> &KeyId {
        &self.id
    }

    fn grant(&self, key: &SessionKey) -> Result<Stanza, SealError> {
        rsa_oaep::grant(self, key)
    }
}

/// An agent's RSA private key (RustCrypto backend, blinded decryption). See the crate docs on
/// RUSTSEC-2023-0071 before choosing it over the `aws-lc` backend.
pub struct RsaIdentity {
    key: PrivateKey,
    id: KeyId,
}

impl std::fmt::Debug for RsaIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaIdentity")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RsaIdentity {
    /// From a DER PKCS#8 private key.
    ///
    /// # Errors
    ///
    /// [`KeyError`] if it is not an RSA key of 2048 to 4096 bits.
    pub fn from_pkcs8_der(pkcs8_der: &[u8]) -> Result<Self, KeyError> {
        let (key, id) = parse_private(pkcs8_der)?;
        Ok(Self { key, id })
    }

    /// From a PEM `PRIVATE KEY`.
    ///
    /// # Errors
    ///
    /// As [`Self::from_pkcs8_der`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let key = PrivateKey::from_pkcs8_pem(pem).map_err(|_| KeyError::Malformed)?;
        let id = key_id(key.as_public_key())?;
        Ok(Self { key, id })
    }

    /// A new random key of `bits` bits (2048 to 4096). Slow: tens of milliseconds to seconds.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnsupportedSize`] or [`KeyError::Generate`].
    pub fn generate(bits: usize) -> Result<Self, KeyError> {
        if !(2048..=4096).contains(&bits) {
            return Err(KeyError::UnsupportedSize { bits });
        }
        let key = PrivateKey::new(&mut SysRng, bits).map_err(|_| KeyError::Generate)?;
        let id = key_id(key.as_public_key())?;
        Ok(Self { key, id })
    }

    /// The DER PKCS#8 encoding (zeroized on drop).
    ///
    /// # Errors
    ///
    /// [`KeyError::Malformed`] if encoding fails.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let doc = self.key.to_pkcs8_der().map_err(|_| KeyError::Malformed)?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// The matching recipient.
    pub fn to_recipient(&self) -> RsaRecipient {
        RsaRecipient {
            key: self.key.to_public_key(),
            id: self.id,
        }
    }

    fn decrypt(&self, ct: &[u8], label: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let padding = match label {
            None => Oaep::<Sha256>::new(),
            Some(l) => Oaep::<Sha256>::new_with_label(l),
        };
        self.key
            .decrypt_blinded(&mut SysRng, padding, ct)
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Decrypt)
    }

    #[doc(hidden)]
    /// RSA-OAEP-256 decryption of arbitrary bytes with an optional label (test hook).
    pub fn decrypt_oaep(
        &self,
        ct: &[u8],
        label: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        self.decrypt(ct, label)
    }
}

impl OaepDecrypt for RsaIdentity {
    fn id(&self) -> &KeyId {
        &self.id
    }

    fn oaep_decrypt(
        &self,
        ct: &[u8],
        label: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        self.decrypt(ct, label)
    }
}

impl Identity for RsaIdentity {
    fn unwrap(&self, stanza: &Stanza, _nonce: &[u8; 12]) -> Option<Result<ContentKey, OpenError>> {
        rsa_oaep::unwrap(self, stanza)
    }
}

impl AgentIdentity for RsaIdentity {
    fn key_id(&self) -> &KeyId {
        &self.id
    }

    fn open_grant(&self, stanza: &Stanza) -> Option<Result<SessionKey, OpenError>> {
        rsa_oaep::open_grant(self, stanza)
    }
}
