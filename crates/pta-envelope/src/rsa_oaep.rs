//! What the two RSA backends share: which stanza carries what, key-tag matching, the OAEP label
//! of session-key grants, and the length check of unwrapped keys. A backend supplies only its
//! OAEP primitive ([`OaepEncrypt`], [`OaepDecrypt`]) and forwards the public traits here.

use zeroize::Zeroizing;

use crate::stanza::GRANT_LABEL;
use crate::{ContentKey, KeyId, OpenError, SealError, SessionKey, Stanza};

/// An RSA public key's OAEP-SHA-256 encryption.
pub(crate) trait OaepEncrypt {
    /// The key's id (SHA-256 of its SubjectPublicKeyInfo).
    fn id(&self) -> &KeyId;
    /// RSA-OAEP-256 of `plain`, with `label` if given.
    fn oaep_encrypt(&self, plain: &[u8], label: Option<&[u8]>) -> Result<Vec<u8>, SealError>;
}

/// An RSA private key's OAEP-SHA-256 decryption.
pub(crate) trait OaepDecrypt {
    /// The key's id (SHA-256 of its SubjectPublicKeyInfo).
    fn id(&self) -> &KeyId;
    /// RSA-OAEP-256 decryption of `ct`, with `label` if given; any failure is
    /// [`OpenError::Decrypt`].
    fn oaep_decrypt(
        &self,
        ct: &[u8],
        label: Option<&[u8]>,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError>;
}

/// A content key wrapped for this key.
pub(crate) fn wrap(key: &impl OaepEncrypt, content: &ContentKey) -> Result<Stanza, SealError> {
    Ok(Stanza::RsaOaep {
        key_tag: key.id().tag(),
        ciphertext: key.oaep_encrypt(content.expose(), None)?,
    })
}

/// A session key granted to this key (under the grant label, so it cannot pass for a content
/// key).
pub(crate) fn grant(key: &impl OaepEncrypt, session: &SessionKey) -> Result<Stanza, SealError> {
    Ok(Stanza::SessionKeyGrant {
        key_tag: key.id().tag(),
        ciphertext: key.oaep_encrypt(session.expose(), Some(GRANT_LABEL))?,
    })
}

/// The content key in `stanza` if it is addressed to this key.
pub(crate) fn unwrap(
    key: &impl OaepDecrypt,
    stanza: &Stanza,
) -> Option<Result<ContentKey, OpenError>> {
    match stanza {
        Stanza::RsaOaep {
            key_tag,
            ciphertext,
        } if key.id().tag_matches(key_tag) => Some(
            key.oaep_decrypt(ciphertext, None)
                .and_then(|p| key32(&p))
                .map(|k| ContentKey::from_bytes(*k)),
        ),
        _ => None,
    }
}

/// The session key in `stanza` if it is a grant addressed to this key.
pub(crate) fn open_grant(
    key: &impl OaepDecrypt,
    stanza: &Stanza,
) -> Option<Result<SessionKey, OpenError>> {
    match stanza {
        Stanza::SessionKeyGrant {
            key_tag,
            ciphertext,
        } if key.id().tag_matches(key_tag) => Some(
            key.oaep_decrypt(ciphertext, Some(GRANT_LABEL))
                .and_then(|p| key32(&p))
                .map(|k| SessionKey::from_bytes(*k)),
        ),
        _ => None,
    }
}

/// The 32-byte plaintext of an RSA stanza, or [`OpenError::Decrypt`].
fn key32(plain: &[u8]) -> Result<Zeroizing<[u8; 32]>, OpenError> {
    let mut k = Zeroizing::new([0u8; 32]);
    if plain.len() != 32 {
        return Err(OpenError::Decrypt);
    }
    k.copy_from_slice(plain);
    Ok(k)
}
