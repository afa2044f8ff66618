//! Revoked certificate serials, for the registry and the tenant's CRL.

use crate::{AgentId, StoreError, TenantId};

/// Why a certificate was revoked: the RFC 5280 `CRLReason` values an admin or the service
/// uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// No reason given (`unspecified`, 0).
    Unspecified,
    /// The agent's key or host is compromised (`keyCompromise`, 1).
    KeyCompromise,
    /// Replaced by a renewed certificate (`superseded`, 4).
    Superseded,
    /// The agent was decommissioned (`cessationOfOperation`, 5).
    CessationOfOperation,
}

impl RevocationReason {
    /// The RFC 5280 `CRLReason` code, also the stored value.
    pub fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
        }
    }

    /// The reason for an RFC 5280 code.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for a code this crate does not use.
    pub fn from_code(code: u8) -> Result<Self, StoreError> {
        match code {
            0 => Ok(Self::Unspecified),
            1 => Ok(Self::KeyCompromise),
            4 => Ok(Self::Superseded),
            5 => Ok(Self::CessationOfOperation),
            _ => Err(StoreError::Corrupt {
                what: "revocation reason",
            }),
        }
    }
}

/// A revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The tenant whose authority issued the certificate.
    pub tenant: TenantId,
    /// The certificate's serial (big-endian bytes); unique per tenant.
    pub serial: Vec<u8>,
    /// The agent the certificate was issued to, if known; revoking marks it
    /// [`AgentStatus::Revoked`](crate::AgentStatus::Revoked).
    pub agent: Option<AgentId>,
    /// Why.
    pub reason: RevocationReason,
    /// When, Unix milliseconds.
    pub revoked_at: u64,
}

impl Revocation {
    /// A revocation of `serial` for `tenant`.
    pub fn new(
        tenant: TenantId,
        serial: Vec<u8>,
        agent: Option<AgentId>,
        reason: RevocationReason,
        revoked_at: u64,
    ) -> Self {
        Self {
            tenant,
            serial,
            agent,
            reason,
            revoked_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RevocationReason;

    #[test]
    fn reason_codes_are_rfc5280() {
        for (r, c) in [
            (RevocationReason::Unspecified, 0),
            (RevocationReason::KeyCompromise, 1),
            (RevocationReason::Superseded, 4),
            (RevocationReason::CessationOfOperation, 5),
        ] {
            assert_eq!(r.code(), c);
            assert_eq!(RevocationReason::from_code(c).ok(), Some(r));
        }
        assert!(RevocationReason::from_code(2).is_err());
    }
}
