//! The conformance suite of `pta_store::testing` against SQLite: each body on a fresh file,
//! and the races over three stores opened on one file (as the service and its offline
//! commands, or several processes, would hold it).

use std::sync::Arc;

use pta_store::{Store, testing};
use pta_store_sqlite::SqliteStore;

use crate::support::SqliteFixture;

/// Three stores, each its own connection, on one fresh file (kept alive by the fixture).
fn three_connections() -> (SqliteFixture, Vec<Arc<dyn Store>>) {
    let f = SqliteFixture::new();
    let second = SqliteStore::open(f.path()).unwrap();
    let third = SqliteStore::open(f.path()).unwrap();
    let stores: Vec<Arc<dyn Store>> =
        vec![Arc::new(f.store.clone()), Arc::new(second), Arc::new(third)];
    (f, stores)
}

#[tokio::test]
async fn tenants() {
    testing::tenants(&SqliteFixture::new().store).await;
}

#[tokio::test]
async fn crl_numbers() {
    testing::crl_numbers(&SqliteFixture::new().store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crl_numbers_race() {
    let (_f, stores) = three_connections();
    testing::crl_numbers_race(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_authority_race() {
    let (_f, stores) = three_connections();
    testing::service_authority_race(stores).await;
}

#[tokio::test]
async fn registry() {
    testing::registry(&SqliteFixture::new().store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_race() {
    let (_f, stores) = three_connections();
    testing::limit_race(stores).await;
}

#[tokio::test]
async fn status_over_time() {
    testing::status_over_time(&SqliteFixture::new().store).await;
}

#[tokio::test]
async fn token_lifecycle() {
    testing::lifecycle(&SqliteFixture::new().store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_race_one_connection() {
    let f = SqliteFixture::new();
    testing::consume_race(vec![Arc::new(f.store.clone())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_race_three_connections() {
    let (_f, stores) = three_connections();
    testing::consume_race(stores).await;
}

#[tokio::test]
async fn audit_log() {
    testing::log(&SqliteFixture::new().store).await;
}

#[tokio::test]
async fn change_feed() {
    testing::change_feed(&SqliteFixture::new().store).await;
}

#[tokio::test]
async fn change_signal() {
    testing::change_signal(&SqliteFixture::new().store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_feed_race() {
    let (_f, stores) = three_connections();
    testing::change_feed_race(stores).await;
}

#[tokio::test]
async fn leases() {
    testing::leases(&SqliteFixture::new().store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_race() {
    let (_f, stores) = three_connections();
    testing::lease_race(stores).await;
}
