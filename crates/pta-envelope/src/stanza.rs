//! Stanzas: one recipient's wrapping of the content key (or, for a grant, of a session key).

use crate::aead::WRAPPED_LEN;
use crate::{DecodeError, DecodeErrorKind, SessionKeyId};

/// Stanza kind bytes in the binary encoding.
pub(crate) mod kind {
    pub(crate) const RSA_OAEP: u8 = 1;
    pub(crate) const SESSION: u8 = 2;
    pub(crate) const SESSION_EXPLICIT_IV: u8 = 3;
    pub(crate) const GRANT: u8 = 4;
}

/// Smallest and largest RSA ciphertext (2048 and 4096-bit moduli).
pub(crate) const RSA_CT_MIN: usize = 256;
pub(crate) const RSA_CT_MAX: usize = 512;

/// One recipient's entry in an envelope header.
///
/// Binary encoding (all integers big-endian), after a kind byte:
///
/// | kind | stanza | body |
/// | --- | --- | --- |
/// | 1 | [`Stanza::RsaOaep`] | key tag (8), length (u16, 256..=512), RSA-OAEP-256 ciphertext |
/// | 2 | [`Stanza::SessionKey`], `iv: None` | session key id (8), wrapped key and tag (48) |
/// | 3 | [`Stanza::SessionKey`], `iv: Some` | session key id (8), iv (12), wrapped key and tag (48) |
/// | 4 | [`Stanza::SessionKeyGrant`] | key tag (8), length (u16, 256..=512), RSA-OAEP-256 ciphertext |
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stanza {
    /// The content key encrypted with RSA-OAEP-256 (SHA-256, MGF1-SHA-256, empty label) to the
    /// RSA key whose [`KeyId::tag`](crate::KeyId::tag) is `key_tag`. JWE `alg: RSA-OAEP-256`.
    RsaOaep {
        /// First 8 bytes of the recipient's key id.
        key_tag: [u8; 8],
        /// The RSA ciphertext, as long as the modulus.
        ciphertext: Vec<u8>,
    },
    /// The content key wrapped with AES-256-GCM under a session key (JWE `A256GCMKW`).
    SessionKey {
        /// Which session key.
        id: SessionKeyId,
        /// The wrapping nonce; `None` means the envelope's nonce (what this crate writes: each
        /// session key wraps at most once per envelope). `Some` only comes from imported JWEs.
        iv: Option<[u8; 12]>,
        /// The wrapped content key followed by the GCM tag.
        wrapped: [u8; WRAPPED_LEN],
    },
    /// A session key encrypted with RSA-OAEP-256 under the label
    /// `pta-envelope session key v1` to the RSA key tagged `key_tag`: sent in the first
    /// envelope of each epoch so the agent learns the session key. Not a content-key stanza.
    SessionKeyGrant {
        /// First 8 bytes of the recipient's key id.
        key_tag: [u8; 8],
        /// The RSA ciphertext.
        ciphertext: Vec<u8>,
    },
}

/// The OAEP label of session-key grants (domain separation from content-key stanzas).
pub(crate) const GRANT_LABEL: &[u8] = b"pta-envelope session key v1";

impl Stanza {
    /// Appends the binary encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Stanza::RsaOaep {
                key_tag,
                ciphertext,
            } => rsa(out, kind::RSA_OAEP, key_tag, ciphertext),
            Stanza::SessionKeyGrant {
                key_tag,
                ciphertext,
            } => rsa(out, kind::GRANT, key_tag, ciphertext),
            Stanza::SessionKey { id, iv, wrapped } => {
                match iv {
                    None => out.push(kind::SESSION),
                    Some(_) => out.push(kind::SESSION_EXPLICIT_IV),
                }
                out.extend_from_slice(&id.0);
                if let Some(iv) = iv {
                    out.extend_from_slice(iv);
                }
                out.extend_from_slice(wrapped);
            }
        }
    }

    /// Decodes one stanza from `input[*pos..]`, advancing `pos`; `nonce` is the envelope's.
    pub(crate) fn decode_at(
        input: &[u8],
        pos: &mut usize,
        nonce: &[u8; 12],
    ) -> Result<Self, DecodeError> {
        let start = *pos;
        let k = take::<1>(input, pos)?[0];
        match k {
            kind::RSA_OAEP | kind::GRANT => {
                let key_tag = take::<8>(input, pos)?;
                let len_at = *pos;
                let len = usize::from(u16::from_be_bytes(take::<2>(input, pos)?));
                if !(RSA_CT_MIN..=RSA_CT_MAX).contains(&len) {
                    return Err(DecodeError::new(DecodeErrorKind::RsaLength, len_at));
                }
                let ciphertext = take_slice(input, pos, len)?.to_vec();
                Ok(if k == kind::RSA_OAEP {
                    Stanza::RsaOaep {
                        key_tag,
                        ciphertext,
                    }
                } else {
                    Stanza::SessionKeyGrant {
                        key_tag,
                        ciphertext,
                    }
                })
            }
            kind::SESSION | kind::SESSION_EXPLICIT_IV => {
                let id = SessionKeyId(take::<8>(input, pos)?);
                let iv = if k == kind::SESSION_EXPLICIT_IV {
                    let iv_at = *pos;
                    let iv = take::<12>(input, pos)?;
                    if &iv == nonce {
                        return Err(DecodeError::new(DecodeErrorKind::NonCanonical, iv_at));
                    }
                    Some(iv)
                } else {
                    None
                };
                let wrapped = take::<WRAPPED_LEN>(input, pos)?;
                Ok(Stanza::SessionKey { id, iv, wrapped })
            }
            other => Err(DecodeError::new(
                DecodeErrorKind::UnknownStanza(other),
                start,
            )),
        }
    }
}

fn rsa(out: &mut Vec<u8>, k: u8, key_tag: &[u8; 8], ciphertext: &[u8]) {
    out.push(k);
    out.extend_from_slice(key_tag);
    // Lengths are bounded by decode and by the RSA backends (at most 512).
    let len = u16::try_from(ciphertext.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(ciphertext);
}

pub(crate) fn take<const N: usize>(input: &[u8], pos: &mut usize) -> Result<[u8; N], DecodeError> {
    let s = take_slice(input, pos, N)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

pub(crate) fn take_slice<'a>(
    input: &'a [u8],
    pos: &mut usize,
    n: usize,
) -> Result<&'a [u8], DecodeError> {
    let end = pos
        .checked_add(n)
        .filter(|&e| e <= input.len())
        .ok_or(DecodeError::new(DecodeErrorKind::Truncated, input.len()))?;
    let s = &input[*pos..end];
    *pos = end;
    Ok(s)
}
