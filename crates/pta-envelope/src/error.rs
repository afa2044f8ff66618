//! The crate's errors: decoding (a kind plus a byte offset), sealing, opening and key loading.

use crate::secret::SessionKeyId;

/// What went wrong while decoding an envelope or a JWE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside an item.
    Truncated,
    /// The version byte is not one this crate reads.
    UnknownVersion(u8),
    /// A stanza kind byte (or a JWE `alg`) this crate does not know.
    UnknownStanza(u8),
    /// Zero recipients, or more than [`MAX_RECIPIENTS`](crate::MAX_RECIPIENTS).
    RecipientCount,
    /// The sealed secret is longer than [`MAX_SECRET`](crate::MAX_SECRET), or the ciphertext is
    /// shorter than the authentication tag.
    SecretLength,
    /// An RSA ciphertext length outside 256..=512 bytes (2048 to 4096-bit keys).
    RsaLength,
    /// A field has a form this crate never writes (for example an explicit session-key nonce
    /// equal to the envelope nonce), so decoding and encoding would not give the same bytes.
    NonCanonical,
    /// The JWE is not valid JSON, lacks a member, or a member has the wrong type or length.
    Json,
    /// A JWE member is not valid unpadded base64url.
    Base64,
    /// The JWE asks for something this crate does not do (another `enc`, `zip`, `crit`).
    Unsupported,
    /// The input is larger than any valid envelope or JWE.
    TooLong,
}

/// A decode failure: what went wrong and at which byte offset of the input (0 for JWE errors,
/// which are about members rather than bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("envelope decode error: {kind:?} at byte {offset}")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Offset of the offending byte, counted from the start of the input.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }
}

/// Why sealing failed. Nothing was sent; no secret material is in the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No recipients were given, or more than [`MAX_RECIPIENTS`](crate::MAX_RECIPIENTS). Fix
    /// the call.
    #[error("recipient count must be 1 to 64")]
    RecipientCount,
    /// The secret is longer than [`MAX_SECRET`](crate::MAX_SECRET) bytes. Reject the input
    /// before sealing (a password this long is not a password).
    #[error("secret longer than the limit")]
    SecretTooLong,
    /// Two recipients would use the same session key in one envelope. Pass each agent once.
    #[error("duplicate session-key recipient")]
    DuplicateRecipient,
    /// The random number generator failed. Retry later; if it persists, the host is broken.
    #[error("random number generator failed")]
    Rng,
    /// The RSA backend refused to encrypt (a key it cannot use). Re-register the agent's key.
    #[error("RSA encryption failed")]
    Rsa,
}

/// Why opening failed, or why a reply did not verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The bytes are not an envelope. Answer the request with a failure (never a verdict).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No stanza is addressed to this identity. Answer with a failure; the sender used the
    /// wrong key id (for example an agent that re-registered with a new key).
    #[error("no stanza for this identity")]
    NotAddressed,
    /// The envelope names session keys and this opener holds none of them (evicted, expired,
    /// restarted, or never received). Answer with `UnknownKey` so the sealer resends the
    /// request with the session key RSA-wrapped ([`Sealer::seal_with_grant`](crate::Sealer::seal_with_grant)).
    /// The id is the first session key named; the opener cannot tell its own from another's.
    #[error("unknown session key")]
    UnknownSessionKey(SessionKeyId),
    /// Decryption failed: a stanza addressed to us did not unwrap, the content or the bound
    /// data did not authenticate, or the envelope was tampered with. Every such cause is this
    /// one variant on purpose. Answer with a failure to reach a verdict; do not retry the same
    /// envelope.
    #[error("decryption failed")]
    Decrypt,
    /// A reply's MAC did not verify: the reply was forged, altered or belongs to another
    /// request. Treat it as a failure to reach a verdict (never as a verdict, never counted
    /// toward lockout).
    #[error("reply authentication failed")]
    BadReplyMac,
}

/// Why a key could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The bytes are not a DER SubjectPublicKeyInfo / PKCS#8 RSA key, or the backend rejected
    /// the key. Check the file.
    #[error("malformed RSA key")]
    Malformed,
    /// The modulus is outside 2048..=4096 bits. Generate a key of an allowed size.
    #[error("RSA key of {bits} bits (2048 to 4096 allowed)")]
    UnsupportedSize {
        /// The key's modulus size in bits.
        bits: usize,
    },
    /// Key generation failed (random number generator). Retry.
    #[error("key generation failed")]
    Generate,
}
