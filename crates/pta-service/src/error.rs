//! The crate's one error type.

use pta_store::{StoreError, TokenError};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The state store refused or failed; the [`StoreError`] says which (a refused token, an
    /// unknown tenant or agent, a taken name, the agent limit, a backend failure).
    ///
    /// Act on the inner error: its variants say what to do. A
    /// [`StoreError::Backend`] is temporary: answer "try again later", never as a refusal of
    /// the user's or agent's credentials.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// The lockout store failed or could not be reached (inspecting, unlocking or unblocking).
    ///
    /// Nothing was changed. Temporary: retry later; check the lockout store's health.
    #[error("lockout store failed")]
    Lockout(#[source] pta_lockout::LockoutError),

    /// The certificate signing request is not valid DER or PEM PKCS#10 (or is longer than
    /// [`pta_cert::MAX_CSR_LEN`]).
    ///
    /// Refuse the registration; the agent must send a well-formed CSR. The token was not spent.
    #[error("malformed certificate signing request")]
    MalformedCsr,

    /// The CSR's signature does not verify with its own public key: no proof of possession of
    /// the key.
    ///
    /// Refuse the registration; do not retry with the same CSR. The token was not spent.
    #[error("the CSR signature does not verify (no proof of possession)")]
    CsrSignatureInvalid,

    /// The CSR is signed with an algorithm the service does not accept (only
    /// sha256/384/512WithRSAEncryption are).
    ///
    /// Refuse the registration; the agent must sign its CSR with one of those. The token was
    /// not spent.
    #[error("unsupported CSR signature algorithm")]
    UnsupportedCsrAlgorithm,

    /// The CSR's public key breaks the key policy (RSA, 2048 to 4096 bits, e = 65537); the
    /// violation says how.
    ///
    /// Refuse the registration; the agent must generate a key that complies. The token was not
    /// spent.
    #[error("key policy violated: {0}")]
    KeyPolicy(pta_cert::KeyPolicyViolation),

    /// The software version an agent reported is empty, longer than
    /// [`MAX_SOFTWARE_VERSION_LEN`](crate::MAX_SOFTWARE_VERSION_LEN) bytes, or not printable
    /// ASCII.
    ///
    /// Refuse the request; the agent must report a plain version string. Nothing was changed.
    #[error("invalid agent software version")]
    InvalidSoftwareVersion,

    /// A tenant's issuing authority could not be created, loaded from the store, or used to
    /// issue (an unusable key, a stored certificate that does not match its key, a failed
    /// signature, the random generator).
    ///
    /// Not the agent's fault: answer "try again later" and alert the operator. If it persists
    /// for one tenant, its stored authority is damaged (restore a backup).
    #[error("tenant issuing authority failed")]
    Authority(#[source] pta_cert::Error),

    /// A configuration field holds a value the crate cannot work with.
    ///
    /// Fix the named field; nothing was built.
    #[error("invalid configuration: {field}")]
    InvalidConfig {
        /// Name of the offending field.
        field: &'static str,
    },

    /// The operating system's random generator failed.
    ///
    /// Nothing was created; retry later and alert the operator: the host is unhealthy.
    #[error("random generator failed")]
    Random(#[source] getrandom::Error),
}

impl From<TokenError> for ServiceError {
    fn from(kind: TokenError) -> Self {
        Self::Store(StoreError::Token(kind))
    }
}

impl ServiceError {
    /// The token-error kind, if this is a refused token.
    pub fn token_error(&self) -> Option<TokenError> {
        match self {
            Self::Store(e) => e.token_error(),
            _ => None,
        }
    }

    /// The store error, if this is one.
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            Self::Store(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServiceError;
    use pta_store::{StoreError, TokenError};

    #[test]
    fn token_kind_is_reachable_and_displayed() {
        let e = ServiceError::from(StoreError::from(TokenError::Expired));
        assert_eq!(e.token_error(), Some(TokenError::Expired));
        assert_eq!(e.to_string(), "registration token expired");
        assert_eq!(
            ServiceError::Store(StoreError::UnknownAgent).token_error(),
            None
        );
    }

    #[test]
    fn backend_keeps_its_cause() {
        let e = ServiceError::Store(StoreError::Backend(Box::new(std::io::Error::other(
            "disk full",
        ))));
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("disk full"));
    }
}
