//! Schema versions: fresh files, reopening, files from newer builds, failed migrations,
//! file permissions.

use pta_store::{Store, StoreError};
use pta_store_sqlite::SqliteStore;
use rusqlite::Connection;

use crate::support::{SqliteFixture, T0, tenant};

fn user_version(path: &std::path::Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn fresh_file_gets_the_latest_version_and_reopening_is_a_no_op() {
    let f = SqliteFixture::new();
    let t = tenant(&f.store, "a.example", T0).await;
    assert_eq!(user_version(&f.path()), SqliteStore::SCHEMA_VERSION);
    let journal: String = Connection::open(f.path())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let path = f.path();
    drop(f.store);
    for _ in 0..2 {
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(user_version(&path), SqliteStore::SCHEMA_VERSION);
        assert_eq!(again.tenant(&t.id).await.unwrap(), Some(t.clone()));
    }
}

#[test]
fn an_empty_existing_file_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SqliteStore::SCHEMA_VERSION);
}

#[test]
fn a_newer_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let newer = SqliteStore::SCHEMA_VERSION + 1;
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE from_the_future (x INTEGER);")
            .unwrap();
        c.pragma_update(None, "user_version", newer).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!(found, newer);
            assert_eq!(supported, SqliteStore::SCHEMA_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(user_version(&path), newer);
}

#[test]
fn a_failed_migration_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clash.db");
    {
        // Version 0, but a table the first migration wants to create is already there.
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE agents (x INTEGER);").unwrap();
    }
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Backend(_))
    ));
    assert_eq!(user_version(&path), 0);
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenants'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the migration's first tables were rolled back");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.db");
    std::fs::write(&path, vec![0x42; 4096]).unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Backend(_))
    ));
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let f = SqliteFixture::new();
    tenant(&f.store, "private.example", T0).await;
    let mut checked = 0;
    for entry in std::fs::read_dir(f.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        checked += 1;
    }
    // The database, its WAL and its shared-memory index.
    assert_eq!(checked, 3);
}

/// A file of schema version 2 (before the change feed) migrates forward, keeping its data;
/// nothing is backfilled into the feed.
#[tokio::test]
async fn version_2_migrates_forward() {
    use pta_store::ChangeKind;
    let f = SqliteFixture::new();
    let t = tenant(&f.store, "old.example", T0).await;
    let path = f.path();
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch("DROP TABLE changes; DROP TABLE leases; PRAGMA user_version = 2;")
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SqliteStore::SCHEMA_VERSION);
    assert_eq!(
        store.tenant(&t.id).await.unwrap().map(|x| x.name),
        Some(t.name)
    );
    assert_eq!(store.latest_change().await.unwrap(), 0, "no backfill");
    let u = tenant(&store, "new.example", T0).await;
    let seen = store.changes_since(0, 10).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].kind, ChangeKind::TenantCreated { tenant: u.id });
}
