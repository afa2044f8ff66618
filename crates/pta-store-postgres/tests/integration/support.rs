//! A PostgreSQL fixture per test, with a fresh database and stores on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use pta_store::Store;
use pta_store_postgres::{PostgresConfig, PostgresStore};
use pta_testkit::Postgres;

/// The server the tests running at a time share: started by the first, stopped (and its
/// directory removed) when the last one holding it ends. A static `Postgres` would never be
/// dropped and would outlive the test binary.
static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
/// Numbers the databases of this binary's tests.
static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

/// The shared server, started if no test holds it.
fn shared_server() -> Arc<Postgres> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pg) = shared.upgrade() {
        return pg;
    }
    let pg = Arc::new(Postgres::start().expect("postgres fixture starts"));
    *shared = Arc::downgrade(&pg);
    pg
}

/// A fresh database on the shared server (kept alive with it).
pub(crate) struct PgFixture {
    pub(crate) pg: Arc<Postgres>,
    pub(crate) url: String,
}

impl PgFixture {
    pub(crate) fn new() -> Self {
        let pg = shared_server();
        let n = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
        let url = pg
            .create_database(&format!("store_test_{n}"))
            .expect("database created");
        Self { pg, url }
    }

    /// A new store (its own pool, as a node would hold) on the fixture's database.
    pub(crate) async fn store(&self) -> PostgresStore {
        let mut config = PostgresConfig::new(self.url.clone());
        config.pool_size = 4;
        PostgresStore::connect(config)
            .await
            .expect("store connects")
    }

    /// Three stores with separate pools on the one database: three nodes.
    pub(crate) async fn three_nodes(&self) -> Vec<Arc<dyn Store>> {
        let mut stores: Vec<Arc<dyn Store>> = Vec::new();
        for _ in 0..3 {
            stores.push(Arc::new(self.store().await));
        }
        stores
    }

    /// A plain client on the fixture's database, to look behind the store's back.
    pub(crate) async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}
