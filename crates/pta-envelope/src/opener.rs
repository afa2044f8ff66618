//! The agent side: the RSA identity and a bounded cache of session keys.

use crate::recipient::{open_content, open_with_aad};
use crate::{AgentIdentity, Envelope, Identity, OpenError, Opened, SessionKey, Stanza};

/// Session-key cache policy. Times are milliseconds on the caller's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenerConfig {
    /// Most session keys kept (default 64: one per service node, with room for rotation).
    /// The least recently used key is evicted (and zeroized) first.
    pub max_session_keys: usize,
    /// A session key is dropped (and zeroized) this long after it was received (default two
    /// hours; keep it above the sealers' `session_key_max_age_ms`).
    pub session_key_ttl_ms: u64,
}

impl Default for OpenerConfig {
    fn default() -> Self {
        Self {
            max_session_keys: 64,
            session_key_ttl_ms: 7_200_000,
        }
    }
}

struct Entry {
    key: SessionKey,
    added: u64,
    used: u64,
}

/// Opens envelopes on the agent: session-key stanzas from the cache (no RSA), grants and
/// RSA stanzas with the agent's RSA identity.
///
/// `now` is milliseconds on any clock the caller keeps; only differences matter. When an
/// envelope names only session keys this opener does not hold, [`Opener::open`] answers
/// [`OpenError::UnknownSessionKey`]: reply `UnknownKey`, and the sealer resends with the grant.
///
/// An agent that opens several envelopes at once (a grant on a blocking thread, the envelopes
/// after it inline) orders them with [`PendingGrants`](crate::PendingGrants): an envelope that
/// misses a session key waits for the grants that arrived before it, then tries again.
pub struct Opener<I> {
    identity: I,
    config: OpenerConfig,
    cache: Vec<Entry>,
}

impl<I: std::fmt::Debug> std::fmt::Debug for Opener<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("identity", &self.identity)
            .field("config", &self.config)
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl<I: AgentIdentity> Opener<I> {
    /// An opener with an empty cache.
    pub fn new(identity: I, config: OpenerConfig) -> Self {
        Self {
            identity,
            config,
            cache: Vec::new(),
        }
    }

    /// The RSA identity.
    pub fn identity(&self) -> &I {
        &self.identity
    }

    /// How many session keys are cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Drops session keys older than the TTL.
    pub fn expire(&mut self, now: u64) {
        let ttl = self.config.session_key_ttl_ms;
        self.cache.retain(|e| now >= e.added && now - e.added < ttl);
    }

    /// Opens `envelope`, checking `bound`: a cached session key first, then a grant for this
    /// agent (whose session key is cached once the envelope opens), then an RSA stanza.
    ///
    /// # Errors
    ///
    /// [`OpenError::UnknownSessionKey`] if only unknown session keys are named;
    /// [`OpenError::NotAddressed`] if nothing is for this agent; [`OpenError::Decrypt`] for
    /// every decryption failure.
    pub fn open(
        &mut self,
        now: u64,
        envelope: &Envelope,
        bound: &[u8],
    ) -> Result<Opened, OpenError> {
        self.expire(now);
        let aad = envelope.content_aad(bound);
        let nonce = envelope.nonce();
        // 1. A cached session key.
        let hit = self.cache.iter().enumerate().find_map(|(i, e)| {
            envelope
                .stanzas()
                .iter()
                .find_map(|s| e.key.unwrap(s, nonce))
                .map(|r| (i, r))
        });
        if let Some((i, ck)) = hit {
            let opened = open_content(envelope, &aad, &ck?)?;
            if let Some(e) = self.cache.get_mut(i) {
                e.used = now;
            }
            // Keep the most recently used first so the hot key is found at once.
            self.cache[..=i].rotate_right(1);
            return Ok(opened);
        }
        // 2. A grant for us, and the session stanza it unlocks.
        for g in envelope.stanzas() {
            if let Some(sk) = self.identity.open_grant(g) {
                let sk = sk?;
                let ck = envelope
                    .stanzas()
                    .iter()
                    .find_map(|s| sk.unwrap(s, nonce))
                    .ok_or(OpenError::Decrypt)??;
                let opened = open_content(envelope, &aad, &ck)?;
                self.insert(now, sk);
                return Ok(opened);
            }
        }
        // 3. An RSA stanza for us.
        match open_with_aad(&self.identity, envelope, &aad) {
            Err(OpenError::NotAddressed) => {}
            other => return other,
        }
        match envelope.stanzas().iter().find_map(|s| match s {
            Stanza::SessionKey { id, .. } => Some(*id),
            _ => None,
        }) {
            Some(id) => Err(OpenError::UnknownSessionKey(id)),
            None => Err(OpenError::NotAddressed),
        }
    }

    pub(crate) fn insert(&mut self, now: u64, key: SessionKey) {
        let id = key.id();
        self.cache.retain(|e| !e.key.id().ct_eq(&id));
        if self.config.max_session_keys == 0 {
            return;
        }
        while self.cache.len() >= self.config.max_session_keys {
            // Least recently used: the smallest `used`; on a tie the one nearest the end
            // (the list is kept most recently used first).
            let lru = self
                .cache
                .iter()
                .enumerate()
                .rev()
                .min_by_key(|(_, e)| e.used);
            let Some((oldest, _)) = lru else {
                break;
            };
            self.cache.remove(oldest);
        }
        self.cache.insert(
            0,
            Entry {
                key,
                added: now,
                used: now,
            },
        );
    }
}
