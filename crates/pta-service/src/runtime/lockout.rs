//! The runtime's side of smart lockout: the stores it was given (or the in-memory default),
//! which of them a tenant's sign-ins use, the deployment secret that keys users and password
//! tags, and the mapping of a store failure to a refusal that counts nothing.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use pta_lockout::{
    Attempt, Decision, LockoutError, LockoutSecret, LockoutStore, MemoryStoreLimits, Outcome,
    Policy, Source, UserKey, UserStatus,
};

use crate::{ServiceError, TenantId};

use super::ServiceOptions;
use super::metrics::{LockoutOp, Metrics};
use super::registry::Registry;

/// Lockout as the runtime uses it. Every call goes through the [`LockoutStore`] seam, awaited
/// and timed; a store failure is counted and reported as such, never turned into a decision.
///
/// A tenant's calls go to its own store when [`ServiceOptions::lockout_tenant_stores`] or
/// [`ServiceOptions::lockout_tenant_policies`] names it, else to the default store. Which one
/// is found once per tenant id from the registry's names (names never change) and kept.
pub(crate) struct Lockout {
    default: Arc<dyn LockoutStore>,
    /// Overridden tenants' stores, by tenant name.
    by_name: HashMap<String, Arc<dyn LockoutStore>>,
    /// The store of each tenant id seen so far (`None`: the default).
    resolved: RwLock<HashMap<TenantId, Option<Arc<dyn LockoutStore>>>>,
    /// The in-memory stores this runtime made, kept typed for their periodic reclaim and the
    /// lockout snapshot, by name (empty for the default store, else the tenant's name).
    memory: Vec<super::lockout_snapshot::Named>,
    secret: Arc<LockoutSecret>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Lockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockout")
            .field("default", &self.default)
            .field("tenants", &self.by_name.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn memory_store(policy: &Policy) -> Result<Arc<pta_lockout::MemoryStore>, ServiceError> {
    pta_lockout::MemoryStore::new(policy.clone(), MemoryStoreLimits::default())
        .map(Arc::new)
        .map_err(|_| ServiceError::InvalidConfig { field: "lockout" })
}

impl Lockout {
    /// The stores and secret of `options`, or in-memory stores and a random secret.
    pub(crate) fn new(
        options: &ServiceOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServiceError> {
        let secret = match &options.lockout_secret {
            Some(secret) => Arc::clone(secret),
            None => {
                tracing::warn!(
                    "no lockout secret configured: generated one for this process; nodes that \
                     share a lockout store need the same secret from a file"
                );
                let mut bytes = zeroize::Zeroizing::new([0u8; LockoutSecret::MIN_LEN]);
                getrandom::fill(bytes.as_mut()).map_err(ServiceError::Random)?;
                Arc::new(
                    LockoutSecret::from_bytes(bytes.as_ref())
                        .map_err(|_| ServiceError::InvalidConfig { field: "lockout" })?,
                )
            }
        };
        let mut memory = Vec::new();
        let default: Arc<dyn LockoutStore> = match &options.lockout_store {
            Some(store) => Arc::clone(store),
            None => {
                let store = memory_store(&options.lockout)?;
                memory.push((String::new(), Arc::clone(&store)));
                store
            }
        };
        let mut by_name: HashMap<String, Arc<dyn LockoutStore>> = HashMap::new();
        for (name, policy) in &options.lockout_tenant_policies {
            if options.lockout_tenant_stores.contains_key(name) {
                continue;
            }
            if options.lockout_store.is_some() {
                // A policy alone cannot apply to a shared store: it would be ignored.
                return Err(ServiceError::InvalidConfig {
                    field: "lockout_tenant_policies",
                });
            }
            let store = memory_store(policy)?;
            memory.push((name.clone(), Arc::clone(&store)));
            by_name.insert(name.clone(), store);
        }
        for (name, store) in &options.lockout_tenant_stores {
            by_name.insert(name.clone(), Arc::clone(store));
        }
        Ok(Self {
            default,
            by_name,
            resolved: RwLock::new(HashMap::new()),
            memory,
            secret,
            metrics,
        })
    }

    /// The store of `tenant`'s lockout state: its own if its name is overridden, else the
    /// default. A map lookup once the tenant has been seen; no store call.
    pub(crate) fn store_of(&self, registry: &Registry, tenant: &TenantId) -> Arc<dyn LockoutStore> {
        if self.by_name.is_empty() {
            return Arc::clone(&self.default);
        }
        let known = self
            .resolved
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .cloned();
        let own = match known {
            Some(own) => own,
            None => {
                let own = {
                    let trust = registry
                        .trust
                        .read()
                        .unwrap_or_else(PoisonError::into_inner);
                    if !trust.tenants.contains_key(tenant) {
                        // Not loaded (yet): decide again once it is.
                        return Arc::clone(&self.default);
                    }
                    self.by_name
                        .iter()
                        .find(|(name, _)| trust.names.get(name.as_str()) == Some(tenant))
                        .map(|(_, store)| Arc::clone(store))
                };
                self.resolved
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(*tenant, own.clone());
                own
            }
        };
        own.unwrap_or_else(|| Arc::clone(&self.default))
    }

    /// The key under which `login` of `tenant` is tracked (the login as [`lockout_login`]
    /// gives it).
    pub(crate) fn user_key(&self, tenant: &TenantId, login: &str) -> UserKey {
        self.secret
            .user_key(&tenant.to_string(), &lockout_login(login))
    }

    /// The attempt of a sign-in: user key, source, location and the password's tag.
    pub(crate) fn attempt(
        &self,
        user: UserKey,
        source: Source,
        location: pta_lockout::Location,
        password: &[u8],
    ) -> Attempt {
        Attempt::new(
            user,
            source,
            location,
            self.secret.password_tag(user, password),
        )
    }

    /// Whether the attempt may go to the directory (in `store`, from [`store_of`](Self::store_of)).
    pub(crate) async fn check(
        &self,
        store: &dyn LockoutStore,
        now: u64,
        attempt: &Attempt,
    ) -> Result<Decision, LockoutError> {
        let result = self
            .timed(LockoutOp::Check, store.check(now, attempt))
            .await;
        self.counted(result)
    }

    /// Records the directory's outcome of an allowed attempt.
    pub(crate) async fn record(
        &self,
        store: &dyn LockoutStore,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError> {
        let result = self
            .timed(LockoutOp::Record, store.record(now, attempt, outcome))
            .await;
        self.counted(result)
    }

    pub(crate) async fn user_status(
        &self,
        store: &dyn LockoutStore,
        now: u64,
        user: UserKey,
    ) -> Result<UserStatus, ServiceError> {
        self.admin(store.user_status(now, user).await)
    }

    pub(crate) async fn unlock_user(
        &self,
        store: &dyn LockoutStore,
        user: UserKey,
    ) -> Result<bool, ServiceError> {
        self.admin(store.unlock_user(user).await)
    }

    /// Lifts a source's spray block in every store (spray is counted per store).
    pub(crate) async fn unblock_source(&self, source: Source) -> Result<bool, ServiceError> {
        let mut any = self.admin(self.default.unblock_source(source).await)?;
        for store in self.by_name.values() {
            any |= self.admin(store.unblock_source(source).await)?;
        }
        Ok(any)
    }

    /// The in-memory stores, by the name their records carry in a lockout snapshot (empty for
    /// the default store). None when the options supplied a shared store.
    pub(crate) fn memory_stores(&self) -> Vec<super::lockout_snapshot::Named> {
        self.memory.clone()
    }

    /// Periodic housekeeping of the in-memory stores.
    pub(crate) fn reclaim(&self, now: u64) {
        for (_, memory) in &self.memory {
            memory.reclaim(now);
        }
    }

    async fn timed<T>(&self, op: LockoutOp, call: impl Future<Output = T>) -> T {
        let start = Instant::now();
        let result = call.await;
        self.metrics.lockout_store_call(op, start.elapsed());
        result
    }

    fn counted<T>(&self, result: Result<T, LockoutError>) -> Result<T, LockoutError> {
        if let Err(e) = &result {
            self.metrics.lockout_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "lockout store failed");
        }
        result
    }

    fn admin<T>(&self, result: Result<T, LockoutError>) -> Result<T, ServiceError> {
        self.counted(result).map_err(ServiceError::Lockout)
    }
}

/// The login as smart lockout tracks it: lowercased, without leading or trailing white space,
/// inner runs of white space as one space. Directories match logins this way (case-insensitive
/// matching rules with insignificant spaces, RFC 4518), so ` Alice ` reaches alice's entry:
/// it must also spend alice's failure budget, not a fresh one.
pub(crate) fn lockout_login(login: &str) -> String {
    let mut out = String::with_capacity(login.len());
    for word in login.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

#[cfg(test)]
mod lockout_login_tests {
    use super::lockout_login;

    #[test]
    fn case_and_insignificant_spaces_give_one_login() {
        for variant in ["alice", "Alice", " ALICE", "alice\t ", "\u{a0}alice"] {
            assert_eq!(lockout_login(variant), "alice", "{variant:?}");
        }
        assert_eq!(lockout_login("Ann  Lee"), "ann lee");
        assert_eq!(lockout_login("ann\tlee"), "ann lee");
        assert_ne!(lockout_login("annlee"), lockout_login("ann lee"));
        assert_eq!(lockout_login("BJØRN@Example.TEST"), "bjørn@example.test");
        assert_eq!(lockout_login("   "), "");
    }
}
