//! AES-256-GCM for the content and for session-key wrapping (JWE `A256GCMKW`: no associated
//! data, the wrapped key followed by the tag).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroizing;

use crate::{ContentKey, OpenError, SealError, SessionKey};

/// Length of the GCM authentication tag.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a wrapped content key: 32 bytes of key, then the tag.
pub(crate) const WRAPPED_LEN: usize = 32 + TAG_LEN;

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(&(*key).into())
}

/// Encrypts `plaintext`, returning ciphertext followed by the tag.
/// GCM fails only past 2^36 bytes of plaintext; the callers bound it far below.
pub(crate) fn seal(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = cipher(key)
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, out.as_mut_slice().into())
        .map_err(|_| SealError::SecretTooLong)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Decrypts ciphertext followed by a tag.
pub(crate) fn open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let split = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(OpenError::Decrypt)?;
    let (ct, tag) = sealed.split_at(split);
    let tag = Tag::try_from(tag).map_err(|_| OpenError::Decrypt)?;
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher(key)
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| OpenError::Decrypt)?;
    Ok(buf)
}

/// Wraps a content key under a session key.
pub(crate) fn wrap_key(
    sk: &SessionKey,
    nonce: &[u8; 12],
    ck: &ContentKey,
) -> Result<[u8; WRAPPED_LEN], SealError> {
    let sealed = Zeroizing::new(seal(sk.expose(), nonce, &[], ck.expose())?);
    let mut out = [0u8; WRAPPED_LEN];
    out.copy_from_slice(&sealed);
    Ok(out)
}

/// Unwraps a content key wrapped under a session key.
pub(crate) fn unwrap_key(
    sk: &SessionKey,
    nonce: &[u8; 12],
    wrapped: &[u8; WRAPPED_LEN],
) -> Result<ContentKey, OpenError> {
    let plain = open(sk.expose(), nonce, &[], wrapped)?;
    let mut k = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(&plain);
    Ok(ContentKey::from_bytes(*k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tamper() {
        let key = [3u8; 32];
        let nonce = [4u8; 12];
        let mut s = seal(&key, &nonce, b"aad", b"hello").unwrap();
        assert_eq!(s.len(), 5 + TAG_LEN);
        assert_eq!(open(&key, &nonce, b"aad", &s).unwrap().as_slice(), b"hello");
        assert_eq!(open(&key, &nonce, b"aaD", &s), Err(OpenError::Decrypt));
        s[0] ^= 1;
        assert_eq!(open(&key, &nonce, b"aad", &s), Err(OpenError::Decrypt));
        assert_eq!(
            open(&key, &nonce, b"aad", &s[..10]),
            Err(OpenError::Decrypt)
        );
    }

    #[test]
    fn key_wrap_round_trip() {
        let sk = SessionKey::from_bytes([5; 32]);
        let ck = ContentKey::from_bytes([6; 32]);
        let w = wrap_key(&sk, &[1; 12], &ck).unwrap();
        assert_eq!(unwrap_key(&sk, &[1; 12], &w).unwrap().expose(), &[6; 32]);
        assert!(unwrap_key(&sk, &[2; 12], &w).is_err());
        assert!(unwrap_key(&SessionKey::from_bytes([0; 32]), &[1; 12], &w).is_err());
    }
}
