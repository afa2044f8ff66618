//! What the agent listener trusts: every tenant's CA, its current CRL, and the rustls config
//! built from them (rebuilt when a tenant is added or a certificate revoked).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pta_cert::{Serial, TenantTrust, TlsOptions};
use rustls::pki_types::CertificateRevocationListDer;

use crate::registration::system_time;
use crate::{Revocation, RevocationReason, ServiceError, Store, TenantId};

use super::super::admin::ServerIdentity;

/// One tenant as the listener knows it.
pub(crate) struct TenantState {
    pub(crate) authority: Arc<pta_cert::Authority>,
    /// Revoked serials (normalised: no leading zeros).
    pub(crate) revoked: HashSet<Vec<u8>>,
    pub(crate) crl: CertificateRevocationListDer<'static>,
    /// When the CRL was made, Unix ms.
    pub(crate) crl_made_at: u64,
}

/// Every tenant's trust material and the listener config built from it.
#[derive(Default)]
pub(crate) struct TrustSet {
    pub(crate) tenants: HashMap<TenantId, TenantState>,
    /// Tenant names of the loaded tenants (names are unique and never change), so that a
    /// sign-in naming its tenant needs no store lookup.
    pub(crate) names: HashMap<String, TenantId>,
    trust: TenantTrust,
    /// `None` while no tenant exists (nothing to verify clients against).
    pub(crate) config: Option<Arc<rustls::ServerConfig>>,
}

/// A serial in the form the registry and the CRL use (leading zeros dropped).
pub(crate) fn normalise_serial(raw: &[u8]) -> Vec<u8> {
    Serial::from_bytes(raw)
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_else(|_| raw.to_vec())
}

fn cert_reason(reason: RevocationReason) -> Option<pta_cert::RevocationReason> {
    match reason {
        RevocationReason::KeyCompromise => Some(pta_cert::RevocationReason::KeyCompromise),
        RevocationReason::Superseded => Some(pta_cert::RevocationReason::Superseded),
        RevocationReason::CessationOfOperation => {
            Some(pta_cert::RevocationReason::CessationOfOperation)
        }
        _ => None,
    }
}

/// Signs a fresh CRL for `authority` listing `revocations`, with the store's next CRL number.
pub(crate) async fn make_crl(
    store: &dyn Store,
    tenant: &TenantId,
    authority: &pta_cert::Authority,
    revocations: &[Revocation],
    now: u64,
) -> Result<CertificateRevocationListDer<'static>, ServiceError> {
    let mut entries = Vec::with_capacity(revocations.len());
    for r in revocations {
        let Ok(serial) = Serial::from_bytes(&r.serial) else {
            continue;
        };
        entries.push(pta_cert::Revocation::new(
            serial,
            system_time(r.revoked_at)?,
            cert_reason(r.reason),
        ));
    }
    let number = store.next_crl_number(tenant).await?;
    authority
        .crl(&entries, number, system_time(now)?)
        .map_err(ServiceError::Authority)
}

impl TrustSet {
    /// Adds or replaces a tenant (named `name`).
    pub(crate) fn insert(
        &mut self,
        tenant: TenantId,
        name: &str,
        state: TenantState,
    ) -> Result<(), ServiceError> {
        self.trust
            .insert_authority(&state.authority)
            .map_err(ServiceError::Authority)?;
        self.tenants.insert(tenant, state);
        self.names.insert(name.to_owned(), tenant);
        Ok(())
    }

    /// Rebuilds the listener config from the current tenants and CRLs.
    pub(crate) fn rebuild(&mut self, server: &ServerIdentity) -> Result<(), ServiceError> {
        if self.tenants.is_empty() {
            self.config = None;
            return Ok(());
        }
        let crls: Vec<_> = self.tenants.values().map(|t| t.crl.clone()).collect();
        let config = pta_cert::server_config(
            &self.trust,
            &crls,
            &server.chain,
            &server.key,
            &TlsOptions::default(),
        )
        .map_err(ServiceError::Authority)?;
        self.config = Some(config);
        Ok(())
    }

    /// Who a verified connection is (agent id and tenant from its certificate, checked against
    /// the tenant's CA).
    pub(crate) fn identify(
        &self,
        conn: &rustls::ServerConnection,
    ) -> Result<(crate::AgentId, TenantId), pta_cert::Error> {
        let who = self.trust.identify_connection(conn)?;
        let agent = who
            .agent_id
            .parse()
            .map_err(|_| pta_cert::Error::NoAgentIdentity)?;
        let tenant = who
            .tenant
            .parse()
            .map_err(|_| pta_cert::Error::NoAgentIdentity)?;
        Ok((agent, tenant))
    }

    /// Whether `serial` of `tenant` is revoked (as far as this set knows).
    pub(crate) fn is_revoked(&self, tenant: &TenantId, serial: &[u8]) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|t| t.revoked.contains(serial))
    }
}
