//! Several service nodes on one store: a revocation made on one node closes the agent's
//! connection on another through the change feed's signal (PostgreSQL `LISTEN`/`NOTIFY`), a
//! revocation written to an SQLite file behind the service's back arrives through the poll,
//! and the once-per-cluster jobs run on the one node holding their lease.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use pta_service::{Service, ServiceOptions, Store, SystemClock, TenantId, revoke_agent_in_store};
use pta_store_postgres::{PostgresConfig, PostgresStore};
use pta_store_sqlite::SqliteStore;
use pta_testkit::Postgres;
use pta_wire::CloseReason;

use crate::rt_support::{
    Behaviour, bounded, captured_logs, connect, eventually, metric, options, register, users,
};
use crate::support::SqliteFixture;

/// The PostgreSQL server of this module's tests, stopped when the last one ends.
static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

/// A fresh database on the shared server, and the server kept alive with it.
fn database() -> (Arc<Postgres>, String) {
    let pg = {
        let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        match shared.upgrade() {
            Some(pg) => pg,
            None => {
                let pg = Arc::new(Postgres::start().expect("postgres fixture starts"));
                *shared = Arc::downgrade(&pg);
                pg
            }
        }
    };
    let n = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
    let url = pg
        .create_database(&format!("service_cluster_{n}"))
        .expect("database created");
    (pg, url)
}

/// A node's own store (its own pool and `LISTEN` connection) on the database at `url`.
async fn node_store(url: &str) -> Arc<dyn Store> {
    let mut config = PostgresConfig::new(url);
    config.pool_size = 4;
    Arc::new(PostgresStore::connect(config).await.unwrap())
}

async fn start(store: Arc<dyn Store>, o: ServiceOptions) -> Service {
    let _ = captured_logs();
    Service::start(store, o, Arc::new(SystemClock))
        .await
        .unwrap()
}

/// Options with a poll so slow that only the change signal can explain a quick update.
fn slow_poll() -> ServiceOptions {
    let mut o = options();
    o.store_poll_interval = Duration::from_secs(30);
    o
}

async fn wait_loaded(service: &Service, tenant: &TenantId) {
    let id = tenant.to_string();
    assert!(
        eventually(Duration::from_secs(5), || service
            .loaded_tenant(&id)
            .is_some())
        .await,
        "the tenant reached the other node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_node_closes_the_connection_on_another_within_a_second() {
    bounded(async {
        let (_pg, url) = database();
        let one = start(node_store(&url).await, slow_poll()).await;
        let two = start(node_store(&url).await, slow_poll()).await;
        assert_eq!(one.service_ca_der(), two.service_ca_der(), "one service CA");

        // Created on node one, known to node two through the feed (not the 30 s poll).
        let created = Instant::now();
        let t = one.create_tenant("cluster.example").await.unwrap();
        wait_loaded(&two, &t.id).await;
        assert!(created.elapsed() < Duration::from_secs(2));

        let r = register(&two, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();

        let crl_before = two.crl_der(&t.id).await.unwrap();
        let started = Instant::now();
        assert!(one.revoke_agent(&r.id).await.unwrap());
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(5))
            .await
            .expect("not closed");
        let took = started.elapsed();
        assert_eq!(reason, CloseReason::Revoked);
        assert!(
            took < Duration::from_secs(1),
            "disconnect on node two took {took:?}"
        );
        println!("revocation on node one to disconnect on node two: {took:?}");
        assert!(connect(&r, users(&[]), Behaviour::Answer).await.is_err());
        // Node two read the feed, not every tenant.
        assert!(metric(&two, "pta_store_changes_applied_total") >= 2);
        assert_ne!(
            two.crl_der(&t.id).await.unwrap(),
            crl_before,
            "node two signed its CRL again"
        );

        one.shutdown().await;
        two.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_written_to_the_sqlite_file_by_another_handle_arrives_by_the_poll() {
    bounded(async {
        let f = SqliteFixture::new();
        let mut o = options();
        o.store_poll_interval = Duration::from_millis(500);
        let svc = start(Arc::new(f.store.clone()), o).await;
        let t = svc.create_tenant("file.example").await.unwrap();
        let r = register(&svc, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();

        // Another process (the offline CLI): its own connection, whose writes fire no signal
        // in this one.
        let other = SqliteStore::open(f.path()).unwrap();
        let started = Instant::now();
        assert!(
            revoke_agent_in_store(&other, &r.id, pta_service::Clock::unix_ms(&SystemClock))
                .await
                .unwrap()
        );
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(5))
            .await
            .expect("not closed");
        let took = started.elapsed();
        assert_eq!(reason, CloseReason::Revoked);
        assert!(took < Duration::from_secs(2), "disconnect took {took:?}");
        println!("revocation in the file to disconnect: {took:?}");
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_poll_reads_the_feed_once_whatever_the_number_of_tenants() {
    bounded(async {
        let f = SqliteFixture::new();
        let mut o = options();
        o.store_poll_interval = Duration::from_millis(100);
        let svc = start(Arc::new(f.store.clone()), o).await;
        for i in 0..5 {
            svc.create_tenant(&format!("t{i}.example")).await.unwrap();
        }
        let applied = metric(&svc, "pta_store_changes_applied_total");
        assert_eq!(applied, 5);
        let reads = metric(&svc, "pta_store_change_reads_total");
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        let polls = metric(&svc, "pta_store_change_reads_total") - reads;
        // About ten polls in a second, one read each: not one per tenant.
        assert!((5..=15).contains(&polls), "{polls} reads in a second");
        assert_eq!(metric(&svc, "pta_store_changes_applied_total"), applied);
        svc.shutdown().await;
    })
    .await;
}

fn sweeps(service: &Service) -> u64 {
    metric(service, "pta_cluster_jobs_total{job=\"sweep\"}")
}

fn prunes(service: &Service) -> u64 {
    metric(service, "pta_cluster_jobs_total{job=\"prune\"}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_runs_the_cluster_jobs_and_another_takes_over() {
    bounded(async {
        let (_pg, url) = database();
        let mut o = options();
        o.sweep_interval = Duration::from_millis(200);
        let one = start(node_store(&url).await, o.clone()).await;
        let two = start(node_store(&url).await, o.clone()).await;
        assert_ne!(one.node_id(), two.node_id());

        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let (a, b) = (sweeps(&one), sweeps(&two));
        assert!(
            (a > 0) != (b > 0),
            "exactly one node sweeps: {a} and {b} sweeps"
        );
        assert_eq!(prunes(&one) + prunes(&two), 1, "one node pruned at start");
        let (holder, other) = if a > 0 { (one, two) } else { (two, one) };
        assert!(sweeps(&holder) >= 5, "the holder sweeps every interval");

        // The holder stops without shutting down (a crash): its lease expires (3 intervals)
        // and the other node takes over.
        let stopped = Instant::now();
        drop(holder);
        assert!(
            eventually(Duration::from_secs(5), || sweeps(&other) > 0).await,
            "the other node took over"
        );
        let took = stopped.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "not before expiry: {took:?}"
        );
        println!("sweep taken over after {took:?}");

        // A node shutting down releases its leases at once: another holder gets the sweep's
        // lease (named `pta.status-sweep`) right after, long before it would have expired.
        other.shutdown().await;
        let probe = node_store(&url).await;
        let now = pta_service::Clock::unix_ms(&SystemClock);
        assert!(
            probe
                .try_lease("pta.status-sweep", "probe", now, 60_000)
                .await
                .unwrap(),
            "released at shutdown"
        );
    })
    .await;
}
