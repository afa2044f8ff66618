//! Lockout state of the in-memory stores kept across a restart: a snapshot file, written
//! periodically and at shutdown, read at start.
//!
//! A restart that forgot every lock and counter would hand an attacker a fresh failure budget
//! for every account. With [`ServiceOptions::lockout_snapshot`](super::ServiceOptions) set, the
//! node writes its in-memory stores' records to that file every
//! `lockout_snapshot_interval` and when it shuts down, and loads them when it starts. A shared
//! store (Redis) keeps its own state and is not snapshotted.
//!
//! ```text
//! file, version 1:
//!   "PTALOCKF" 0x01                  magic and version (9 bytes)
//!   n u16                            stores
//!   n x (name length u16, name UTF-8, snapshot length u32, snapshot)
//! ```
//!
//! Each snapshot is a [`pta_lockout::MemoryStore::snapshot`]; the name is the one the runtime
//! gives the store (empty for the default store, the tenant's name for a tenant's own policy).
//! Keys are keyed hashes: the file names no login and holds no password, but it is only useful
//! with the same lockout secret, and is written with mode 0600 by a write to a temporary file,
//! `fsync` and rename, so a crash leaves the previous file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pta_lockout::MemoryStore;
use tokio::sync::watch;

use super::lockout::Lockout;
use super::metrics::Metrics;
use super::service::Inner;

const MAGIC: &[u8; 9] = b"PTALOCKF\x01";

/// A named in-memory store whose records go into the file.
pub(crate) type Named = (String, Arc<MemoryStore>);

/// Why the file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SnapshotError {
    #[error("lockout snapshot {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lockout snapshot {path} is not one this build reads (at byte {offset})")]
    Format { path: PathBuf, offset: usize },
}

/// Writes the stores' records at `now` to `path`. Returns the file's size.
pub(crate) async fn save(path: &Path, stores: &[Named], now: u64) -> Result<usize, SnapshotError> {
    let stores = stores.to_vec();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bytes = encode(&stores, now);
        write_atomically(&path, &bytes)
            .map(|()| bytes.len())
            .map_err(|source| SnapshotError::Io { path, source })
    })
    .await
    .map_err(|e| SnapshotError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(e),
    })?
}

/// Loads `path` into the stores of the same names. A missing file is no error (a first
/// start); a store named in the file but not configured any more is skipped. Returns the
/// number of account records loaded.
///
/// Nothing is loaded unless the whole file decodes.
pub(crate) async fn load(path: &Path, stores: &[Named], now: u64) -> Result<usize, SnapshotError> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read(&owned)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Ok(Err(source)) => {
            return Err(SnapshotError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(e) => {
            return Err(SnapshotError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            });
        }
    };
    let format = |offset| SnapshotError::Format {
        path: path.to_path_buf(),
        offset,
    };
    let sections = decode(&bytes).map_err(format)?;
    // Check every section before loading any.
    for (_, at, body) in &sections {
        if let Err(e) = MemoryStore::check_snapshot(body) {
            return Err(format(at + decode_offset(&e)));
        }
    }
    let mut users = 0;
    for (name, at, body) in sections {
        let Some((_, store)) = stores.iter().find(|(n, _)| *n == name) else {
            tracing::info!(store = %name, "lockout snapshot names a store not configured: skipped");
            continue;
        };
        match store.restore(now, body) {
            Ok(stats) => users += stats.users,
            Err(e) => return Err(format(at + decode_offset(&e))),
        }
    }
    Ok(users)
}

impl Inner {
    /// Writes the in-memory lockout stores to the snapshot file, if one is configured.
    pub(crate) async fn save_lockout_snapshot(&self) {
        let Some(path) = &self.options.lockout_snapshot else {
            return;
        };
        let stores = self.lockout.memory_stores();
        if stores.is_empty() {
            return;
        }
        match save(path, &stores, self.now()).await {
            Ok(bytes) => tracing::debug!(bytes, "lockout snapshot written"),
            Err(e) => {
                self.metrics
                    .lockout_snapshot_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(error = %e, "lockout snapshot not written");
            }
        }
    }
}

/// Loads the lockout snapshot at start. A damaged or unreadable file does not stop the
/// service: it is logged, counted, and moved aside (kept for inspection, never overwritten).
pub(crate) async fn restore(
    path: &std::path::Path,
    lockout: &Lockout,
    metrics: &Metrics,
    now: u64,
) {
    let stores = lockout.memory_stores();
    if stores.is_empty() {
        return;
    }
    match load(path, &stores, now).await {
        Ok(users) => tracing::info!(users, path = %path.display(), "lockout state restored"),
        Err(e) => {
            metrics
                .lockout_snapshot_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".unreadable-{now}"));
            let moved = std::fs::rename(path, &aside).is_ok();
            tracing::error!(
                error = %e,
                moved_to = %std::path::Path::new(&aside).display(),
                moved,
                "lockout state NOT restored: starting without it"
            );
        }
    }
}

/// Writes the lockout snapshot every `lockout_snapshot_interval` (and once more at shutdown,
/// from [`Inner::shutdown`]).
pub(crate) async fn run(inner: std::sync::Weak<Inner>, mut shutdown: watch::Receiver<bool>) {
    let Some(every) = inner.upgrade().map(|i| i.options.lockout_snapshot_interval) else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                inner.save_lockout_snapshot().await;
            }
        }
    }
}

fn decode_offset(e: &pta_lockout::LockoutError) -> usize {
    match e {
        pta_lockout::LockoutError::Decode { offset, .. } => *offset,
        _ => 0,
    }
}

fn encode(stores: &[Named], now: u64) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    let count = u16::try_from(stores.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (name, store) in stores.iter().take(usize::from(count)) {
        let name = name.as_bytes();
        let name = name.get(..usize::from(u16::MAX)).unwrap_or(name);
        let body = store.snapshot(now);
        let Ok(len) = u32::try_from(body.len()) else {
            tracing::warn!("lockout store too large to snapshot: left out");
            continue;
        };
        out.extend_from_slice(&u16::try_from(name.len()).unwrap_or(0).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// One store's part of the file: its name, the offset of its snapshot, the snapshot.
type Section<'a> = (String, usize, &'a [u8]);

/// The sections. `Err(offset)` of the first bad byte.
fn decode(bytes: &[u8]) -> Result<Vec<Section<'_>>, usize> {
    if bytes.get(..8) != MAGIC.get(..8) {
        return Err(0);
    }
    if bytes.get(8) != MAGIC.get(8) {
        return Err(8);
    }
    let mut pos = MAGIC.len();
    let mut take = |n: usize| -> Result<(usize, &[u8]), usize> {
        let end = pos.saturating_add(n);
        let chunk = bytes.get(pos..end).ok_or(bytes.len())?;
        let at = pos;
        pos = end;
        Ok((at, chunk))
    };
    let le = |b: &[u8]| {
        b.iter()
            .rev()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
    };
    let (_, n) = take(2)?;
    let n = le(n);
    let mut sections = Vec::new();
    for _ in 0..n {
        let (_, len) = take(2)?;
        let (at, name) = take(le(len))?;
        let name = std::str::from_utf8(name).map_err(|_| at)?.to_owned();
        let (_, len) = take(4)?;
        let (at, body) = take(le(len))?;
        sections.push((name, at, body));
    }
    if pos != bytes.len() {
        return Err(pos);
    }
    Ok(sections)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pta_lockout::{
        Attempt, Location, LockoutSecret, MemoryStoreLimits, Outcome, Policy, Source,
    };

    const T0: u64 = 1_800_000_000_000;

    fn store() -> Arc<MemoryStore> {
        Arc::new(MemoryStore::new(Policy::default(), MemoryStoreLimits::default()).unwrap())
    }

    fn fail(store: &MemoryStore, login: &str, times: u8) {
        let secret = LockoutSecret::from_bytes(&[1u8; 32]).unwrap();
        let user = secret.user_key("t", login);
        for i in 0..times {
            let attempt = Attempt::new(
                user,
                Source::from_raw(1),
                Location::from_raw(1),
                secret.password_tag(user, &[i]),
            );
            store.record(T0, &attempt, Outcome::InvalidCredentials);
        }
    }

    #[tokio::test]
    async fn saved_stores_load_by_name_and_a_missing_file_is_a_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lockout.snapshot");
        let fresh = [(String::new(), store())];
        assert_eq!(load(&path, &fresh, T0).await.unwrap(), 0);

        let (default, acme) = (store(), store());
        fail(&default, "alice", 3);
        fail(&acme, "bob", 1);
        fail(&acme, "carol", 1);
        let stores = [(String::new(), default), ("acme".to_owned(), acme)];
        let size = save(&path, &stores, T0).await.unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, size);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        let (default, acme) = (store(), store());
        let loaded = [
            (String::new(), default.clone()),
            ("acme".to_owned(), acme.clone()),
        ];
        assert_eq!(load(&path, &loaded, T0).await.unwrap(), 3);
        assert_eq!(default.memory_usage().users, 1);
        assert_eq!(acme.memory_usage().users, 2);

        // A store no longer configured is skipped; the others load.
        let only_default = [(String::new(), store())];
        assert_eq!(load(&path, &only_default, T0).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_damaged_file_loads_nothing_and_names_the_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lockout.snapshot");
        let (a, b) = (store(), store());
        fail(&a, "alice", 2);
        fail(&b, "bob", 2);
        let stores = [("a".to_owned(), a), ("b".to_owned(), b)];
        save(&path, &stores, T0).await.unwrap();
        let good = std::fs::read(&path).unwrap();

        for cut in [0, 5, 9, 12, good.len() - 1] {
            std::fs::write(&path, &good[..cut]).unwrap();
            let targets = [("a".to_owned(), store()), ("b".to_owned(), store())];
            let err = load(&path, &targets, T0).await.unwrap_err();
            assert!(matches!(err, SnapshotError::Format { .. }), "{cut}: {err}");
            assert!(targets.iter().all(|(_, s)| s.memory_usage().users == 0));
        }
        // Damage inside the second store's records: the first is not loaded either.
        let mut bad = good.clone();
        let second = decode(&good).unwrap()[1].1;
        // Magic and version, the account count, the first key: then its record's kind byte.
        bad[second + 8 + 4 + 8] = b'S';
        std::fs::write(&path, &bad).unwrap();
        let targets = [("a".to_owned(), store()), ("b".to_owned(), store())];
        let err = load(&path, &targets, T0).await.unwrap_err();
        assert!(matches!(err, SnapshotError::Format { .. }), "{err}");
        assert!(targets.iter().all(|(_, s)| s.memory_usage().users == 0));
        assert!(!err.to_string().contains("alice"));
    }
}
