//! The agent keys' envelope openers (current first, then the previous and the live session's)
//! and the grants being opened.

use std::sync::Mutex;

use pta_cert::KeyPair;
use pta_envelope::{
    Arrival, AwsLcRsaIdentity, Envelope, OpenError, Opened, Opener, OpenerConfig, PendingGrants,
};
use sha2::{Digest, Sha256};

use super::lock;
use crate::Error;

/// Agent keys kept for opening envelopes (current, previous), besides the live session's.
const OPENERS_KEPT: usize = 2;

/// One agent key and the opener (with its session-key cache) that uses it.
pub(super) struct KeyEntry {
    /// SHA-256 of the key's SubjectPublicKeyInfo, as bound into envelopes.
    key_id: [u8; 32],
    /// The renewal generation that installed this key (0: the key loaded at start; the
    /// previous pair loaded at start gets `u64::MAX`).
    generation: u64,
    opener: Opener<AwsLcRsaIdentity>,
}

impl KeyEntry {
    pub(super) fn new(key: &KeyPair, generation: u64) -> Result<Self, Error> {
        let der = key.to_pkcs8_der()?;
        let identity = AwsLcRsaIdentity::from_pkcs8_der(&der)?;
        let key_id: [u8; 32] = Sha256::digest(key.public_key_der()?).into();
        Ok(Self {
            key_id,
            generation,
            opener: Opener::new(identity, OpenerConfig::default()),
        })
    }
}

/// The openers of every key the service may seal for, and the order in which envelopes
/// arrived ([`PendingGrants`]): an envelope that misses a session key waits for the grants
/// that arrived before it, which pta-envelope orders.
pub(super) struct Keyring {
    keys: Mutex<Vec<KeyEntry>>,
    grants: PendingGrants,
}

impl Keyring {
    /// The keys, most recent first.
    pub(super) fn new(keys: Vec<KeyEntry>) -> Self {
        Self {
            keys: Mutex::new(keys),
            grants: PendingGrants::new(),
        }
    }

    /// Records that `envelope` arrived; call it in arrival order, before opening.
    pub(super) fn arrive(&self, envelope: &Envelope) -> Arrival {
        self.grants.arrive(envelope)
    }

    /// Opens with each key (current first), each with its own binding (`bound` of the key
    /// id). Blocks for an RSA decryption when the envelope carries a grant or an RSA stanza.
    ///
    /// # Errors
    ///
    /// [`OpenError::UnknownSessionKey`] when a key misses the session key and none failed to
    /// decrypt; [`OpenError::Decrypt`] otherwise.
    pub(super) fn open(
        &self,
        now: u64,
        envelope: &Envelope,
        bound: impl Fn(&[u8; 32]) -> Vec<u8>,
    ) -> Result<Opened, OpenError> {
        let mut keys = lock(&self.keys);
        let (mut unknown, mut failed) = (None, false);
        for entry in keys.iter_mut() {
            match entry.opener.open(now, envelope, &bound(&entry.key_id)) {
                Ok(opened) => return Ok(opened),
                Err(OpenError::UnknownSessionKey(id)) => unknown = unknown.or(Some(id)),
                Err(OpenError::Decrypt) => failed = true,
                Err(_) => {}
            }
        }
        match unknown {
            Some(id) if !failed => Err(OpenError::UnknownSessionKey(id)),
            _ => Err(OpenError::Decrypt),
        }
    }

    /// Adds a renewed key first. Keeps [`OPENERS_KEPT`] keys, and the key of generation
    /// `live` (the live session keeps presenting the certificate it connected with, and the
    /// service keeps sealing for that key until the next connection).
    pub(super) fn install(&self, entry: KeyEntry, live: u64) {
        let mut keys = lock(&self.keys);
        keys.insert(0, entry);
        let mut index = 0;
        keys.retain(|k| {
            index += 1;
            index <= OPENERS_KEPT || k.generation == live
        });
    }
}
