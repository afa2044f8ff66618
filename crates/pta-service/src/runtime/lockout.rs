//! The runtime's side of smart lockout: the store it was given (or the in-memory default),
//! the deployment secret that keys users and password tags, and the mapping of a store
//! failure to a refusal that counts nothing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pta_lockout::{
    Attempt, Decision, LockoutError, LockoutSecret, LockoutStore, MemoryStoreLimits, Outcome,
    Source, UserKey, UserStatus,
};

use crate::{ServiceError, TenantId};

use super::ServiceOptions;
use super::metrics::Metrics;

/// Lockout as the runtime uses it. Every call goes through the [`LockoutStore`] seam, awaited;
/// a store failure is counted and reported as such, never turned into a decision.
#[derive(Debug)]
pub(crate) struct Lockout {
    store: Arc<dyn LockoutStore>,
    /// The default in-memory store, kept typed for its periodic reclaim; `None` when the
    /// options supplied a store (which reclaims on its own terms).
    memory: Option<Arc<pta_lockout::MemoryStore>>,
    secret: Arc<LockoutSecret>,
    metrics: Arc<Metrics>,
}

impl Lockout {
    /// The store and secret of `options`, or the in-memory store and a random secret.
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
        let (store, memory): (Arc<dyn LockoutStore>, _) = match &options.lockout_store {
            Some(store) => (Arc::clone(store), None),
            None => {
                let memory = Arc::new(
                    pta_lockout::MemoryStore::new(
                        options.lockout.clone(),
                        MemoryStoreLimits::default(),
                    )
                    .map_err(|_| ServiceError::InvalidConfig { field: "lockout" })?,
                );
                (memory.clone(), Some(memory))
            }
        };
        Ok(Self {
            store,
            memory,
            secret,
            metrics,
        })
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

    /// Whether the attempt may go to the directory.
    pub(crate) async fn check(
        &self,
        now: u64,
        attempt: &Attempt,
    ) -> Result<Decision, LockoutError> {
        self.counted(self.store.check(now, attempt).await)
    }

    /// Records the directory's outcome of an allowed attempt.
    pub(crate) async fn record(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError> {
        self.counted(self.store.record(now, attempt, outcome).await)
    }

    pub(crate) async fn user_status(
        &self,
        now: u64,
        user: UserKey,
    ) -> Result<UserStatus, ServiceError> {
        self.admin(self.store.user_status(now, user).await)
    }

    pub(crate) async fn unlock_user(&self, user: UserKey) -> Result<bool, ServiceError> {
        self.admin(self.store.unlock_user(user).await)
    }

    pub(crate) async fn unblock_source(&self, source: Source) -> Result<bool, ServiceError> {
        self.admin(self.store.unblock_source(source).await)
    }

    /// The in-memory stores, by the name their records carry in a lockout snapshot (empty for
    /// the default store). None when the options supplied a shared store.
    pub(crate) fn memory_stores(&self) -> Vec<super::lockout_snapshot::Named> {
        self.memory
            .iter()
            .map(|m| (String::new(), Arc::clone(m)))
            .collect()
    }

    /// Periodic housekeeping of the in-memory default.
    pub(crate) fn reclaim(&self, now: u64) {
        if let Some(memory) = &self.memory {
            memory.reclaim(now);
        }
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
