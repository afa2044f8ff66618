//! The agent record and its stored status.

use std::net::IpAddr;

use crate::{AgentId, StoreError, TenantId};

/// An agent as the registry knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRecord {
    /// The agent's id, named in its certificate; unique across tenants.
    pub id: AgentId,
    /// The tenant the agent serves.
    pub tenant: TenantId,
    /// Serial number of the agent's current certificate (big-endian bytes, as in X.509).
    pub certificate_serial: Vec<u8>,
    /// The agent's current public key (DER `SubjectPublicKeyInfo`).
    pub public_key: Vec<u8>,
    /// The agent's software version, as it reported it.
    pub software_version: String,
    /// When the agent registered, Unix milliseconds.
    pub first_seen: u64,
    /// When the agent last connected or sent a heartbeat, Unix milliseconds.
    pub last_seen: u64,
    /// The address the agent last connected from; `None` until it has been seen.
    pub last_source: Option<IpAddr>,
    /// Stored status (see [`AgentStatus`]).
    pub status: AgentStatus,
}

impl AgentRecord {
    /// A freshly registered agent: active, first and last seen `now`.
    pub fn new(
        id: AgentId,
        tenant: TenantId,
        certificate_serial: Vec<u8>,
        public_key: Vec<u8>,
        now: u64,
    ) -> Self {
        Self {
            id,
            tenant,
            certificate_serial,
            public_key,
            software_version: String::new(),
            first_seen: now,
            last_seen: now,
            last_source: None,
            status: AgentStatus::Active,
        }
    }
}

/// What an agent reported when it connected or sent a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSeen {
    /// When, Unix milliseconds.
    pub now: u64,
    /// The connection's source address.
    pub source: IpAddr,
    /// The agent's software version.
    pub software_version: String,
}

impl AgentSeen {
    /// What an agent reported.
    pub fn new(now: u64, source: IpAddr, software_version: impl Into<String>) -> Self {
        Self {
            now,
            source,
            software_version: software_version.into(),
        }
    }
}

/// An agent's status as stored in the registry.
///
/// ```text
///            registration
///                 |
///                 v         no connection for 10 min
///           +----------+ ---------------------------> +------------+
///           |  Active  |                              |  Inactive  |
///           +----------+ <--------------------------- +------------+
///              |     (connects again)                     |   no connection for 10 days:
///   revoked    |                                          |   purged (row deleted)
///   by admin   v                                          v
///           +----------+   no connection for 10 days     (gone; its certificate serials
///           | Revoked  | ----------------------------->   stay in the CRL)
///           +----------+   purged
/// ```
///
/// [`StatusPolicy`](crate::StatusPolicy) decides the time-driven transitions; revocation is
/// final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AgentStatus {
    /// Connected, or seen within the inactivity period.
    Active,
    /// Not connected for longer than the inactivity period; still registered.
    Inactive,
    /// Revoked by an admin: never accepted again.
    Revoked,
}

impl AgentStatus {
    /// The stable code stored in the database.
    pub fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Revoked => "revoked",
        }
    }

    /// The status for a stored code.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for an unknown code.
    pub fn from_code(code: &str) -> Result<Self, StoreError> {
        match code {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            "revoked" => Ok(Self::Revoked),
            _ => Err(StoreError::Corrupt {
                what: "agent status",
            }),
        }
    }

    /// Whether the agent counts toward its tenant's agent limit (every status but revoked:
    /// an inactive agent may come back at any time).
    pub fn counts_toward_limit(self) -> bool {
        !matches!(self, Self::Revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::AgentStatus;

    #[test]
    fn codes_round_trip() {
        for s in [
            AgentStatus::Active,
            AgentStatus::Inactive,
            AgentStatus::Revoked,
        ] {
            assert_eq!(AgentStatus::from_code(s.code()).ok(), Some(s));
        }
        assert!(AgentStatus::from_code("Active").is_err());
        assert!(AgentStatus::Inactive.counts_toward_limit());
        assert!(!AgentStatus::Revoked.counts_toward_limit());
    }
}
