//! Connecting: migrations once, a newer schema refused, errors that name the server and never
//! the password.

use std::time::Duration;

use pta_store::{Store, StoreError};
use pta_store_postgres::{PostgresConfig, PostgresStore};
use pta_testkit::Postgres;

use crate::support::PgFixture;

/// The error with all its sources, as a log line would show it.
fn chain(e: &StoreError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn version(f: &PgFixture) -> i64 {
    f.client()
        .await
        .query_one("SELECT version FROM pta_schema WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn reconnecting_to_a_migrated_database_is_a_no_op() {
    let f = PgFixture::new();
    let first = f.store().await;
    assert_eq!(version(&f).await, PostgresStore::SCHEMA_VERSION);
    let tenant = pta_store::testing::tenant(&first, "kept", pta_store::testing::T0).await;
    drop(first);
    let second = f.store().await;
    assert_eq!(version(&f).await, PostgresStore::SCHEMA_VERSION);
    assert_eq!(second.tenant(&tenant.id).await.unwrap(), Some(tenant));
    assert_eq!(second.endpoint(), format!("127.0.0.1:{}", f.pg.port()));
    // Nothing was migrated again: the same tables, the data kept.
    let tables: i64 = f
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        tables, 10,
        "pta_schema, the six tables of version 1, change_counter, changes and leases"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_at_once_migrate_once() {
    let f = PgFixture::new();
    let (a, b, c) = tokio::join!(f.store(), f.store(), f.store());
    drop((a, b, c));
    assert_eq!(version(&f).await, PostgresStore::SCHEMA_VERSION);
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched() {
    let f = PgFixture::new();
    drop(f.store().await);
    let newer = PostgresStore::SCHEMA_VERSION + 1;
    f.client()
        .await
        .execute("UPDATE pta_schema SET version = $1", &[&newer])
        .await
        .unwrap();
    let e = PostgresStore::connect(PostgresConfig::new(f.url.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::SchemaTooNew { found, supported }
            if found == newer && supported == PostgresStore::SCHEMA_VERSION),
        "{e:?}"
    );
    assert_eq!(version(&f).await, newer, "the database was changed");
}

#[tokio::test]
async fn connect_errors_name_host_and_port_never_the_password() {
    // Its own server: this test stops it.
    let mut pg = Postgres::start().expect("postgres fixture starts");
    let password = pg.password().to_owned();
    let endpoint = format!("127.0.0.1:{}", pg.port());
    let mut config = PostgresConfig::new(pg.url());
    config.connect_timeout = Duration::from_secs(2);
    assert!(!format!("{config:?}").contains(&password));

    // A database that does not exist: the server answers and refuses.
    let mut missing = config.clone();
    missing.url = pg.database_url("no_such_database");
    let e = PostgresStore::connect(missing).await.unwrap_err();
    // A wrong password: refused by scram-sha-256.
    let mut wrong = config.clone();
    wrong.url = pg.url().replace(&password, "not-the-password");
    let e3 = PostgresStore::connect(wrong).await.unwrap_err();
    // A stopped server: nothing answers.
    pg.stop();
    let e2 = PostgresStore::connect(config).await.unwrap_err();
    for e in [e, e2, e3] {
        assert!(matches!(e, StoreError::Backend(_)), "{e:?}");
        let (text, debug) = (chain(&e), format!("{e:?}"));
        assert!(text.contains(&endpoint), "{text}");
        assert!(!text.contains(&password), "{text}");
        assert!(!debug.contains(&password), "{debug}");
    }
}

#[tokio::test]
async fn a_malformed_url_is_a_config_error_without_the_url() {
    let e = PostgresStore::connect(PostgresConfig::new("postgres://u:s3cret@[::1"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::InvalidConfig { field: "url" }),
        "{e:?}"
    );
    assert!(!format!("{e:?} {e}").contains("s3cret"));
}
