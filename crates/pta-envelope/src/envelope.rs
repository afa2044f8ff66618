//! The envelope and its binary codec.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::aead::TAG_LEN;
use crate::stanza::{Stanza, take, take_slice};
use crate::{DecodeError, DecodeErrorKind};

/// The binary format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Most stanzas (recipients, grants included) in one envelope.
pub const MAX_RECIPIENTS: usize = 64;
/// Longest secret, in bytes.
pub const MAX_SECRET: usize = 1024;

/// The JWE protected header this crate writes, `{"enc":"A256GCM"}`, base64url-encoded.
pub(crate) const PROTECTED_B64: &str = "eyJlbmMiOiJBMjU2R0NNIn0";

/// A sealed secret: a random nonce, one stanza per recipient, and the AES-256-GCM ciphertext.
///
/// Binary encoding:
///
/// ```text
/// version (1, = 1) | nonce (12) | stanza count (1, 1..=64) | stanzas | ciphertext | tag (16)
/// ```
///
/// The ciphertext runs to the end of the input (0 to 1024 bytes of secret). Everything before
/// it is the *header*. The content's associated data is the JWE associated data of the same
/// envelope exported with [`Envelope::to_jwe`]:
///
/// ```text
/// "eyJlbmMiOiJBMjU2R0NNIn0" || "." || BASE64URL(header || bound)
/// ```
///
/// where `eyJlbmMiOiJBMjU2R0NNIn0` is the protected header `{"enc":"A256GCM"}` and `bound` is
/// the caller's bound data (request id, tenant, login, agent key id, deadline). Changing any
/// stanza, the nonce or the bound data makes opening fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub(crate) nonce: [u8; 12],
    pub(crate) stanzas: Vec<Stanza>,
    /// Ciphertext followed by the tag.
    pub(crate) sealed: Vec<u8>,
}

impl Envelope {
    /// The content nonce.
    pub fn nonce(&self) -> &[u8; 12] {
        &self.nonce
    }

    /// The stanzas, in order.
    pub fn stanzas(&self) -> &[Stanza] {
        &self.stanzas
    }

    /// Length of the sealed secret in bytes.
    pub fn secret_len(&self) -> usize {
        self.sealed.len().saturating_sub(TAG_LEN)
    }

    /// Appends the binary encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_header(out);
        out.extend_from_slice(&self.sealed);
    }

    /// The binary encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        self.encode(&mut v);
        v
    }

    /// Length of the binary encoding.
    pub fn encoded_len(&self) -> usize {
        self.header_len() + self.sealed.len()
    }

    fn header_len(&self) -> usize {
        let stanzas: usize =
            self.stanzas
                .iter()
                .map(|s| match s {
                    Stanza::RsaOaep { ciphertext, .. }
                    | Stanza::SessionKeyGrant { ciphertext, .. } => 11 + ciphertext.len(),
                    Stanza::SessionKey { iv: None, .. } => 57,
                    Stanza::SessionKey { iv: Some(_), .. } => 69,
                })
                .sum();
        14 + stanzas
    }

    pub(crate) fn encode_header(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.extend_from_slice(&self.nonce);
        // At most MAX_RECIPIENTS: enforced by seal and decode.
        out.push(u8::try_from(self.stanzas.len()).unwrap_or(u8::MAX));
        for s in &self.stanzas {
            s.encode(out);
        }
    }

    /// The content's associated data for `bound` (see the type's docs).
    pub(crate) fn content_aad(&self, bound: &[u8]) -> Vec<u8> {
        let mut member = Vec::with_capacity(self.header_len() + bound.len());
        self.encode_header(&mut member);
        member.extend_from_slice(bound);
        jwe_aad(PROTECTED_B64, Some(&member))
    }

    /// Decodes an envelope. Total (never panics) and bounded: at most
    /// [`MAX_RECIPIENTS`] stanzas, a secret of at most [`MAX_SECRET`] bytes, RSA ciphertexts of
    /// 256 to 512 bytes, and only version [`VERSION`].
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] naming the first problem and its byte offset.
    pub fn decode(input: &[u8]) -> Result<Self, DecodeError> {
        let mut pos = 0;
        let version = take::<1>(input, &mut pos)?[0];
        if version != VERSION {
            return Err(DecodeError::new(
                DecodeErrorKind::UnknownVersion(version),
                0,
            ));
        }
        let nonce = take::<12>(input, &mut pos)?;
        let count_at = pos;
        let count = usize::from(take::<1>(input, &mut pos)?[0]);
        if count == 0 || count > MAX_RECIPIENTS {
            return Err(DecodeError::new(DecodeErrorKind::RecipientCount, count_at));
        }
        let mut stanzas = Vec::with_capacity(count);
        for _ in 0..count {
            stanzas.push(Stanza::decode_at(input, &mut pos, &nonce)?);
        }
        let rest = input.len() - pos;
        if !(TAG_LEN..=MAX_SECRET + TAG_LEN).contains(&rest) {
            return Err(DecodeError::new(DecodeErrorKind::SecretLength, pos));
        }
        let sealed = take_slice(input, &mut pos, rest)?.to_vec();
        Ok(Self {
            nonce,
            stanzas,
            sealed,
        })
    }
}

/// The JWE associated data (RFC 7516 section 5.1 step 14).
pub(crate) fn jwe_aad(protected_b64: &str, aad_member: Option<&[u8]>) -> Vec<u8> {
    let mut out = protected_b64.as_bytes().to_vec();
    if let Some(m) = aad_member {
        out.push(b'.');
        out.extend_from_slice(Base64UrlUnpadded::encode_string(m).as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionKeyId;

    fn sample() -> Envelope {
        Envelope {
            nonce: [1; 12],
            stanzas: vec![
                Stanza::SessionKey {
                    id: SessionKeyId([2; 8]),
                    iv: None,
                    wrapped: [3; 48],
                },
                Stanza::SessionKey {
                    id: SessionKeyId([2; 8]),
                    iv: Some([9; 12]),
                    wrapped: [3; 48],
                },
                Stanza::RsaOaep {
                    key_tag: [4; 8],
                    ciphertext: vec![5; 256],
                },
                Stanza::SessionKeyGrant {
                    key_tag: [4; 8],
                    ciphertext: vec![6; 384],
                },
            ],
            sealed: vec![7; 20],
        }
    }

    #[test]
    fn round_trip_and_length() {
        let e = sample();
        let b = e.to_bytes();
        assert_eq!(b.len(), e.encoded_len());
        assert_eq!(Envelope::decode(&b).unwrap(), e);
    }

    #[test]
    fn protected_constant_matches_its_json() {
        assert_eq!(
            Base64UrlUnpadded::decode_vec(PROTECTED_B64).unwrap(),
            br#"{"enc":"A256GCM"}"#
        );
    }

    #[test]
    fn rejects_out_of_bounds_input() {
        let b = sample().to_bytes();
        for n in 0..b.len() - 16 {
            assert!(Envelope::decode(&b[..n]).is_err(), "prefix {n}");
        }
        let mut v = b.clone();
        v[0] = 2;
        assert_eq!(
            Envelope::decode(&v).unwrap_err().kind,
            DecodeErrorKind::UnknownVersion(2)
        );
        let mut v = b.clone();
        v[13] = 0;
        assert_eq!(
            Envelope::decode(&v).unwrap_err().kind,
            DecodeErrorKind::RecipientCount
        );
        v[13] = 65;
        assert_eq!(
            Envelope::decode(&v).unwrap_err().kind,
            DecodeErrorKind::RecipientCount
        );
        let mut v = b.clone();
        v.extend_from_slice(&[0; MAX_SECRET]);
        assert_eq!(
            Envelope::decode(&v).unwrap_err().kind,
            DecodeErrorKind::SecretLength
        );
        let mut v = b.clone();
        v[14] = 9;
        assert_eq!(
            Envelope::decode(&v).unwrap_err(),
            DecodeError::new(DecodeErrorKind::UnknownStanza(9), 14)
        );
        // An explicit iv equal to the envelope nonce is not canonical.
        let mut e = sample();
        e.stanzas[1] = Stanza::SessionKey {
            id: SessionKeyId([2; 8]),
            iv: Some([1; 12]),
            wrapped: [3; 48],
        };
        assert_eq!(
            Envelope::decode(&e.to_bytes()).unwrap_err().kind,
            DecodeErrorKind::NonCanonical
        );
        // RSA length out of range.
        let mut e = sample();
        e.stanzas[2] = Stanza::RsaOaep {
            key_tag: [4; 8],
            ciphertext: vec![5; 255],
        };
        assert_eq!(
            Envelope::decode(&e.to_bytes()).unwrap_err().kind,
            DecodeErrorKind::RsaLength
        );
    }
}
