//! Reply authentication: the agent MACs its answer under a key derived from the request's
//! content key; the sealer verifies it.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{ContentKey, OpenError};

const HKDF_INFO: &[u8] = b"pta-envelope reply key v1";
const MAC_DOMAIN: &[u8] = b"pta-envelope reply v1\0";

/// What a reply MAC authenticates. The runtimes fill it from `pta-wire`'s `SignInResponse`:
/// the request id, the verdict code from the verdict registry, and the warnings in a canonical
/// byte form of their choosing (opaque here; both ends must produce the same bytes).
///
/// The MAC is HMAC-SHA-256 under the [`ReplyKey`] over
///
/// ```text
/// "pta-envelope reply v1" || 0x00
///   || u32be(len(request_id)) || request_id
///   || u32be(verdict)
///   || u32be(len(warnings)) || warnings
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply<'a> {
    /// The request id (16 bytes in `pta-wire`).
    pub request_id: &'a [u8],
    /// The verdict code.
    pub verdict: u32,
    /// The warnings, canonically encoded by the caller.
    pub warnings: &'a [u8],
}

/// A reply MAC: 32 bytes, carried as opaque bytes in `SignInResponse.mac`. Not a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyMac(pub [u8; 32]);

/// The key that authenticates the reply to one request: HKDF-SHA-256 of the request's content
/// key (no salt, info `pta-envelope reply key v1`). Only the sealer and the agent that opened
/// the envelope know it. Zeroized on drop, redacted in Debug.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ReplyKey([u8; 32]);

impl std::fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl ReplyKey {
    pub(crate) fn derive(ck: &ContentKey) -> Self {
        let mut k = [0u8; 32];
        // 32 bytes is far below HKDF-SHA-256's limit of 8160, so expand cannot fail.
        let _ = Hkdf::<Sha256>::new(None, ck.expose()).expand(HKDF_INFO, &mut k);
        Self(k)
    }

    fn compute(&self, reply: &Reply<'_>) -> [u8; 32] {
        // HMAC takes keys of any length: this cannot fail.
        let Ok(mut m) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        m.update(MAC_DOMAIN);
        m.update(&len32(reply.request_id.len()));
        m.update(reply.request_id);
        m.update(&reply.verdict.to_be_bytes());
        m.update(&len32(reply.warnings.len()));
        m.update(reply.warnings);
        m.finalize().into_bytes().into()
    }

    /// The agent's side: the MAC for `reply`.
    pub fn mac(&self, reply: &Reply<'_>) -> ReplyMac {
        ReplyMac(self.compute(reply))
    }

    /// The sealer's side: checks `mac` (as received, any length) against `reply` in constant
    /// time.
    ///
    /// # Errors
    ///
    /// [`OpenError::BadReplyMac`] if it does not match: treat the reply as a failure.
    pub fn verify(&self, reply: &Reply<'_>, mac: &[u8]) -> Result<(), OpenError> {
        let expected = self.compute(reply);
        if mac.len() == expected.len() && bool::from(expected.ct_eq(mac)) {
            Ok(())
        } else {
            Err(OpenError::BadReplyMac)
        }
    }
}

fn len32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_binds_every_field() {
        let k = ReplyKey::derive(&ContentKey::from_bytes([1; 32]));
        let r = Reply {
            request_id: &[7; 16],
            verdict: 1,
            warnings: b"w",
        };
        let m = k.mac(&r);
        assert_eq!(k.verify(&r, &m.0), Ok(()));
        let others = [
            Reply {
                request_id: &[8; 16],
                ..r
            },
            Reply { verdict: 2, ..r },
            Reply { warnings: b"", ..r },
            // Length prefixes keep fields apart.
            Reply {
                request_id: &[7; 15],
                warnings: b"\x07w",
                ..r
            },
        ];
        for o in others {
            assert_eq!(k.verify(&o, &m.0), Err(OpenError::BadReplyMac));
        }
        assert_eq!(k.verify(&r, &m.0[..31]), Err(OpenError::BadReplyMac));
        let other_key = ReplyKey::derive(&ContentKey::from_bytes([2; 32]));
        assert_eq!(other_key.verify(&r, &m.0), Err(OpenError::BadReplyMac));
        // The reply key is not the content key.
        assert_ne!(k.0, [1; 32]);
    }
}
