//! The service side: one session key per agent, rotated by age and use count.

use std::collections::HashMap;

use getrandom::SysRng;
use rand_core::TryCryptoRng;

use crate::recipient::finish;
use crate::secret::random;
use crate::{
    AgentRecipient, ContentKey, KeyId, MAX_SECRET, Recipient, SealError, Sealed, SessionKey, Stanza,
};

/// Session-key rotation policy. Times are milliseconds on the caller's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealerConfig {
    /// A session key is replaced once it is this old (default one hour). Keep it below the
    /// agents' [`OpenerConfig::session_key_ttl_ms`](crate::OpenerConfig::session_key_ttl_ms) so
    /// agents rarely answer `UnknownSessionKey`.
    pub session_key_max_age_ms: u64,
    /// A session key is replaced after sealing this many envelopes (default 100 000).
    pub session_key_max_uses: u64,
}

impl Default for SealerConfig {
    fn default() -> Self {
        Self {
            session_key_max_age_ms: 3_600_000,
            session_key_max_uses: 100_000,
        }
    }
}

struct Epoch {
    key: SessionKey,
    started: u64,
    uses: u64,
    /// The session key RSA-wrapped for the agent, made once per epoch.
    grant: Stanza,
}

/// Seals secrets for agents with per-agent session keys, so that RSA runs once per epoch
/// instead of once per request.
///
/// ```text
///  seal(agent) --no epoch, too old, or used up--> new session key, RSA-wrap it (grant)
///      |                                           envelope = [grant, session stanza]
///      +--current epoch----------------------->    envelope = [session stanza]
///  agent answers UnknownSessionKey  -->  seal_with_grant(agent): [grant, session stanza]
/// ```
///
/// `now` is milliseconds on any clock the caller keeps (monotonic is best); only differences
/// matter. The sealer reads no clock itself. Each service node has its own sealer: no state is
/// shared.
pub struct Sealer<R = SysRng> {
    config: SealerConfig,
    rng: R,
    epochs: HashMap<KeyId, Epoch>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("config", &self.config)
            .field("agents", &self.epochs.len())
            .finish_non_exhaustive()
    }
}

impl Sealer<SysRng> {
    /// A sealer drawing randomness from the operating system.
    pub fn new(config: SealerConfig) -> Self {
        Self::with_rng(config, SysRng)
    }
}

impl<R: TryCryptoRng> Sealer<R> {
    /// A sealer with its own random number generator (content keys, nonces, session keys).
    pub fn with_rng(config: SealerConfig, rng: R) -> Self {
        Self {
            config,
            rng,
            epochs: HashMap::new(),
        }
    }

    /// Seals `secret` for `agent`, binding `bound`. The first envelope of an epoch carries the
    /// session key RSA-wrapped for the agent; later ones only the session-key stanza.
    ///
    /// # Errors
    ///
    /// [`SealError`]: secret too long, RNG or RSA failure.
    pub fn seal(
        &mut self,
        now: u64,
        agent: &dyn AgentRecipient,
        secret: &[u8],
        bound: &[u8],
    ) -> Result<Sealed, SealError> {
        self.seal_inner(now, agent, secret, bound, false)
    }

    /// Like [`Self::seal`], but always includes the grant: use it to resend after the agent
    /// answered [`OpenError::UnknownSessionKey`](crate::OpenError::UnknownSessionKey).
    ///
    /// # Errors
    ///
    /// As [`Self::seal`].
    pub fn seal_with_grant(
        &mut self,
        now: u64,
        agent: &dyn AgentRecipient,
        secret: &[u8],
        bound: &[u8],
    ) -> Result<Sealed, SealError> {
        self.seal_inner(now, agent, secret, bound, true)
    }

    fn seal_inner(
        &mut self,
        now: u64,
        agent: &dyn AgentRecipient,
        secret: &[u8],
        bound: &[u8],
        force_grant: bool,
    ) -> Result<Sealed, SealError> {
        if secret.len() > MAX_SECRET {
            return Err(SealError::SecretTooLong);
        }
        let id = *agent.key_id();
        let fresh = match self.epochs.get(&id) {
            Some(e) => !self.is_current(e, now),
            None => true,
        };
        if fresh {
            let key = SessionKey::generate(&mut self.rng)?;
            let grant = agent.grant(&key)?;
            self.epochs.insert(
                id,
                Epoch {
                    key,
                    started: now,
                    uses: 0,
                    grant,
                },
            );
        }
        let ck = ContentKey::generate(&mut self.rng)?;
        let nonce = random::<R, 12>(&mut self.rng)?;
        let epoch = self.epochs.get_mut(&id).ok_or(SealError::Rsa)?;
        epoch.uses += 1;
        let mut stanzas = Vec::with_capacity(2);
        if fresh || force_grant {
            stanzas.push(epoch.grant.clone());
        }
        stanzas.push(epoch.key.wrap(&ck, &nonce)?);
        finish(nonce, stanzas, &ck, secret, bound)
    }

    fn is_current(&self, e: &Epoch, now: u64) -> bool {
        now >= e.started
            && now - e.started < self.config.session_key_max_age_ms
            && e.uses < self.config.session_key_max_uses
    }

    /// Forgets an agent's session key (the agent was revoked or re-registered).
    pub fn forget(&mut self, agent: &KeyId) {
        self.epochs.remove(agent);
    }

    /// Drops every session key that [`Self::seal`] would no longer use, bounding memory to the
    /// agents sealed for within the last `session_key_max_age_ms`.
    pub fn expire(&mut self, now: u64) {
        let config = self.config.clone();
        self.epochs.retain(|_, e| {
            now >= e.started
                && now - e.started < config.session_key_max_age_ms
                && e.uses < config.session_key_max_uses
        });
    }

    /// How many agents have a current session key.
    pub fn agents(&self) -> usize {
        self.epochs.len()
    }
}
