//! Keeping the registry's trust set in step with the store: tenants and revocations made by
//! this process or any other on the same store, CRLs signed again when due, and the
//! connections of revoked agents closed.

use std::sync::{Arc, PoisonError};

use pta_wire::CloseReason;

use crate::{AgentId, ServiceError, Tenant, TenantId};

use super::super::service::Inner;
use super::trust::{TenantState, make_crl, normalise_serial};

/// A CRL is signed again when it is this old (it is valid for the authority's CRL lifetime,
/// 7 days by default).
const CRL_REFRESH_MS: u64 = 24 * 60 * 60 * 1_000;

impl Inner {
    /// Brings the trust set up to date with the store: tenants created and certificates
    /// revoked (by this process or another one on the same store), and CRLs about to expire.
    /// Rebuilds the listener config and closes the connections of revoked certificates.
    pub(crate) async fn apply_store_changes(&self) -> Result<(), ServiceError> {
        let _guard = self.registry.reload.lock().await;
        let now = self.now();
        let tenants = self.store.tenants().await?;
        let mut changed = false;
        let mut newly_revoked: Vec<(TenantId, Vec<u8>, Option<AgentId>)> = Vec::new();
        for tenant in tenants {
            match self.refresh_tenant(&tenant, now).await {
                Ok(Some(revoked)) => {
                    newly_revoked.extend(revoked);
                    changed = true;
                }
                Ok(None) => {}
                // One tenant's broken authority or CRL must not stop the others.
                Err(e) => {
                    tracing::error!(tenant = %tenant.id, error = %e, "could not load tenant trust")
                }
            }
        }
        for (tenant, serial, agent) in newly_revoked {
            let closed = self
                .registry
                .dispatcher
                .close_where(CloseReason::Revoked, |h| {
                    h.tenant == tenant && (h.serial == serial || Some(h.agent) == agent)
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

    /// Loads a tenant new to this process, or signs its CRL again if it has new revocations or
    /// is due. Returns the newly revoked serials (with their agents) if anything changed.
    async fn refresh_tenant(
        &self,
        record: &Tenant,
        now: u64,
    ) -> Result<Option<Vec<(TenantId, Vec<u8>, Option<AgentId>)>>, ServiceError> {
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
        let fresh: Vec<_> = revocations
            .iter()
            .filter(|r| !revoked.contains(&normalise_serial(&r.serial)))
            .map(|r| (*tenant, normalise_serial(&r.serial), r.agent))
            .collect();
        let due = crl_made_at == 0 || now.saturating_sub(crl_made_at) >= CRL_REFRESH_MS;
        if fresh.is_empty() && !due {
            return Ok(None);
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
        Ok(Some(fresh))
    }
}
