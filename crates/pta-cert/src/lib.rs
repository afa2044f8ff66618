//! Certificate lifecycle of the pass-through-authentication toolkit.
//!
//! On-premises agents hold outbound mutual-TLS connections to the cloud service. Each tenant
//! has its own issuing [`Authority`] that turns an agent's CSR into a client certificate,
//! renews it and revokes it. This crate has:
//!
//! - agent keys ([`KeyPair`], RSA 3072 by default, PKCS#8 PEM in a redacting [`SecretPem`]) and
//!   CSRs ([`Csr`], PKCS#10, signed with the key);
//! - the [`Authority`]: a self-signed CA or an intermediate under an offline root, issuing agent
//!   and server certificates from verified CSRs, and signing CRLs ([`Authority::crl`]) with
//!   aws-lc-rs (see [Signing backend](#signing-backend));
//! - the [`RenewalPolicy`], a pure function of validity, `now` and a jitter seed;
//! - rustls configs for both ends ([`server_config`], [`client_config`]) and the tenant binding
//!   of a verified peer ([`TenantTrust::identify`] giving an [`AgentIdentity`]);
//! - the agent's [`StateStore`] (Unix), the only part that does file I/O.
//!
//! It reads no clock: issuance, CRLs, renewal and pruning take `now` as a [`SystemTime`](std::time::SystemTime).
//! It reads no environment variables, opens no sockets (the runtimes own the connections), and
//! draws randomness (keys, serials) from the operating system through `getrandom`.
//!
//! # Profile of issued certificates
//!
//! | | CA (root / intermediate) | agent | server |
//! | --- | --- | --- | --- |
//! | version | v3 | v3 | v3 |
//! | serial | random positive 128-bit | same | same |
//! | signature | sha256WithRSAEncryption | same | same |
//! | notBefore | `now` − 5 min | same | same |
//! | notAfter | + 10 years (intermediate: capped by its root) | + 180 days (capped by the CA) | + 397 days (capped) |
//! | subject | `CN=<name>,O=pta` | `CN=<agent id>,O=<tenant>` | `CN=<first name>` |
//! | basicConstraints (critical) | CA, root: no path length, intermediate: 0 | not CA | not CA |
//! | keyUsage (critical) | keyCertSign, cRLSign | digitalSignature, keyEncipherment | same as agent |
//! | extKeyUsage | none | clientAuth | serverAuth |
//! | subjectAltName | none | URI `urn:pta:agent:<id>`, URI `urn:pta:tenant:<tenant>` | DNS / IP |
//! | SKI / AKI | SHA-256 key id (RFC 7093), AKI = issuer's SKI | same | same |
//!
//! Accepted keys (CSRs and loaded keys): RSA, 2048 to 4096 bits, e = 65537; anything else is
//! [`Error::KeyPolicy`]. CRLs are v2 with cRLNumber, thisUpdate/nextUpdate, reasonCode entries,
//! and the issuing CA's own key identifier as authorityKeyIdentifier.
//!
//! # Renewal
//!
//! ```text
//!   NotYet { next_check } --(now >= renew_at)--> RenewNow --(new cert)--> NotYet
//!          |                                        |
//!          +-----------(now >= notAfter)------------+--> Expired (register again)
//!
//!   renew_at = min(notBefore + 2/3 lifetime, notAfter - 30 days) + jitter(seed)
//! ```
//!
//! See [`RenewalPolicy`] for the bounds on the jitter.
//!
//! # Example
//!
//! ```
//! use std::time::SystemTime;
//! use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, TenantTrust};
//!
//! let now = SystemTime::now(); // the caller owns the clock
//! # let (ca_key, agent_key) = (KeyPair::generate(KeySize::Rsa2048)?, KeyPair::generate(KeySize::Rsa2048)?);
//! # /*
//! let ca_key = KeyPair::generate(KeySize::default())?;
//! let agent_key = KeyPair::generate(KeySize::default())?;
//! # */
//!
//! // Service: one authority per tenant.
//! let authority = Authority::create_root(AuthorityConfig::for_tenant("contoso"), ca_key, now)?;
//!
//! // Agent: a CSR signed with its key.
//! let csr = Csr::new(&agent_key, "agent-7")?;
//!
//! // Service: verify the CSR and issue; the authority decides the names.
//! let issued = authority.issue_agent(&Csr::from_der(csr.as_der())?, "agent-7", now)?;
//!
//! // Service, after the TLS handshake verified the chain: who is it?
//! let mut trust = TenantTrust::new();
//! trust.insert_authority(&authority)?;
//! let who = trust.identify(&issued.chain)?;
//! assert_eq!((who.agent_id.as_str(), who.tenant.as_str()), ("agent-7", "contoso"));
//! # Ok::<(), pta_cert::Error>(())
//! ```
//!
//! # Signing backend
//!
//! Two RSA implementations are used, each where it fits:
//!
//! - The [`Authority`] signs certificates and CRLs with **aws-lc-rs** (`RsaKeyPair`, PKCS#1
//!   v1.5 with SHA-256): its private-key operation is constant-time and, on the project machine,
//!   about 8 times faster than rsa 0.10's at 3072 bits, which is what keeps "verify a CSR and
//!   issue" under 5 ms with the default RSA-3072 CA key (see `BENCHMARKS.md`). The CA key is
//!   loaded into aws-lc once, when the authority is created or rebuilt with
//!   [`Authority::from_parts`]; a key aws-lc refuses is [`Error::InvalidPrivateKey`].
//! - The RustCrypto **`rsa`** crate generates keys, reads and writes PKCS#8, signs agents' CSRs
//!   (once per registration or renewal, on the agent) and verifies every signature this crate
//!   checks (CSRs).
//!
//! PKCS#1 v1.5 signatures are deterministic, so both produce the same bytes for the same key and
//! message; the unit tests check that, and the integration tests check certificates and CRLs with
//! the openssl CLI. RUSTSEC-2023-0071 (the Marvin timing attack) is filed against `rsa` with no
//! fixed release: rsa 0.10 blinds its private-key operation, but the CA key, the one long-lived
//! key that signs on request, now goes through aws-lc's constant-time code. Audit tools still
//! list the advisory, since `rsa` remains a dependency for the other uses.
//!
//! # Feature flags
//!
//! None. aws-lc-rs is always on: rustls already links it in every runtime (rustls is used with
//! its aws-lc-rs provider, passed explicitly to every config), so signing with it adds no
//! dependency and a feature to switch back to the slower signer would buy nothing.
#![forbid(unsafe_code)]

mod authority;
mod crl;
mod csr;
mod error;
mod identity;
mod key;
mod pem;
mod pin;
mod policy;
mod renewal;
mod signer;
#[cfg(unix)]
mod store;
mod tls;

#[doc(hidden)]
pub mod fuzzing;

pub use authority::{Authority, AuthorityConfig, IssuedCertificate, SanEntry, Serial};
pub use crl::{Revocation, RevocationReason};
pub use csr::{Csr, MAX_CSR_LEN, VerifiedCsr};
pub use error::{Error, KeyPolicyViolation};
pub use identity::{AGENT_URI_PREFIX, AgentIdentity, TENANT_URI_PREFIX, TenantTrust};
pub use key::{KeyPair, KeySize, SecretPem};
pub use pin::{PinMismatch, PinnedServerVerifier, is_pin_mismatch};
pub use policy::{MAX_ID_LEN, MAX_RSA_BITS, MIN_RSA_BITS};
pub use renewal::{CertValidity, RenewalDecision, RenewalPolicy};
#[cfg(unix)]
pub use store::{AgentState, Credential, StateStore};
pub use tls::{ALPN_PTA1, TlsOptions, client_config, server_config};

/// Parses concatenated `CERTIFICATE` PEM blocks (a chain file, a CA file).
pub fn certificates_from_pem(
    text: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Error> {
    pem::certs_from_pem(text)
}

/// Encodes certificates as concatenated `CERTIFICATE` PEM blocks.
pub fn certificates_to_pem(
    certs: &[rustls::pki_types::CertificateDer<'_>],
) -> Result<String, Error> {
    pem::certs_to_pem(certs)
}
