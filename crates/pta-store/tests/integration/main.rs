#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The conformance suite (`pta_store::testing`) run against [`MemoryStore`]: the reference
//! every other backend is held to.
//!
//! [`MemoryStore`]: pta_store::MemoryStore

use std::sync::Arc;

use pta_store::{MemoryStore, Store, testing};

fn shared() -> Vec<Arc<dyn Store>> {
    let one: Arc<dyn Store> = Arc::new(MemoryStore::new());
    vec![Arc::clone(&one), Arc::clone(&one), one]
}

#[tokio::test]
async fn tenants() {
    testing::tenants(&MemoryStore::new()).await;
}

#[tokio::test]
async fn crl_numbers() {
    testing::crl_numbers(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crl_numbers_race() {
    testing::crl_numbers_race(shared()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_authority_race() {
    testing::service_authority_race(shared()).await;
}

#[tokio::test]
async fn registry() {
    testing::registry(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_race() {
    testing::limit_race(shared()).await;
}

#[tokio::test]
async fn status_over_time() {
    testing::status_over_time(&MemoryStore::new()).await;
}

#[tokio::test]
async fn token_lifecycle() {
    testing::lifecycle(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_race() {
    testing::consume_race(shared()).await;
}

#[tokio::test]
async fn audit_log() {
    testing::log(&MemoryStore::new()).await;
}

#[tokio::test]
async fn change_feed() {
    testing::change_feed(&MemoryStore::new()).await;
}

#[tokio::test]
async fn change_signal() {
    testing::change_signal(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_feed_race() {
    testing::change_feed_race(shared()).await;
}

#[tokio::test]
async fn leases() {
    testing::leases(&MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_race() {
    testing::lease_race(shared()).await;
}
