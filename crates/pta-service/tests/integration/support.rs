//! Fixtures shared by the test modules.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pta_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A fixed start time, Unix ms.
pub(crate) const T0: u64 = 1_700_000_000_000;
/// A minute, ms.
pub(crate) const MIN: u64 = 60_000;
/// A day, ms.
pub(crate) const DAY: u64 = 24 * 60 * MIN;

/// An SQLite store in a fresh directory (kept alive with it).
pub(crate) struct SqliteFixture {
    pub(crate) dir: TempDir,
    pub(crate) store: SqliteStore,
}

impl SqliteFixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(Self::db_path(dir.path())).unwrap();
        Self { dir, store }
    }

    pub(crate) fn db_path(dir: &Path) -> PathBuf {
        dir.join("state.db")
    }

    pub(crate) fn path(&self) -> PathBuf {
        Self::db_path(self.dir.path())
    }
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Every file under `dir` (the database, its WAL and shared-memory files), concatenated.
pub(crate) fn dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(path).unwrap());
        }
    }
    all
}

/// Whether `needle` occurs in `hay`.
pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
