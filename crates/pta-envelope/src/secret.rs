//! Secret newtypes (zeroized on drop, redacted in Debug, no Display) and key identifiers.

use rand_core::TryCryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::SealError;

macro_rules! redacted_debug {
    ($t:ty) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

pub(crate) fn random<R: TryCryptoRng + ?Sized, const N: usize>(
    rng: &mut R,
) -> Result<[u8; N], SealError> {
    let mut b = [0u8; N];
    rng.try_fill_bytes(&mut b).map_err(|_| SealError::Rng)?;
    Ok(b)
}

/// The per-envelope AES-256 key that encrypts the secret. Random for every envelope; each
/// stanza wraps it for one recipient.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ContentKey([u8; 32]);
redacted_debug!(ContentKey);

impl ContentKey {
    /// Wraps key bytes (for [`Identity`](crate::Identity) implementations that unwrap one).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key bytes, for [`Recipient`](crate::Recipient) implementations that wrap it.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, SealError> {
        random(rng).map(Self)
    }
}

/// A session key id: 8 bytes derived from the key (SHA-256 of a label and the key), so the
/// holder of a key knows its id and an id reveals nothing about the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKeyId(pub [u8; 8]);

impl SessionKeyId {
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A per-agent AES-256 key that wraps content keys (JWE `A256GCMKW`), shared by one sealer and
/// one agent for one epoch.
#[derive(Clone, ZeroizeOnDrop)]
pub struct SessionKey {
    key: [u8; 32],
    #[zeroize(skip)]
    id: SessionKeyId,
}
redacted_debug!(SessionKey);

impl SessionKey {
    /// Wraps key bytes and derives the id.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let mut h = Sha256::new();
        h.update(b"pta-envelope session key id v1\0");
        h.update(key);
        let d = h.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        Self {
            key,
            id: SessionKeyId(id),
        }
    }

    /// A fresh random session key.
    ///
    /// # Errors
    ///
    /// [`SealError::Rng`] if the random number generator fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, SealError> {
        let key = Zeroizing::new(random::<R, 32>(rng)?);
        Ok(Self::from_bytes(*key))
    }

    /// The key's id.
    pub fn id(&self) -> SessionKeyId {
        self.id
    }

    /// The key bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.key
    }
}

/// An opened secret (the password). Zeroized on drop, redacted in Debug.
pub struct Secret(Zeroizing<Vec<u8>>);
redacted_debug!(Secret);

impl Secret {
    pub(crate) fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The secret bytes, for the one place that uses them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// An RSA key's id: SHA-256 of its DER SubjectPublicKeyInfo. Stanzas carry its first 8 bytes
/// ([`KeyId::tag`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The id of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// The 8-byte tag that stanzas carry.
    pub fn tag(&self) -> [u8; 8] {
        let mut t = [0u8; 8];
        t.copy_from_slice(&self.0[..8]);
        t
    }

    pub(crate) fn tag_matches(&self, tag: &[u8; 8]) -> bool {
        self.tag().ct_eq(tag).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = SessionKey::from_bytes([7; 32]);
        assert_eq!(format!("{k:?}"), "[redacted]");
        assert_eq!(
            format!("{:?}", ContentKey::from_bytes([9; 32])),
            "[redacted]"
        );
        let s = Secret::new(Zeroizing::new(b"hunter2".to_vec()));
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn session_key_id_depends_on_the_key() {
        let a = SessionKey::from_bytes([1; 32]);
        let b = SessionKey::from_bytes([2; 32]);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), SessionKey::from_bytes([1; 32]).id());
        assert!(a.id().ct_eq(&a.id()));
        assert!(!a.id().ct_eq(&b.id()));
    }
}
