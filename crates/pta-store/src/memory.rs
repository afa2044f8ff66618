//! The in-memory store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::{
    AgentId, AgentRecord, AgentSeen, AgentStatus, AuditEvent, AuditQuery, Authority, Change,
    ChangeKind, ChangeNotifier, ChangeSignal, Revocation, Store, StoreError, Tenant, TenantId,
    TokenError, TokenHash, TokenRecord, lease_expiry,
};

/// State in this process, gone when it ends: for tests and the embedded demo.
///
/// One mutex guards everything, so every call is trivially atomic; the change feed's
/// sequence is assigned under it, and its [`change_signal`](Store::change_signal) fires on
/// every change.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    notifier: ChangeNotifier,
}

#[derive(Debug, Default)]
struct Inner {
    tenants: HashMap<TenantId, TenantEntry>,
    agents: HashMap<AgentId, AgentRecord>,
    tokens: Vec<TokenRecord>,
    revocations: Vec<Revocation>,
    /// Events by (time, append sequence).
    audit: BTreeMap<(u64, u64), AuditEvent>,
    audit_seq: u64,
    service_authority: Option<Authority>,
    /// The change feed, oldest first; `seq` is the index plus one.
    changes: Vec<Change>,
    /// Leases by name: (holder, expires at).
    leases: HashMap<String, (String, u64)>,
}

#[derive(Debug)]
struct TenantEntry {
    tenant: Tenant,
    authority: Authority,
    crl_number: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every call leaves the state consistent before it can panic, so a poisoned lock
        // still guards good data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn tenant_mut(&mut self, id: &TenantId) -> Result<&mut TenantEntry, StoreError> {
        self.tenants.get_mut(id).ok_or(StoreError::UnknownTenant)
    }

    fn agent_mut(&mut self, id: &AgentId) -> Result<&mut AgentRecord, StoreError> {
        self.agents.get_mut(id).ok_or(StoreError::UnknownAgent)
    }

    fn append_change(&mut self, kind: ChangeKind) {
        let seq = u64::try_from(self.changes.len()).unwrap_or(u64::MAX - 1) + 1;
        self.changes.push(Change { seq, kind });
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        authority: &Authority,
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.tenants.contains_key(&tenant.id)
            || s.tenants.values().any(|t| t.tenant.name == tenant.name)
        {
            return Err(StoreError::TenantExists);
        }
        s.tenants.insert(
            tenant.id,
            TenantEntry {
                tenant: tenant.clone(),
                authority: authority.clone(),
                crl_number: 0,
            },
        );
        s.append_change(ChangeKind::TenantCreated { tenant: tenant.id });
        drop(s);
        self.notifier.notify();
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        Ok(self.lock().tenants.get(id).map(|t| t.tenant.clone()))
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let s = self.lock();
        let found = s.tenants.values().find(|t| t.tenant.name == name);
        Ok(found.map(|t| t.tenant.clone()))
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let mut all: Vec<Tenant> = self
            .lock()
            .tenants
            .values()
            .map(|t| t.tenant.clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), StoreError> {
        self.lock().tenant_mut(tenant)?.tenant.agent_limit = limit;
        Ok(())
    }

    async fn authority(&self, tenant: &TenantId) -> Result<Option<Authority>, StoreError> {
        Ok(self.lock().tenants.get(tenant).map(|t| t.authority.clone()))
    }

    async fn service_authority(&self) -> Result<Option<Authority>, StoreError> {
        Ok(self.lock().service_authority.clone())
    }

    async fn init_service_authority(&self, authority: &Authority) -> Result<Authority, StoreError> {
        Ok(self
            .lock()
            .service_authority
            .get_or_insert_with(|| authority.clone())
            .clone())
    }

    async fn insert_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let mut s = self.lock();
        let limit = s.tenant_mut(&agent.tenant)?.tenant.agent_limit;
        if s.agents.contains_key(&agent.id) {
            return Err(StoreError::AgentExists);
        }
        let count = s
            .agents
            .values()
            .filter(|a| a.tenant == agent.tenant && a.status.counts_toward_limit())
            .count();
        if count >= usize::try_from(limit).unwrap_or(usize::MAX) {
            return Err(StoreError::AgentLimitReached { limit });
        }
        s.agents.insert(agent.id, agent.clone());
        Ok(())
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        Ok(self.lock().agents.get(id).cloned())
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentRecord>, StoreError> {
        let mut list: Vec<AgentRecord> = self
            .lock()
            .agents
            .values()
            .filter(|a| a.tenant == *tenant)
            .cloned()
            .collect();
        list.sort_by_key(|a| (a.first_seen, a.id));
        Ok(list)
    }

    async fn agent_count(&self, tenant: &TenantId) -> Result<u32, StoreError> {
        let s = self.lock();
        let n = s
            .agents
            .values()
            .filter(|a| a.tenant == *tenant && a.status.counts_toward_limit())
            .count();
        u32::try_from(n).map_err(|_| StoreError::OutOfRange {
            field: "agent count",
        })
    }

    async fn record_seen(&self, id: &AgentId, seen: &AgentSeen) -> Result<(), StoreError> {
        let mut s = self.lock();
        let agent = s.agent_mut(id)?;
        agent.last_seen = seen.now;
        agent.last_source = Some(seen.source);
        agent.software_version.clone_from(&seen.software_version);
        Ok(())
    }

    async fn set_certificate(
        &self,
        id: &AgentId,
        serial: &[u8],
        public_key: &[u8],
    ) -> Result<(), StoreError> {
        let mut s = self.lock();
        let agent = s.agent_mut(id)?;
        agent.certificate_serial = serial.to_vec();
        agent.public_key = public_key.to_vec();
        Ok(())
    }

    async fn set_agent_status(&self, id: &AgentId, status: AgentStatus) -> Result<(), StoreError> {
        self.lock().agent_mut(id)?.status = status;
        Ok(())
    }

    async fn delete_agent(&self, id: &AgentId) -> Result<bool, StoreError> {
        Ok(self.lock().agents.remove(id).is_some())
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut s = self.lock();
        s.tenant_mut(&token.tenant)?;
        if s.tokens.iter().any(|t| t.hash == token.hash) {
            return Err(StoreError::TokenExists);
        }
        s.tokens.push(token.clone());
        Ok(())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let s = self.lock();
        // `TokenHash` equality is constant-time; every stored hash is compared.
        let mut found = None;
        for t in &s.tokens {
            if t.hash == *hash {
                found = Some(t.clone());
            }
        }
        Ok(found)
    }

    async fn consume_token(&self, hash: &TokenHash, now: u64) -> Result<TokenRecord, StoreError> {
        let mut s = self.lock();
        // `TokenHash` equality is constant-time; every stored hash is compared.
        let mut found = None;
        for (i, t) in s.tokens.iter().enumerate() {
            if t.hash == *hash {
                found = Some(i);
            }
        }
        let record = found
            .and_then(|i| s.tokens.get_mut(i))
            .ok_or(TokenError::Unknown)?;
        record.check(now)?;
        let before = record.clone();
        record.used_at = Some(now);
        Ok(before)
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let s = self.lock();
        let mut list: Vec<TokenRecord> = s
            .tokens
            .iter()
            .filter(|t| t.tenant == *tenant)
            .cloned()
            .collect();
        // Newest first; among equal times, the last inserted first (as the SQLite store).
        list.reverse();
        list.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        Ok(list)
    }

    async fn prune_tokens(&self, before: u64) -> Result<u64, StoreError> {
        let mut s = self.lock();
        let n = s.tokens.len();
        s.tokens.retain(|t| t.expires_at >= before);
        Ok(u64::try_from(n - s.tokens.len()).unwrap_or(u64::MAX))
    }

    async fn add_revocation(&self, revocation: &Revocation) -> Result<bool, StoreError> {
        let mut s = self.lock();
        s.tenant_mut(&revocation.tenant)?;
        if s.revocations
            .iter()
            .any(|r| r.tenant == revocation.tenant && r.serial == revocation.serial)
        {
            return Ok(false);
        }
        if let Some(agent) = revocation.agent.and_then(|id| s.agents.get_mut(&id))
            && agent.tenant == revocation.tenant
        {
            agent.status = AgentStatus::Revoked;
        }
        s.revocations.push(revocation.clone());
        s.append_change(ChangeKind::CertificateRevoked {
            tenant: revocation.tenant,
            serial: revocation.serial.clone(),
            agent: revocation.agent,
        });
        drop(s);
        self.notifier.notify();
        Ok(true)
    }

    async fn is_revoked(&self, tenant: &TenantId, serial: &[u8]) -> Result<bool, StoreError> {
        let s = self.lock();
        Ok(s.revocations
            .iter()
            .any(|r| r.tenant == *tenant && r.serial == serial))
    }

    async fn revocations(&self, tenant: &TenantId) -> Result<Vec<Revocation>, StoreError> {
        let s = self.lock();
        let mut list: Vec<Revocation> = s
            .revocations
            .iter()
            .filter(|r| r.tenant == *tenant)
            .cloned()
            .collect();
        // Stable: same-millisecond revocations keep insertion order.
        list.sort_by_key(|r| r.revoked_at);
        Ok(list)
    }

    async fn next_crl_number(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let mut s = self.lock();
        let entry = s.tenant_mut(tenant)?;
        entry.crl_number = entry
            .crl_number
            .checked_add(1)
            .ok_or(StoreError::OutOfRange {
                field: "crl number",
            })?;
        Ok(entry.crl_number)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut s = self.lock();
        for ev in events {
            s.audit_seq += 1;
            let key = (ev.time, s.audit_seq);
            s.audit.insert(key, ev.clone());
        }
        Ok(())
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        if query.from >= query.until {
            return Ok(Vec::new());
        }
        let s = self.lock();
        Ok(s.audit
            .range((query.from, 0)..(query.until, 0))
            .map(|(_, ev)| ev)
            .filter(|ev| ev.tenant == Some(query.tenant))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn prune_audit(&self, horizon: u64, max_rows: u64) -> Result<u64, StoreError> {
        let mut s = self.lock();
        let before = s.audit.len();
        s.audit = s.audit.split_off(&(horizon, 0));
        let keep = usize::try_from(max_rows).unwrap_or(usize::MAX);
        while s.audit.len() > keep {
            s.audit.pop_first();
        }
        Ok(u64::try_from(before - s.audit.len()).unwrap_or(u64::MAX))
    }

    async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let s = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(s.changes
            .iter()
            .skip(start)
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn latest_change(&self) -> Result<u64, StoreError> {
        Ok(self.lock().changes.last().map_or(0, |c| c.seq))
    }

    fn change_signal(&self) -> Option<ChangeSignal> {
        Some(self.notifier.subscribe())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let expires_at = lease_expiry(name, holder, now, ttl_ms)?;
        let mut s = self.lock();
        match s.leases.get_mut(name) {
            Some((held_by, until)) if held_by != holder && *until > now => Ok(false),
            Some(entry) => {
                *entry = (holder.to_owned(), expires_at);
                Ok(true)
            }
            None => {
                s.leases
                    .insert(name.to_owned(), (holder.to_owned(), expires_at));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.leases.get(name).is_some_and(|(h, _)| h == holder) {
            s.leases.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}
