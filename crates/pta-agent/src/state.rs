//! The agent's own files in the state directory, beside what `pta_cert::StateStore` keeps:
//! `agent.json` (registration facts), `status.json` (the running agent's connection state)
//! and `agent.lock` (one running agent per directory).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::Error;

pub(crate) const AGENT_JSON: &str = "agent.json";
pub(crate) const STATUS_JSON: &str = "status.json";
pub(crate) const LOCK: &str = "agent.lock";

/// What registration told the agent (`agent.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentInfo {
    /// The agent's id (also in its certificate).
    pub agent_id: String,
    /// The tenant (also in its certificate).
    pub tenant: String,
    /// Agent listener endpoints (`host:port`), in order of preference.
    pub endpoints: Vec<String>,
    /// When the agent registered, Unix seconds.
    pub registered_at: u64,
}

impl AgentInfo {
    /// Reads `agent.json` from the state directory.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`] when it is missing, [`Error::StateCorrupt`] when it does not
    /// parse.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(AGENT_JSON);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotRegistered(dir.to_owned()));
            }
            Err(e) => return Err(Error::state_io(&path)(e)),
        };
        serde_json::from_str(&text).map_err(|_| Error::StateCorrupt(path))
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(self).map_err(|_| Error::BadResponse("agent.json"))?;
        write_atomic(&dir.join(AGENT_JSON), &text)
    }
}

/// Connection state written by a running agent (`status.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionStatus {
    /// `starting`, `connecting`, `connected`, `backoff`, `draining` or `stopped`.
    pub state: String,
    /// The endpoint of the current (or last) connection.
    pub endpoint: Option<String>,
    /// Process id of the agent.
    pub pid: u32,
    /// Reconnections since start.
    pub reconnects: u64,
    /// When this state began, Unix seconds.
    pub since: u64,
}

impl ConnectionStatus {
    pub(crate) fn load(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(STATUS_JSON)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<(), Error> {
        let text =
            serde_json::to_vec_pretty(self).map_err(|_| Error::BadResponse("status.json"))?;
        write_atomic(&dir.join(STATUS_JSON), &text)
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes `path` atomically with mode 0600: a temporary file in the same directory, fsync,
/// rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(Error::state_io(path))
}

/// The exclusive lock on a state directory, held while the value lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock on `dir/agent.lock` without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if another process holds it; [`Error::StateIo`] if the file cannot
    /// be opened.
    pub fn acquire(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(LOCK);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(Error::state_io(&path))?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Error::Locked(dir.to_owned())),
            Err(e) => Err(Error::StateIo {
                path,
                source: e.into(),
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether another process holds the lock of `dir` (an agent is running there).
pub(crate) fn is_locked(dir: &Path) -> bool {
    matches!(StateLock::acquire(dir), Err(Error::Locked(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            StateLock::acquire(dir.path()),
            Err(Error::Locked(_))
        ));
        assert!(is_locked(dir.path()));
        drop(first);
        assert!(!is_locked(dir.path()));
        StateLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn atomic_writes_are_0600() {
        let dir = tempfile::tempdir().unwrap();
        let info = AgentInfo {
            agent_id: "a1".into(),
            tenant: "t".into(),
            endpoints: vec!["127.0.0.1:1".into()],
            registered_at: 5,
        };
        info.save(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(AGENT_JSON))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(AgentInfo::load(dir.path()).unwrap(), info);
        assert!(matches!(
            AgentInfo::load(&dir.path().join("nope")),
            Err(Error::NotRegistered(_))
        ));
    }
}
