//! The lockout seam: the runtime awaits the store it was given, refuses a sign-in uncounted
//! when that store fails, recovers when it answers again, and nodes that share a store and a
//! secret lock an account together.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use async_trait::async_trait;
use pta_lockout::{
    Attempt, Decision, LockoutError, LockoutSecret, LockoutStore, MemoryStoreLimits, Outcome,
    Policy, Source, SourceStatus, UserKey, UserStatus,
};
use pta_service::{DecidedBy, MemoryStore, Service, ServiceError, SignInError, Store, SystemClock};
use pta_wire::Verdict;

use crate::rt_support::{
    Behaviour, bounded, connect, ctx, metric, options, password, register, tenant, users,
};

const OK: u8 = 0;
const FAIL_CHECK: u8 = 1;
const FAIL_RECORD: u8 = 2;
const FAIL_ALL: u8 = 3;

/// A real in-memory lockout store behind a switch that makes its calls fail, as an
/// unreachable shared store would.
#[derive(Debug)]
struct Switchable {
    inner: pta_lockout::MemoryStore,
    mode: AtomicU8,
}

impl Switchable {
    fn new() -> Self {
        Self {
            inner: pta_lockout::MemoryStore::new(Policy::default(), MemoryStoreLimits::default())
                .unwrap(),
            mode: AtomicU8::new(OK),
        }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn fails(&self, call: u8) -> Result<(), LockoutError> {
        let mode = self.mode.load(Ordering::SeqCst);
        if mode == FAIL_ALL || mode == call {
            Err(LockoutError::Backend(Box::new(std::io::Error::other(
                "connection refused",
            ))))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl LockoutStore for Switchable {
    async fn check(&self, now: u64, attempt: &Attempt) -> Result<Decision, LockoutError> {
        self.fails(FAIL_CHECK)?;
        LockoutStore::check(&self.inner, now, attempt).await
    }

    async fn record(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError> {
        self.fails(FAIL_RECORD)?;
        LockoutStore::record(&self.inner, now, attempt, outcome).await
    }

    async fn unlock_user(&self, user: UserKey) -> Result<bool, LockoutError> {
        self.fails(FAIL_ALL)?;
        LockoutStore::unlock_user(&self.inner, user).await
    }

    async fn unblock_source(&self, source: Source) -> Result<bool, LockoutError> {
        self.fails(FAIL_ALL)?;
        LockoutStore::unblock_source(&self.inner, source).await
    }

    async fn user_status(&self, now: u64, user: UserKey) -> Result<UserStatus, LockoutError> {
        self.fails(FAIL_ALL)?;
        LockoutStore::user_status(&self.inner, now, user).await
    }

    async fn source_status(&self, now: u64, source: Source) -> Result<SourceStatus, LockoutError> {
        self.fails(FAIL_ALL)?;
        LockoutStore::source_status(&self.inner, now, source).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_lockout_store_refuses_uncounted_and_recovers() {
    bounded(async {
        let lockout = Arc::new(Switchable::new());
        let mut o = options();
        o.lockout_store = Some(lockout.clone());
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let t = tenant(&svc, "seam.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();

        // The check fails: refused before any agent is asked.
        lockout.set(FAIL_CHECK);
        let e = svc
            .sign_in(&t.id, "alice", password("wrong"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::LockoutUnavailable), "{e:?}");
        assert_eq!(agent.received(), 0);

        // The record fails: the agent answered, but the verdict is withheld (an uncounted
        // wrong password would be a free guess), and nothing was counted.
        lockout.set(FAIL_RECORD);
        for i in 0..12 {
            let e = svc
                .sign_in(&t.id, "alice", password(&format!("wrong-{i}")), ctx())
                .await
                .unwrap_err();
            assert!(matches!(e, SignInError::LockoutUnavailable), "{e:?}");
        }
        assert_eq!(agent.received(), 12);

        // Admin calls report the store's failure.
        lockout.set(FAIL_ALL);
        assert!(matches!(
            svc.unlock_user(&t.id, "alice").await,
            Err(ServiceError::Lockout(_))
        ));
        assert!(matches!(
            svc.lockout_status(&t.id, "alice").await,
            Err(ServiceError::Lockout(_))
        ));

        // Back: nothing was counted while it failed, and counting works again.
        lockout.set(OK);
        let status = svc.lockout_status(&t.id, "alice").await.unwrap();
        assert_eq!(status.unfamiliar.failures, 0, "{status:?}");
        assert_eq!(status.familiar.failures, 0, "{status:?}");
        let ok = svc
            .sign_in(&t.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        for i in 0..10 {
            let res = svc
                .sign_in(&t.id, "alice", password(&format!("again-{i}")), ctx())
                .await
                .unwrap();
            assert_eq!(res.verdict, Verdict::InvalidCredentials);
        }
        let locked = svc
            .sign_in(&t.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(locked.verdict, Verdict::AccountLocked);

        assert_eq!(
            metric(
                &svc,
                "pta_sign_in_errors_total{kind=\"lockout_unavailable\"}"
            ),
            13
        );
        assert_eq!(metric(&svc, "pta_lockout_store_errors_total"), 15);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_with_one_lockout_store_and_secret_lock_an_account_together() {
    bounded(async {
        // Two services on one state store and one lockout store, with one configured secret:
        // the derived user keys agree, so guesses spread over both spend one budget.
        let state: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let lockout: Arc<dyn LockoutStore> = Arc::new(
            pta_lockout::MemoryStore::new(Policy::default(), MemoryStoreLimits::default()).unwrap(),
        );
        let secret = Arc::new(LockoutSecret::from_bytes(&[7u8; 32]).unwrap());
        let start = || {
            let mut o = options();
            o.lockout_store = Some(Arc::clone(&lockout));
            o.lockout_secret = Some(Arc::clone(&secret));
            Service::start(Arc::clone(&state), o, Arc::new(SystemClock))
        };
        let one = start().await.unwrap();
        let t = tenant(&one, "shared.example").await;
        let two = start().await.unwrap();
        let r1 = register(&one, &t.id).await;
        let r2 = register(&two, &t.id).await;
        let a1 = connect(&r1, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        let a2 = connect(&r2, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        for i in 0..10 {
            let node = if i % 2 == 0 { &one } else { &two };
            let res = node
                .sign_in(&t.id, "alice", password(&format!("guess-{i}")), ctx())
                .await
                .unwrap();
            assert_eq!(res.verdict, Verdict::InvalidCredentials);
        }
        assert_eq!(a1.received() + a2.received(), 10);
        for node in [&one, &two] {
            let locked = node
                .sign_in(&t.id, "alice", password("right"), ctx())
                .await
                .unwrap();
            assert_eq!(locked.verdict, Verdict::AccountLocked);
            assert!(matches!(locked.decided_by, DecidedBy::Lockout { .. }));
        }
        assert_eq!(a1.received() + a2.received(), 10);
        // Unlocked on one node: unlocked on both.
        assert!(two.unlock_user(&t.id, "alice").await.unwrap());
        let ok = one
            .sign_in(&t.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        one.shutdown().await;
        two.shutdown().await;
    })
    .await;
}

/// Sends `n` distinct wrong passwords for `login` of `tenant`; returns the verdicts.
async fn wrong_passwords(
    svc: &Service,
    tenant: &pta_service::TenantId,
    login: &str,
    n: usize,
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for i in 0..n {
        let res = svc
            .sign_in(tenant, login, password(&format!("wrong-{i}")), ctx())
            .await
            .unwrap();
        verdicts.push(res.verdict);
    }
    verdicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_policy_override_locks_at_its_own_threshold() {
    bounded(async {
        let mut o = options();
        let mut strict = Policy::default();
        strict.threshold = 3;
        o.lockout_tenant_policies
            .insert("strict.example".to_owned(), strict);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let strict = tenant(&svc, "strict.example").await;
        let lenient = tenant(&svc, "lenient.example").await;
        let rs = register(&svc, &strict.id).await;
        let rl = register(&svc, &lenient.id).await;
        let _a = connect(&rs, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        let _b = connect(&rl, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();

        // Strict: three wrong passwords lock; the fourth attempt (even the right password)
        // is answered by the cloud.
        let v = wrong_passwords(&svc, &strict.id, "alice", 3).await;
        assert_eq!(v, vec![Verdict::InvalidCredentials; 3]);
        let locked = svc
            .sign_in(&strict.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(locked.verdict, Verdict::AccountLocked);
        assert!(matches!(locked.decided_by, DecidedBy::Lockout { .. }));

        // Lenient (the default policy, 10): the same count leaves the account open.
        let v = wrong_passwords(&svc, &lenient.id, "alice", 5).await;
        assert_eq!(v, vec![Verdict::InvalidCredentials; 5]);
        let ok = svc
            .sign_in(&lenient.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);

        // Admin status and unlock use the tenant's own store.
        let status = svc.lockout_status(&strict.id, "alice").await.unwrap();
        assert!(
            status.unfamiliar.locked_until.is_some() || status.familiar.locked_until.is_some(),
            "{status:?}"
        );
        assert!(svc.unlock_user(&strict.id, "alice").await.unwrap());
        let ok = svc
            .sign_in(&strict.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);

        // Every check and record was timed.
        assert_eq!(
            metric(&svc, "pta_lockout_store_seconds_count{op=\"check\"}"),
            3 + 1 + 5 + 1 + 1
        );
        assert_eq!(
            metric(&svc, "pta_lockout_store_seconds_count{op=\"record\"}"),
            3 + 5 + 1 + 1
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_store_override_holds_that_tenants_records_only() {
    bounded(async {
        let mut policy = Policy::default();
        policy.threshold = 2;
        let own =
            Arc::new(pta_lockout::MemoryStore::new(policy, MemoryStoreLimits::default()).unwrap());
        let shared = Arc::new(Switchable::new());
        let mut o = options();
        o.lockout_store = Some(shared.clone());
        o.lockout_tenant_stores
            .insert("own.example".to_owned(), own.clone());
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let t_own = tenant(&svc, "own.example").await;
        let t_other = tenant(&svc, "other.example").await;
        let r1 = register(&svc, &t_own.id).await;
        let r2 = register(&svc, &t_other.id).await;
        let _a = connect(&r1, users(&[("bob", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        let _b = connect(&r2, users(&[("bob", "right")]), Behaviour::Answer)
            .await
            .unwrap();

        // The default store failing does not touch the overridden tenant.
        shared.set(FAIL_ALL);
        let v = wrong_passwords(&svc, &t_own.id, "bob", 2).await;
        assert_eq!(v, vec![Verdict::InvalidCredentials; 2]);
        let locked = svc
            .sign_in(&t_own.id, "bob", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(locked.verdict, Verdict::AccountLocked);
        let e = svc
            .sign_in(&t_other.id, "bob", password("right"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::LockoutUnavailable), "{e:?}");
        shared.set(OK);
        let ok = svc
            .sign_in(&t_other.id, "bob", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        assert!(svc.unlock_user(&t_own.id, "bob").await.unwrap());
        svc.shutdown().await;

        // A policy override beside a shared default store would be ignored: refused.
        let mut o = options();
        o.lockout_store = Some(shared.clone());
        o.lockout_tenant_policies
            .insert("x.example".to_owned(), Policy::default());
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let e = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                ServiceError::InvalidConfig {
                    field: "lockout_tenant_policies"
                }
            ),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_refuses_without_asking_an_agent_and_recovers() {
    use pta_lockout_redis::{RedisLockoutConfig, RedisLockoutStore};
    bounded(async {
        let mut redis = pta_testkit::Redis::start().unwrap();
        let redis_store = |prefix: &str, threshold: u8| {
            let mut config = RedisLockoutConfig::new(redis.url());
            config.key_prefix = prefix.to_owned();
            config.timeout = std::time::Duration::from_millis(500);
            let mut policy = Policy::default();
            policy.threshold = threshold;
            RedisLockoutStore::connect(policy, config)
        };
        let shared: Arc<dyn LockoutStore> = Arc::new(redis_store("rt:", 10).await.unwrap());
        let strict: Arc<dyn LockoutStore> = Arc::new(redis_store("rt:t:strict:", 3).await.unwrap());
        let mut o = options();
        o.lockout_store = Some(shared);
        o.lockout_tenant_stores
            .insert("strict.example".to_owned(), strict);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let strict = tenant(&svc, "strict.example").await;
        let other = tenant(&svc, "other.example").await;
        let rs = register(&svc, &strict.id).await;
        let ro = register(&svc, &other.id).await;
        let agent_s = connect(&rs, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        let agent_o = connect(&ro, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();

        // Per-tenant policies on Redis: strict locks at 3, the other tenant does not.
        let v = wrong_passwords(&svc, &strict.id, "alice", 3).await;
        assert_eq!(v, vec![Verdict::InvalidCredentials; 3]);
        let locked = svc
            .sign_in(&strict.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(locked.verdict, Verdict::AccountLocked);
        let v = wrong_passwords(&svc, &other.id, "alice", 4).await;
        assert_eq!(v, vec![Verdict::InvalidCredentials; 4]);
        assert_eq!(agent_s.received(), 3);
        assert_eq!(agent_o.received(), 4);

        // Redis stops: refused before any agent is asked, nothing counted.
        redis.stop();
        for t in [&strict.id, &other.id] {
            let e = svc
                .sign_in(t, "alice", password("right"), ctx())
                .await
                .unwrap_err();
            assert!(matches!(e, SignInError::LockoutUnavailable), "{e:?}");
        }
        assert_eq!(agent_s.received(), 3);
        assert_eq!(agent_o.received(), 4);
        assert_eq!(
            metric(
                &svc,
                "pta_sign_in_errors_total{kind=\"lockout_unavailable\"}"
            ),
            2
        );

        // Redis back (empty): the same service signs in again, through both stores (each
        // reconnects on its own).
        redis.restart().unwrap();
        for t in [&other.id, &strict.id] {
            let start = std::time::Instant::now();
            let ok = loop {
                match svc.sign_in(t, "alice", password("right"), ctx()).await {
                    Ok(ok) => break ok,
                    Err(SignInError::LockoutUnavailable) => {
                        assert!(start.elapsed() < std::time::Duration::from_secs(20));
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            };
            assert_eq!(ok.verdict, Verdict::Success);
        }
        svc.shutdown().await;
    })
    .await;
}

/// Options of a node that keeps its in-memory lockout state in `snapshot`, with a secret that
/// survives the restart.
fn persistent(
    snapshot: &std::path::Path,
    interval: std::time::Duration,
) -> pta_service::ServiceOptions {
    let mut o = options();
    o.lockout_secret = Some(Arc::new(LockoutSecret::from_bytes(&[5u8; 32]).unwrap()));
    o.lockout_snapshot = Some(snapshot.to_path_buf());
    o.lockout_snapshot_interval = interval;
    o
}

/// Ten wrong passwords for `login`: the tenth locks it.
async fn lock(node: &Service, tenant: &pta_service::TenantId, login: &str) {
    for i in 0..10 {
        let res = node
            .sign_in(tenant, login, password(&format!("guess-{i}")), ctx())
            .await
            .unwrap();
        assert_eq!(res.verdict, Verdict::InvalidCredentials);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_keeps_its_lockouts() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lockout.snapshot");
        let state: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let hour = std::time::Duration::from_secs(3600);

        let one = Service::start(
            Arc::clone(&state),
            persistent(&path, hour),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let t = tenant(&one, "restart.example").await;
        let r = register(&one, &t.id).await;
        let agent = connect(
            &r,
            users(&[("alice", "right"), ("bob", "right")]),
            Behaviour::Answer,
        )
        .await
        .unwrap();
        lock(&one, &t.id, "alice").await;
        // bob: three failures, counted toward his threshold.
        for i in 0..3 {
            let res = one
                .sign_in(&t.id, "bob", password(&format!("g{i}")), ctx())
                .await
                .unwrap();
            assert_eq!(res.verdict, Verdict::InvalidCredentials);
        }
        one.shutdown().await;
        drop(agent);
        assert!(path.exists(), "shutdown writes the snapshot");

        let two = Service::start(
            Arc::clone(&state),
            persistent(&path, hour),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let r = register(&two, &t.id).await;
        let agent = connect(
            &r,
            users(&[("alice", "right"), ("bob", "right")]),
            Behaviour::Answer,
        )
        .await
        .unwrap();
        let locked = two
            .sign_in(&t.id, "alice", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(locked.verdict, Verdict::AccountLocked);
        assert!(matches!(locked.decided_by, DecidedBy::Lockout { .. }));
        assert_eq!(
            agent.received(),
            0,
            "a locked account never reaches the directory"
        );
        let status = two.lockout_status(&t.id, "bob").await.unwrap();
        assert_eq!(
            status.familiar.failures + status.unfamiliar.failures,
            3,
            "{status:?}"
        );
        assert_eq!(metric(&two, "pta_lockout_snapshot_errors_total"), 0);
        two.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_loses_at_most_one_snapshot_interval() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lockout.snapshot");
        let state: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let every = std::time::Duration::from_millis(200);
        let one = Service::start(
            Arc::clone(&state),
            persistent(&path, every),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let t = tenant(&one, "crash.example").await;
        let r = register(&one, &t.id).await;
        let _agent = connect(&r, users(&[("alice", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        lock(&one, &t.id, "alice").await;
        tokio::time::sleep(every * 3).await;
        // No shutdown: the next node reads what the periodic writer left.
        let two = Service::start(
            Arc::clone(&state),
            persistent(&path, every),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let status = two.lockout_status(&t.id, "alice").await.unwrap();
        let locked = status
            .familiar
            .locked_until
            .or(status.unfamiliar.locked_until);
        assert!(locked.is_some(), "{status:?}");
        two.shutdown().await;
        one.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_snapshot_is_moved_aside_and_counted() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lockout.snapshot");
        std::fs::write(&path, b"PTALOCKF\x01\x05\x00garbage").unwrap();
        let state: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let hour = std::time::Duration::from_secs(3600);
        let node = Service::start(state, persistent(&path, hour), Arc::new(SystemClock))
            .await
            .unwrap();
        assert_eq!(metric(&node, "pta_lockout_snapshot_errors_total"), 1);
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("lockout.snapshot.unreadable-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        node.shutdown().await;
        // The node's own state replaced it at shutdown, readable again.
        let again = Service::start(
            Arc::new(MemoryStore::new()),
            persistent(&path, hour),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        assert_eq!(metric(&again, "pta_lockout_snapshot_errors_total"), 0);
        again.shutdown().await;
    })
    .await;
}
