//! Per-agent envelope encryption for the pass-through-authentication toolkit.
//!
//! The cloud service seals each password for the one on-premises agent that will check it;
//! queues, relays and TLS-terminating load balancers on the way see only the envelope. The
//! agent opens it, binds to the directory, and authenticates its answer with a MAC that only
//! the sealer can verify. This crate has:
//!
//! - the joint, as in age: [`Recipient`] wraps a content key into a [`Stanza`], [`Identity`]
//!   tries a stanza (`None`: not mine; `Some(Err)`: mine but broken; `Some(Ok)`: the key), and
//!   [`seal`] / [`open`] on top;
//! - two recipient kinds: RSA-OAEP-256 ([`RsaRecipient`] / [`RsaIdentity`], or the `aws-lc`
//!   backend's `AwsLcRsaRecipient` / `AwsLcRsaIdentity`) and session keys ([`SessionKey`], JWE
//!   `A256GCMKW`);
//! - [`Sealer`] (service side: a session key per agent, rotated by age and use count, sent
//!   RSA-wrapped in the first envelope of each epoch) and [`Opener`] (agent side: the RSA
//!   identity and a bounded, zeroizing cache of session keys), with [`PendingGrants`] to order
//!   session-key opens after the grants being opened when an agent opens concurrently;
//! - reply authentication ([`ReplyKey`], [`Reply`], [`ReplyMac`]);
//! - the binary codec ([`Envelope::encode`], [`Envelope::decode`]: total and bounded) and JWE
//!   General JSON Serialization ([`Envelope::to_jwe`], [`Jwe::from_json`], [`open_jwe`]).
//!
//! It does no I/O, reads no clock and no environment: time (session-key age, cache TTL) comes
//! in as `now`, milliseconds on a clock of the caller's choosing. Randomness comes from the
//! operating system (`getrandom`), or from a generator the caller passes
//! ([`seal_with_rng`], [`Sealer::with_rng`]).
//!
//! # Content and binding
//!
//! The secret (at most [`MAX_SECRET`] bytes) is encrypted with AES-256-GCM under a random
//! content key and a random 96-bit nonce. The associated data covers the whole header (every
//! stanza) and the caller's bound data (request id, tenant, login, agent key id, deadline):
//! changing a recipient or a bound field makes opening fail. See [`Envelope`] for the bytes.
//! All decryption failures are one error, [`OpenError::Decrypt`].
//!
//! # Why RSA is off the hot path
//!
//! An RSA-3072 decryption costs 2 to 7 ms (0.7 to 3 ms at 2048 bits), an AES-GCM key unwrap
//! about a microsecond. The sealer therefore RSA-wraps a session key once per epoch per agent
//! ([`Stanza::SessionKeyGrant`]) and wraps each request's content key under that session key;
//! the agent pays for RSA once per epoch and caches the session key. When the agent lacks the
//! key (restart, eviction) it answers [`OpenError::UnknownSessionKey`] and the sealer resends
//! with [`Sealer::seal_with_grant`]. An agent that opens envelopes concurrently records their
//! arrival in [`PendingGrants`], so that an envelope using the session key of a grant still
//! being opened waits for that grant instead of missing the key.
//!
//! # Reply authentication
//!
//! The agent MACs its answer (request id, verdict code, warnings as opaque bytes) with
//! HMAC-SHA-256 under a key derived by HKDF-SHA-256 from the request's content key
//! ([`ReplyKey`]); only the sealer and the agent that opened the envelope know it. A relay can
//! neither turn a failure into a success nor move a verdict to another request.
//!
//! # RSA backends and RUSTSEC-2023-0071
//!
//! The default backend is RustCrypto's `rsa` crate. RUSTSEC-2023-0071 (the "Marvin" timing
//! attack) is filed against it with no patched version; `rsa` 0.10 blinds private-key
//! operations and this crate always decrypts blinded, but audit tools still flag the crate and
//! its big-integer arithmetic is not certified constant time. An attacker who can submit many
//! chosen envelopes to an agent and time its answers precisely is the threat; session keys cut
//! the number of RSA decryptions an agent performs to one per epoch, which limits but does not
//! remove the exposure.
//!
//! Choose the `aws-lc` feature (aws-lc-rs, already in the tree through rustls) for agents: its
//! RSA is constant time and decrypts about 4x faster. Both backends implement the same traits
//! and interoperate byte for byte; the sealer side only encrypts (public-key operations, not
//! affected by the advisory) and may keep the default.
//!
//! # Example
//!
//! ```
//! use pta_envelope::{Envelope, Opener, OpenerConfig, Reply, RsaIdentity, Sealer, SealerConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let der = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/rsa2048.pk8.der"))?;
//! // The agent's key (from its state directory) and, on the service, its public half.
//! let agent_key = RsaIdentity::from_pkcs8_der(&der)?;
//! let agent_public = agent_key.to_recipient();
//!
//! let mut sealer = Sealer::new(SealerConfig::default());
//! let mut opener = Opener::new(agent_key, OpenerConfig::default());
//! let now = 0; // milliseconds on the caller's clock
//! let bound = b"request id | tenant | login | agent key id | deadline";
//!
//! // Service: seal, send the bytes; keep the reply key with the request.
//! let sealed = sealer.seal(now, &agent_public, b"correct horse", bound)?;
//! let bytes = sealed.envelope.to_bytes();
//!
//! // Agent: open, bind to the directory, MAC the answer.
//! let opened = opener.open(now, &Envelope::decode(&bytes)?, bound)?;
//! assert_eq!(opened.secret.expose(), b"correct horse");
//! let reply = Reply { request_id: &[7; 16], verdict: 1, warnings: &[] };
//! let mac = opened.reply_key.mac(&reply);
//!
//! // Service: verify before using the verdict.
//! sealed.reply_key.verify(&reply, &mac.0)?;
//!
//! // The next envelope in this epoch needs no RSA on either side.
//! let next = sealer.seal(now + 1, &agent_public, b"another", bound)?;
//! assert_eq!(next.envelope.stanzas().len(), 1);
//! assert_eq!(opener.open(now + 1, &next.envelope, bound)?.secret.expose(), b"another");
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `aws-lc`: the aws-lc-rs RSA backend (`AwsLcRsaRecipient`, `AwsLcRsaIdentity`).
#![forbid(unsafe_code)]

mod aead;
mod envelope;
mod error;
mod jwe;
mod opener;
mod pending;
mod recipient;
mod reply;
#[cfg(feature = "aws-lc")]
mod rsa_aws_lc;
mod rsa_oaep;
mod rsa_rustcrypto;
mod sealer;
mod secret;
mod session;
mod stanza;

#[doc(hidden)]
pub mod fuzzing;

pub use envelope::{Envelope, MAX_RECIPIENTS, MAX_SECRET, VERSION};
pub use error::{DecodeError, DecodeErrorKind, KeyError, OpenError, SealError};
pub use jwe::{GRANT_HEADER, Jwe, MAX_JWE_LEN, open_jwe};
pub use opener::{Opener, OpenerConfig};
pub use pending::{Arrival, PendingGrants};
pub use recipient::{
    AgentIdentity, AgentRecipient, Identity, Opened, Recipient, Sealed, open, seal, seal_with_rng,
};
pub use reply::{Reply, ReplyKey, ReplyMac};
#[cfg(feature = "aws-lc")]
pub use rsa_aws_lc::{AwsLcRsaIdentity, AwsLcRsaRecipient};
pub use rsa_rustcrypto::{RsaIdentity, RsaRecipient};
pub use sealer::{Sealer, SealerConfig};
pub use secret::{ContentKey, KeyId, Secret, SessionKey, SessionKeyId};
pub use stanza::Stanza;
