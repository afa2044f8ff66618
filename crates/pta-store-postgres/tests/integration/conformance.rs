//! The conformance suite of `pta_store::testing` against PostgreSQL: each body on a fresh
//! database, and the races over three stores with separate pools on one database (as three
//! service nodes would hold it).

use pta_store::testing;

use crate::support::PgFixture;

#[tokio::test]
async fn tenants() {
    let f = PgFixture::new();
    testing::tenants(&f.store().await).await;
}

#[tokio::test]
async fn crl_numbers() {
    let f = PgFixture::new();
    testing::crl_numbers(&f.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crl_numbers_race() {
    let f = PgFixture::new();
    testing::crl_numbers_race(f.three_nodes().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_authority_race() {
    let f = PgFixture::new();
    testing::service_authority_race(f.three_nodes().await).await;
}

#[tokio::test]
async fn registry() {
    let f = PgFixture::new();
    testing::registry(&f.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limit_race() {
    let f = PgFixture::new();
    testing::limit_race(f.three_nodes().await).await;
}

#[tokio::test]
async fn status_over_time() {
    let f = PgFixture::new();
    testing::status_over_time(&f.store().await).await;
}

#[tokio::test]
async fn token_lifecycle() {
    let f = PgFixture::new();
    testing::lifecycle(&f.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_race_one_store() {
    let f = PgFixture::new();
    testing::consume_race(vec![std::sync::Arc::new(f.store().await)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_race_three_nodes() {
    let f = PgFixture::new();
    testing::consume_race(f.three_nodes().await).await;
}

#[tokio::test]
async fn audit_log() {
    let f = PgFixture::new();
    testing::log(&f.store().await).await;
}

#[tokio::test]
async fn change_feed() {
    let f = PgFixture::new();
    testing::change_feed(&f.store().await).await;
}

#[tokio::test]
async fn change_signal() {
    let f = PgFixture::new();
    testing::change_signal(&f.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn change_feed_race() {
    let f = PgFixture::new();
    testing::change_feed_race(f.three_nodes().await).await;
}

#[tokio::test]
async fn leases() {
    let f = PgFixture::new();
    testing::leases(&f.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_race() {
    let f = PgFixture::new();
    testing::lease_race(f.three_nodes().await).await;
}
