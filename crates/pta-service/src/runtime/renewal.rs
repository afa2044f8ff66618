//! Certificate renewal over an agent's session: the presented certificate must be this
//! agent's, unrevoked and unexpired, and the CSR must prove possession of its new key; the
//! tenant's CA issues the new certificate, the registry records its serial and key, and the
//! attempt is audited. The previous serial is not revoked (it expires on its own).

use std::net::IpAddr;
use std::sync::PoisonError;

use pta_wire::{ErrorCode, RenewResult};

use crate::{AgentId, AgentStatus, AuditError, AuditEvent, AuditKind, AuditOutcome, TenantId};

use super::registry::certificate_facts;
use super::service::Inner;

impl Inner {
    /// Renews an agent's certificate from a CSR received over its session.
    pub(crate) async fn renew(
        &self,
        agent: AgentId,
        tenant: TenantId,
        presented_leaf: &[u8],
        csr: &[u8],
        source: IpAddr,
    ) -> RenewResult {
        let now = self.now();
        let result = self
            .try_renew(agent, tenant, presented_leaf, csr, now)
            .await;
        let (outcome, label, answer) = match result {
            Ok(chain) => (AuditOutcome::Ok, "ok", RenewResult::Chain(chain)),
            Err((audit, label)) => (
                AuditOutcome::Error(audit),
                label,
                RenewResult::Error(ErrorCode::RenewRefused),
            ),
        };
        self.metrics.renewal(label);
        tracing::info!(%agent, %tenant, result = label, "certificate renewal");
        self.audit(
            AuditEvent::new(now, AuditKind::Renewal, outcome)
                .with_tenant(tenant)
                .with_agent(agent)
                .with_source(source),
        );
        answer
    }

    async fn try_renew(
        &self,
        agent: AgentId,
        tenant: TenantId,
        presented_leaf: &[u8],
        csr: &[u8],
        now: u64,
    ) -> Result<Vec<Vec<u8>>, (AuditError, &'static str)> {
        let refused = |e| (e, "refused");
        let record = match self.store.agent(&agent).await {
            Ok(Some(r)) if r.tenant == tenant => r,
            Ok(_) => return Err(refused(AuditError::BadRequest)),
            Err(_) => return Err((AuditError::Internal, "failed")),
        };
        let (serial, _) =
            certificate_facts(presented_leaf).ok_or(refused(AuditError::BadRequest))?;
        let revoked_serial = self
            .registry
            .trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_revoked(&tenant, &serial);
        let revoked_in_store = self
            .store
            .is_revoked(&tenant, &serial)
            .await
            .map_err(|_| (AuditError::Internal, "failed"))?;
        if record.status == AgentStatus::Revoked || revoked_serial || revoked_in_store {
            return Err(refused(AuditError::Revoked));
        }
        let validity = pta_cert::CertValidity::from_certificate_der(presented_leaf)
            .map_err(|_| refused(AuditError::BadRequest))?;
        let when =
            crate::registration::system_time(now).map_err(|_| refused(AuditError::Internal))?;
        if validity.not_after <= when {
            return Err(refused(AuditError::BadRequest));
        }
        let verified = pta_cert::Csr::from_der(csr)
            .and_then(|c| c.verify())
            .map_err(|_| refused(AuditError::BadRequest))?;
        let public_key = verified
            .public_key_der()
            .map_err(|_| refused(AuditError::BadRequest))?;
        let authority = self
            .registry
            .trust
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .tenants
            .get(&tenant)
            .map(|t| std::sync::Arc::clone(&t.authority))
            .ok_or((AuditError::Internal, "failed"))?;
        let issued = authority
            .issue_agent_verified(&verified, &agent.to_string(), when)
            .map_err(|_| (AuditError::Internal, "failed"))?;
        self.store
            .set_certificate(&agent, issued.serial.as_bytes(), &public_key)
            .await
            .map_err(|_| (AuditError::Internal, "failed"))?;
        let mut chain: Vec<Vec<u8>> = issued.chain.iter().map(|c| c.to_vec()).collect();
        chain.extend(authority.chain().iter().map(|c| c.to_vec()));
        Ok(chain)
    }
}
