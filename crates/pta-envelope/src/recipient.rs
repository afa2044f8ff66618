//! The joint for pluggable key wrapping (as in age): [`Recipient`] wraps, [`Identity`] unwraps;
//! [`seal`] and [`open`] sit on top.

use getrandom::SysRng;
use rand_core::TryCryptoRng;

use crate::reply::ReplyKey;
use crate::stanza::{RSA_CT_MAX, RSA_CT_MIN};
use crate::{
    ContentKey, Envelope, KeyId, MAX_RECIPIENTS, MAX_SECRET, OpenError, SealError, Secret,
    SessionKey, Stanza, aead, secret::random,
};

/// Something a content key can be sealed to.
///
/// # Security contract
///
/// An implementation must return a stanza from which only the holder of the matching
/// [`Identity`] can recover `key`, and must not keep or log `key`. It may use `nonce` (the
/// envelope's, random per envelope) as an AEAD nonce only under a key that wraps at most once
/// per envelope; [`seal`] refuses two session-key stanzas with the same key id. It must not
/// return a stanza whose encoding exceeds the limits of [`Envelope::decode`].
pub trait Recipient {
    /// Wraps `key` into a stanza for this recipient.
    ///
    /// # Errors
    ///
    /// A [`SealError`] if wrapping failed; nothing is sealed then.
    fn wrap(&self, key: &ContentKey, nonce: &[u8; 12]) -> Result<Stanza, SealError>;
}

/// Something that can open stanzas.
///
/// # Security contract
///
/// Return `None` for a stanza that is not addressed to this identity (another kind, another
/// key tag), `Some(Err(OpenError::Decrypt))` for a stanza that is addressed to it but does not
/// unwrap (never a more specific error: the cause must not leak), and `Some(Ok(key))` only for
/// a key that the stanza's authenticated unwrapping produced. Key tags are compared in
/// constant time. An implementation must not log the stanza's plaintext.
pub trait Identity {
    /// Tries to unwrap `stanza`; `nonce` is the envelope's.
    fn unwrap(&self, stanza: &Stanza, nonce: &[u8; 12]) -> Option<Result<ContentKey, OpenError>>;
}

/// An agent's RSA public key as the sealer sees it: a [`Recipient`] that can also carry a
/// session key ([`Stanza::SessionKeyGrant`]). Implemented by both RSA backends.
pub trait AgentRecipient: Recipient {
    /// The key's id (SHA-256 of its SubjectPublicKeyInfo).
    fn key_id(&self) -> &KeyId;

    /// Encrypts `key` to this agent as a grant stanza.
    ///
    /// # Errors
    ///
    /// [`SealError::Rsa`] if the backend fails.
    fn grant(&self, key: &SessionKey) -> Result<Stanza, SealError>;
}

/// An agent's RSA private key: an [`Identity`] that can also open grants. Same contract as
/// [`Identity`] for [`Self::open_grant`].
pub trait AgentIdentity: Identity {
    /// The key's id (SHA-256 of its SubjectPublicKeyInfo).
    fn key_id(&self) -> &KeyId;

    /// Tries to open a [`Stanza::SessionKeyGrant`].
    fn open_grant(&self, stanza: &Stanza) -> Option<Result<SessionKey, OpenError>>;
}

impl<T: Identity + ?Sized> Identity for &T {
    fn unwrap(&self, stanza: &Stanza, nonce: &[u8; 12]) -> Option<Result<ContentKey, OpenError>> {
        (**self).unwrap(stanza, nonce)
    }
}

impl<T: AgentIdentity + ?Sized> AgentIdentity for &T {
    fn key_id(&self) -> &KeyId {
        (**self).key_id()
    }

    fn open_grant(&self, stanza: &Stanza) -> Option<Result<SessionKey, OpenError>> {
        (**self).open_grant(stanza)
    }
}

/// A freshly sealed envelope and the key that will authenticate its reply. Keep the reply key
/// with the outstanding request, and drop it when the request completes.
#[derive(Debug)]
pub struct Sealed {
    /// The envelope to send.
    pub envelope: Envelope,
    /// Verifies the agent's reply ([`ReplyKey::verify`]).
    pub reply_key: ReplyKey,
}

/// An opened envelope: the secret, and the key to authenticate the reply with.
#[derive(Debug)]
pub struct Opened {
    /// The secret (the password).
    pub secret: Secret,
    /// MACs the reply ([`ReplyKey::mac`]).
    pub reply_key: ReplyKey,
}

/// Seals `secret` for every recipient, binding `bound` (see [`Envelope`]), with the operating
/// system's random number generator.
///
/// # Errors
///
/// [`SealError`]: recipient count, secret length, duplicate session key, RNG or RSA failure.
pub fn seal(
    recipients: &[&dyn Recipient],
    secret: &[u8],
    bound: &[u8],
) -> Result<Sealed, SealError> {
    seal_with_rng(&mut SysRng, recipients, secret, bound)
}

/// [`seal`] with a caller-supplied random number generator (for the content key and nonce;
/// RSA padding always uses the backend's own).
///
/// # Errors
///
/// As [`seal`].
pub fn seal_with_rng<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    recipients: &[&dyn Recipient],
    secret: &[u8],
    bound: &[u8],
) -> Result<Sealed, SealError> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(SealError::RecipientCount);
    }
    if secret.len() > MAX_SECRET {
        return Err(SealError::SecretTooLong);
    }
    let ck = ContentKey::generate(rng)?;
    let nonce = random::<R, 12>(rng)?;
    let stanzas = recipients
        .iter()
        .map(|r| r.wrap(&ck, &nonce))
        .collect::<Result<Vec<_>, _>>()?;
    finish(nonce, stanzas, &ck, secret, bound)
}

/// Checks the stanzas and encrypts the secret.
pub(crate) fn finish(
    nonce: [u8; 12],
    stanzas: Vec<Stanza>,
    ck: &ContentKey,
    secret: &[u8],
    bound: &[u8],
) -> Result<Sealed, SealError> {
    if stanzas.is_empty() || stanzas.len() > MAX_RECIPIENTS {
        return Err(SealError::RecipientCount);
    }
    if secret.len() > MAX_SECRET {
        return Err(SealError::SecretTooLong);
    }
    for (i, s) in stanzas.iter().enumerate() {
        match s {
            Stanza::RsaOaep { ciphertext, .. } | Stanza::SessionKeyGrant { ciphertext, .. } => {
                if !(RSA_CT_MIN..=RSA_CT_MAX).contains(&ciphertext.len()) {
                    return Err(SealError::Rsa);
                }
            }
            Stanza::SessionKey { id, .. } => {
                let dup = stanzas[..i]
                    .iter()
                    .any(|o| matches!(o, Stanza::SessionKey { id: other, .. } if other == id));
                if dup {
                    return Err(SealError::DuplicateRecipient);
                }
            }
        }
    }
    let mut envelope = Envelope {
        nonce,
        stanzas,
        sealed: Vec::new(),
    };
    envelope.sealed = aead::seal(ck.expose(), &nonce, &envelope.content_aad(bound), secret)?;
    Ok(Sealed {
        envelope,
        reply_key: ReplyKey::derive(ck),
    })
}

/// Opens `envelope` with `identity`, checking `bound`.
///
/// The first stanza the identity claims decides: if it does not unwrap, or the content does
/// not authenticate under the key it gives, opening fails with [`OpenError::Decrypt`].
///
/// # Errors
///
/// [`OpenError::NotAddressed`] if no stanza is for this identity; [`OpenError::Decrypt`] for
/// every decryption failure.
pub fn open(
    identity: &dyn Identity,
    envelope: &Envelope,
    bound: &[u8],
) -> Result<Opened, OpenError> {
    open_with_aad(identity, envelope, &envelope.content_aad(bound))
}

pub(crate) fn open_with_aad(
    identity: &dyn Identity,
    envelope: &Envelope,
    aad: &[u8],
) -> Result<Opened, OpenError> {
    for s in &envelope.stanzas {
        if let Some(r) = identity.unwrap(s, &envelope.nonce) {
            return open_content(envelope, aad, &r?);
        }
    }
    Err(OpenError::NotAddressed)
}

pub(crate) fn open_content(
    envelope: &Envelope,
    aad: &[u8],
    ck: &ContentKey,
) -> Result<Opened, OpenError> {
    let plain = aead::open(ck.expose(), &envelope.nonce, aad, &envelope.sealed)?;
    Ok(Opened {
        secret: Secret::new(plain),
        reply_key: ReplyKey::derive(ck),
    })
}
