//! Keeping the registry's trust set in step with the store through its change feed: tenants
//! created and certificates revoked by this process or any other on the same store, CRLs
//! signed again when due, and the connections of revoked agents closed.
//!
//! ```text
//!   start:  cursor = latest_change(); load every tenant (full load)
//!   wake (change signal, own write, or the store_poll_interval tick):
//!           changes_since(cursor) in batches of CHANGE_BATCH
//!             TenantCreated      -> load the tenant
//!             CertificateRevoked -> re-read the tenant's revocations, sign its CRL,
//!                                   close the connections of that serial or agent
//!           cursor = last seq applied; listener config rebuilt once
//!           CRLs due (in memory) -> signed again
//! ```
//!
//! The cursor is read before the full load, so a change made during it is applied again
//! afterwards; applying a change twice is harmless (a loaded tenant is kept, a known serial
//! changes nothing). A wake-up with nothing new costs one query.
//!
//! CRL re-signing is not leased: every node keeps its own tenants' CRLs in memory for its TLS
//! verifier, so each node must sign its own when a revocation arrives or its CRL is due.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use pta_store::ChangeKind;
use pta_wire::CloseReason;

use crate::{AgentId, ServiceError, StoreError, Tenant, TenantId};

use super::super::service::Inner;
use super::trust::{TenantState, make_crl, normalise_serial};

/// A CRL is signed again when it is this old (it is valid for the authority's CRL lifetime,
/// 7 days by default).
const CRL_REFRESH_MS: u64 = 24 * 60 * 60 * 1_000;

/// Changes read per `changes_since` call.
const CHANGE_BATCH: u32 = 256;

impl Inner {
    /// Brings the trust set up to date with the store: the first call loads every tenant, the
    /// later ones apply the change feed from the cursor (tenants created and certificates
    /// revoked, by this process or another one on the same store) and sign CRLs about to
    /// expire. Rebuilds the listener config once if anything changed, and closes the
    /// connections of revoked certificates.
    pub(crate) async fn apply_store_changes(&self) -> Result<(), ServiceError> {
        let mut cursor = self.registry.reload.lock().await;
        let now = self.now();
        let mut changed = false;
        match *cursor {
            None => {
                // Read before the load: whatever happens during it is applied again after.
                let start = self.store.latest_change().await?;
                changed |= self.full_load(now).await?;
                *cursor = Some(start);
            }
            Some(from) => {
                let (applied_to, batch_changed) = self.apply_feed(from, now).await?;
                changed |= batch_changed;
                *cursor = Some(applied_to);
            }
        }
        changed |= self.refresh_due_crls(now).await;
        // New connections get the new trust set and CRLs (revoked ones are also refused by the
        // registry check, which reads the same trust set and the store).
        if changed {
            self.registry
                .trust
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .rebuild(&self.server)?;
        }
        Ok(())
    }

    /// Loads every tenant. Returns whether the trust set changed.
    async fn full_load(&self, now: u64) -> Result<bool, ServiceError> {
        let mut changed = false;
        for tenant in self.store.tenants().await? {
            match self.refresh_tenant(&tenant, now).await {
                Ok(updated) => changed |= updated,
                // One tenant's broken authority or CRL must not stop the others.
                Err(e) => {
                    tracing::error!(tenant = %tenant.id, error = %e, "could not load tenant trust")
                }
            }
        }
        Ok(changed)
    }

    /// Applies the feed after `from`. Returns the cursor to keep and whether the trust set
    /// changed. When the store failed while refreshing a tenant the cursor stays at `from`, so
    /// the next wake-up tries again (the connections of revoked certificates are closed
    /// regardless).
    async fn apply_feed(&self, from: u64, now: u64) -> Result<(u64, bool), ServiceError> {
        let mut cursor = from;
        let mut touched = BTreeSet::new();
        let mut revoked: Vec<(TenantId, Vec<u8>, Option<AgentId>)> = Vec::new();
        loop {
            let batch = self.store.changes_since(cursor, CHANGE_BATCH).await?;
            self.metrics
                .store_change_reads
                .fetch_add(1, Ordering::Relaxed);
            let Some(last) = batch.last() else { break };
            cursor = last.seq;
            let full = batch.len() >= usize::try_from(CHANGE_BATCH).unwrap_or(usize::MAX);
            self.metrics.store_changes_applied.fetch_add(
                u64::try_from(batch.len()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            for change in batch {
                touched.insert(change.kind.tenant());
                if let ChangeKind::CertificateRevoked {
                    tenant,
                    serial,
                    agent,
                } = change.kind
                {
                    revoked.push((tenant, normalise_serial(&serial), agent));
                }
            }
            if !full {
                break;
            }
        }
        let mut changed = false;
        let mut failed = false;
        for tenant in touched {
            let refreshed = match self.store.tenant(&tenant).await {
                Ok(Some(record)) => self.refresh_tenant(&record, now).await,
                Ok(None) => Ok(false),
                Err(e) => Err(e.into()),
            };
            match refreshed {
                Ok(updated) => changed |= updated,
                Err(e) => {
                    // A store failure is retried from the same cursor. A tenant that cannot be
                    // loaded (a broken authority) would fail every time: it is logged and
                    // skipped; its next change, or a restart, tries again.
                    failed |= matches!(e, ServiceError::Store(StoreError::Backend(_)));
                    tracing::error!(%tenant, error = %e, "could not apply tenant changes");
                }
            }
        }
        self.close_revoked(&revoked);
        Ok((if failed { from } else { cursor }, changed))
    }

    /// Closes the live connections of revoked certificates (by serial or agent).
    fn close_revoked(&self, revoked: &[(TenantId, Vec<u8>, Option<AgentId>)]) {
        for (tenant, serial, agent) in revoked {
            let closed = self
                .registry
                .dispatcher
                .close_where(CloseReason::Revoked, |h| {
                    h.tenant == *tenant && (h.serial == *serial || Some(h.agent) == *agent)
                });
            if !closed.is_empty() {
                let mut sealer = self.sealer.lock().unwrap_or_else(PoisonError::into_inner);
                for key in &closed {
                    sealer.forget(key);
                }
                drop(sealer);
                tracing::info!(
                    %tenant,
                    agent = ?agent.map(|a| a.to_string()),
                    connections = closed.len(),
                    "revoked agent disconnected"
                );
            }
        }
    }

    /// Signs again the CRLs that are due, found in memory (a store query only per due
    /// tenant). Returns whether any was signed.
    async fn refresh_due_crls(&self, now: u64) -> bool {
        let due: Vec<TenantId> = {
            let trust = self
                .registry
                .trust
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            trust
                .tenants
                .iter()
                .filter(|(_, t)| crl_due(t.crl_made_at, now))
                .map(|(id, _)| *id)
                .collect()
        };
        let mut changed = false;
        for tenant in due {
            let refreshed = match self.store.tenant(&tenant).await {
                Ok(Some(record)) => self.refresh_tenant(&record, now).await,
                Ok(None) => Ok(false),
                Err(e) => Err(e.into()),
            };
            match refreshed {
                Ok(updated) => changed |= updated,
                Err(e) => tracing::error!(%tenant, error = %e, "could not sign the CRL again"),
            }
        }
        changed
    }

    /// Loads a tenant new to this process, or signs its CRL again if it has new revocations or
    /// is due. Returns whether its state changed.
    async fn refresh_tenant(&self, record: &Tenant, now: u64) -> Result<bool, ServiceError> {
        let tenant = &record.id;
        let known = {
            let trust = self
                .registry
                .trust
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            trust
                .tenants
                .get(tenant)
                .map(|t| (Arc::clone(&t.authority), t.revoked.clone(), t.crl_made_at))
        };
        let revocations = self.store.revocations(tenant).await?;
        let (authority, revoked, crl_made_at) = match known {
            Some(k) => k,
            None => {
                let authority = self
                    .options
                    .registrar
                    .load_authority(self.store.as_ref(), tenant)
                    .await?;
                (Arc::new(authority), Default::default(), 0)
            }
        };
        let fresh = revocations
            .iter()
            .any(|r| !revoked.contains(&normalise_serial(&r.serial)));
        if !fresh && !crl_due(crl_made_at, now) {
            return Ok(false);
        }
        let crl = make_crl(self.store.as_ref(), tenant, &authority, &revocations, now).await?;
        let state = TenantState {
            authority,
            revoked: revocations
                .iter()
                .map(|r| normalise_serial(&r.serial))
                .collect(),
            crl,
            crl_made_at: now,
        };
        self.registry
            .trust
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(*tenant, &record.name, state)?;
        Ok(true)
    }
}

/// Whether a CRL made at `made_at` (0: never) is due at `now`.
fn crl_due(made_at: u64, now: u64) -> bool {
    made_at == 0 || now.saturating_sub(made_at) >= CRL_REFRESH_MS
}
