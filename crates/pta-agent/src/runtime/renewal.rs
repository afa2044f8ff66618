//! Certificate renewal over the live session.
//!
//! ```text
//!  [idle] --check due (start, then every renewal.check_interval)--> policy says RenewNow
//!     ^                                                                  |
//!     |                                            key and CSR on the blocking pool
//!     |                                                                  v
//!     |   refused, timed out, failed: retry after renewal.retry   [generating]
//!     +<----------------------------------------------------------+      |
//!     |                                                             RenewRequest sent
//!     |                                                                  v
//!     +<-- chain checked and installed (new key first among openers) [sent]
//! ```
//!
//! A session has at most one renewal under way; an expired certificate ends the session.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use pta_cert::{Csr, KeyPair, RenewalDecision, RenewalPolicy, TlsOptions, client_config};
use pta_wire::{AgentSession, RenewRequest, RenewResponse, RenewResult, RequestId};
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use tokio::task::{JoinError, JoinHandle};

use super::keys::KeyEntry;
use super::shared::Shared;
use super::{LOG, lock};
use crate::Error;
use crate::cert::LeafFacts;

/// A renewal key and its CSR (DER).
type NewKey = Result<(KeyPair, Vec<u8>), Error>;

/// One session's renewal: a key being generated, or a request sent and not answered.
#[derive(Default)]
pub(super) struct Renewal {
    keygen: Option<JoinHandle<NewKey>>,
    sent: Option<(RequestId, KeyPair)>,
}

impl Renewal {
    /// Whether no renewal is under way.
    pub(super) fn is_idle(&self) -> bool {
        self.keygen.is_none() && self.sent.is_none()
    }

    /// Applies the renewal policy (the check is due); starts generating a key when renewal is
    /// due. Returns `true` when the certificate has expired: the session must end.
    pub(super) fn check(&mut self, shared: &Shared) -> bool {
        match shared.renewal_check() {
            RenewalDecision::Expired => {
                tracing::error!(target: LOG, "the agent certificate expired: register the agent again");
                true
            }
            RenewalDecision::RenewNow => {
                tracing::info!(target: LOG, "certificate renewal due");
                self.keygen = Some(shared.start_keygen());
                false
            }
            RenewalDecision::NotYet { .. } => false,
        }
    }

    /// Completes when the key being generated is ready; never without one.
    pub(super) async fn key_generated(&mut self) -> Result<NewKey, JoinError> {
        match self.keygen.as_mut() {
            Some(h) => h.await,
            None => std::future::pending().await,
        }
    }

    /// Sends the renewal request with the generated key's CSR.
    pub(super) fn on_key(
        &mut self,
        shared: &Shared,
        s: &mut AgentSession,
        generated: Result<NewKey, JoinError>,
    ) {
        self.keygen = None;
        match generated {
            Ok(Ok((key, csr))) => {
                let id = random_request_id();
                match s.send_renew_request(
                    shared.now_ms(),
                    RenewRequest {
                        request_id: id,
                        csr,
                    },
                ) {
                    Ok(()) => self.sent = Some((id, key)),
                    Err(e) => {
                        tracing::warn!(target: LOG, error = %e, "cannot send the renewal request");
                        shared.retry_renewal_later();
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(target: LOG, error = %e, "renewal key or CSR failed");
                shared.retry_renewal_later();
            }
            Err(_) => shared.retry_renewal_later(),
        }
    }

    /// The service answered a renewal request: install the chain, or retry later.
    pub(super) fn on_response(&mut self, shared: &Shared, r: RenewResponse) {
        let Some((id, key)) = self.sent.take() else {
            return;
        };
        if id != r.request_id {
            return;
        }
        match r.result {
            RenewResult::Chain(chain) => {
                if let Err(e) = shared.install_renewal(&key, chain) {
                    tracing::warn!(target: LOG, error = %e, "renewed certificate refused");
                    shared.retry_renewal_later();
                }
            }
            RenewResult::Error(code) => {
                tracing::warn!(target: LOG, ?code, "renewal refused by the service");
                shared.retry_renewal_later();
            }
        }
    }

    /// The session gave up waiting for the answer.
    pub(super) fn on_timeout(&mut self, shared: &Shared) {
        tracing::warn!(target: LOG, "renewal timed out");
        self.sent = None;
        shared.retry_renewal_later();
    }

    /// The service reported an error about request `id`: if it is the renewal, retry later.
    pub(super) fn on_peer_error(&mut self, shared: &Shared, id: Option<RequestId>) {
        if id.is_some() && id == self.sent.as_ref().map(|r| r.0) {
            self.sent = None;
            shared.retry_renewal_later();
        }
    }
}

impl Shared {
    /// The renewal policy's decision now; the next check is one interval later.
    fn renewal_check(&self) -> RenewalDecision {
        let mut policy = RenewalPolicy::default();
        policy.max_jitter = self.config.renewal.max_jitter;
        let seed_bytes: [u8; 32] = Sha256::digest(self.info.agent_id.as_bytes()).into();
        let mut seed = [0u8; 8];
        seed.copy_from_slice(seed_bytes.get(..8).unwrap_or(&[0; 8]));
        let validity = lock(&self.facts).validity;
        let decision = policy.decide(&validity, SystemTime::now(), u64::from_be_bytes(seed));
        *lock(&self.next_renewal_check) =
            tokio::time::Instant::now() + self.config.renewal.check_interval;
        decision
    }

    fn retry_renewal_later(&self) {
        *lock(&self.next_renewal_check) = tokio::time::Instant::now() + self.config.renewal.retry;
    }

    /// A new key and CSR, generated off the runtime's threads.
    fn start_keygen(&self) -> JoinHandle<NewKey> {
        let size = self.config.limits.key_size().unwrap_or_default();
        let agent_id = self.info.agent_id.clone();
        tokio::task::spawn_blocking(move || {
            let key = KeyPair::generate(size)?;
            let csr = Csr::new(&key, &agent_id)?;
            Ok((key, csr.as_der().to_vec()))
        })
    }

    /// Checks the renewed chain (for the new key, the same agent), stores it, and uses it for
    /// the next connections and the envelopes sealed for the new key.
    fn install_renewal(&self, key: &KeyPair, chain: Vec<Vec<u8>>) -> Result<(), Error> {
        let chain: Vec<CertificateDer<'static>> =
            chain.into_iter().map(CertificateDer::from).collect();
        let leaf = chain
            .first()
            .ok_or(Error::BadResponse("empty renewal chain"))?;
        let facts = LeafFacts::read(leaf)?;
        if facts.spki != key.public_key_der()? {
            return Err(Error::BadResponse(
                "renewed certificate is not for the new key",
            ));
        }
        if facts.identity != lock(&self.facts).identity {
            return Err(Error::BadResponse(
                "renewed certificate names another agent",
            ));
        }
        let tls = client_config(&self.service_ca, &chain, key, &TlsOptions::default())?;
        let entry = KeyEntry::new(key, self.generation.load(Ordering::SeqCst) + 1)?;
        self.store.install(key, &chain)?;
        *self.tls.write().unwrap_or_else(PoisonError::into_inner) = tls;
        self.keys
            .install(entry, self.session_generation.load(Ordering::SeqCst));
        tracing::info!(target: LOG, serial = %facts.serial_hex, "certificate renewed and installed");
        *lock(&self.facts) = facts;
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        *lock(&self.unconfirmed) = Some(generation);
        self.metrics.renewed();
        Ok(())
    }
}

fn random_request_id() -> RequestId {
    let mut b = [0u8; 16];
    // A failing system RNG leaves zeros: the id only pairs the answer with the request.
    let _ = getrandom::fill(&mut b);
    RequestId(b)
}
