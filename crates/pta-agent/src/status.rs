//! `pta-agent status`: what the state directory says, and what a running agent reports.

use std::path::Path;
use std::time::SystemTime;

use pta_cert::StateStore;

use crate::Error;
use crate::cert::LeafFacts;
use crate::state::{AgentInfo, ConnectionStatus, is_locked};

/// The agent's identity, certificate and (when running) connection state.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AgentStatus {
    /// The agent id.
    pub agent_id: String,
    /// The tenant.
    pub tenant: String,
    /// The certificate's serial number, hexadecimal.
    pub serial: String,
    /// The certificate's notAfter.
    pub not_after: SystemTime,
    /// Endpoints from registration.
    pub endpoints: Vec<String>,
    /// When the agent registered, Unix seconds.
    pub registered_at: u64,
    /// Whether an agent process holds the state directory's lock.
    pub running: bool,
    /// The running agent's connection state (from `status.json`), when running.
    pub connection: Option<ConnectionStatus>,
}

/// Reads the status of the agent whose state directory is `state_dir`.
///
/// # Errors
///
/// [`Error::NotRegistered`], and state-file errors.
pub fn status(state_dir: &Path) -> Result<AgentStatus, Error> {
    let info = AgentInfo::load(state_dir)?;
    let state = StateStore::open(state_dir)?.load()?;
    let leaf = state
        .current
        .chain
        .first()
        .ok_or(Error::Cert(pta_cert::Error::MalformedCertificate))?;
    let facts = LeafFacts::read(leaf)?;
    let running = is_locked(state_dir);
    Ok(AgentStatus {
        agent_id: info.agent_id,
        tenant: info.tenant,
        serial: facts.serial_hex,
        not_after: facts.validity.not_after,
        endpoints: info.endpoints,
        registered_at: info.registered_at,
        running,
        connection: if running {
            ConnectionStatus::load(state_dir)
        } else {
            None
        },
    })
}

impl std::fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let unix = |t: SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        writeln!(f, "agent id:      {}", self.agent_id)?;
        writeln!(f, "tenant:        {}", self.tenant)?;
        writeln!(f, "certificate:   serial {}", self.serial)?;
        let left = self
            .not_after
            .duration_since(SystemTime::now())
            .map_or_else(
                |_| "EXPIRED".to_string(),
                |d| format!("{} days left", d.as_secs() / 86_400),
            );
        writeln!(f, "expires:       unix {} ({left})", unix(self.not_after))?;
        writeln!(f, "endpoints:     {}", self.endpoints.join(", "))?;
        writeln!(f, "registered:    unix {}", self.registered_at)?;
        match (&self.connection, self.running) {
            (Some(c), _) => write!(
                f,
                "running:       yes (pid {}), {} {} since unix {}, {} reconnects",
                c.pid,
                c.state,
                c.endpoint.as_deref().unwrap_or("-"),
                c.since,
                c.reconnects
            ),
            (None, true) => write!(f, "running:       yes"),
            (None, false) => write!(f, "running:       no"),
        }
    }
}
