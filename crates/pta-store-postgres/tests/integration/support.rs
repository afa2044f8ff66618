//! A PostgreSQL fixture per test, with a fresh database and stores on it.

use std::sync::Arc;

use pta_store::Store;
use pta_store_postgres::{PostgresConfig, PostgresStore};
use pta_testkit::Postgres;

/// A private server (stopped on drop) and the URL of a fresh database on it.
pub(crate) struct PgFixture {
    pub(crate) pg: Postgres,
    pub(crate) url: String,
}

impl PgFixture {
    pub(crate) fn new() -> Self {
        let pg = Postgres::start().expect("postgres fixture starts");
        let url = pg.create_database("store_test").expect("database created");
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
