//! The crate's one error type, and the token-error kind it carries.

/// Why a registration token was refused.
///
/// The registration handler answers the agent with this kind (it reveals nothing the agent's
/// operator does not already know) and audits it; it never echoes the token itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No token with this value exists (never issued, mistyped, or pruned after it expired).
    ///
    /// Ask the administrator for a new token.
    #[error("unknown registration token")]
    Unknown,
    /// The token exists but its lifetime has passed.
    ///
    /// Ask the administrator for a new token.
    #[error("registration token expired")]
    Expired,
    /// The token was already used by an earlier registration.
    ///
    /// Tokens are single use: ask the administrator for a new one. If nobody used it on
    /// purpose, the administrator should look at the agents registered with it.
    #[error("registration token already used")]
    AlreadyUsed,
    /// The printed form is not `pta1.<token>.<fingerprint>` (see [`JoinToken`]).
    ///
    /// Copy the whole token again as the administrator printed it.
    ///
    /// [`JoinToken`]: crate::JoinToken
    #[error("malformed registration token")]
    Malformed,
}

/// Everything a [`Store`](crate::Store) or a record of this crate can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A registration token was refused; the kind says why.
    ///
    /// Answer the agent with the kind; nothing was changed.
    #[error(transparent)]
    Token(#[from] TokenError),

    /// The tenant already has as many registered agents as its limit allows.
    ///
    /// Refuse the registration; the administrator must remove (revoke or let purge) an agent
    /// or raise the tenant's limit.
    #[error("agent limit reached: the tenant already has {limit} agents")]
    AgentLimitReached {
        /// The tenant's limit.
        limit: u32,
    },

    /// No tenant with this id exists.
    ///
    /// Check the id; nothing was changed.
    #[error("unknown tenant")]
    UnknownTenant,

    /// No agent with this id exists (never registered, or purged).
    ///
    /// Refuse the agent's connection or request; it must register again.
    #[error("unknown agent")]
    UnknownAgent,

    /// A tenant with this id or name already exists.
    ///
    /// Pick another name; nothing was changed.
    #[error("tenant already exists")]
    TenantExists,

    /// An agent with this id already exists.
    ///
    /// Generate a fresh random id and try again; nothing was changed.
    #[error("agent already exists")]
    AgentExists,

    /// A token with the same hash already exists (a broken random generator, or the same
    /// token inserted twice).
    ///
    /// Generate a new token; nothing was changed.
    #[error("registration token already stored")]
    TokenExists,

    /// A tenant or agent id is not in its canonical text form (lowercase 8-4-4-4-12 hex).
    ///
    /// Check the id the caller sent.
    #[error("malformed id")]
    MalformedId,

    /// A configuration field holds a value the crate cannot work with.
    ///
    /// Fix the named field; nothing was built.
    #[error("invalid configuration: {field}")]
    InvalidConfig {
        /// Name of the offending field.
        field: &'static str,
    },

    /// A time or count does not fit the store's integer range (a time after the year
    /// 292 million, a count above `i64::MAX`).
    ///
    /// A caller bug: pass Unix milliseconds.
    #[error("value out of range: {field}")]
    OutOfRange {
        /// Name of the offending value.
        field: &'static str,
    },

    /// The operating system's random generator failed.
    ///
    /// Nothing was created; retry later and alert the operator: the host is unhealthy.
    #[error("random generator failed")]
    Random(#[source] getrandom::Error),

    /// The database was written by a newer version of this crate (its schema version is
    /// higher than the newest this build knows).
    ///
    /// Run the newer version, or restore a backup made for this one; the file was not changed.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// Schema version found in the file.
        found: i64,
        /// Newest schema version this build knows.
        supported: i64,
    },

    /// A stored row holds a value this build cannot decode (an unknown status or outcome code,
    /// a malformed id or address).
    ///
    /// The database was changed outside this crate, or by a newer version: restore a backup or
    /// run the newer version.
    #[error("corrupt stored value: {what}")]
    Corrupt {
        /// Which value could not be decoded.
        what: &'static str,
    },

    /// The storage backend failed: I/O error, locked or unreadable database file, a lost
    /// connection, or a blocking task that could not run.
    ///
    /// The operation did not happen (each is one transaction). Treat it as a temporary failure:
    /// answer "try again later", never as a refusal of the user's or agent's credentials.
    #[error("state store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl StoreError {
    /// The token-error kind, if this is a refused token.
    pub fn token_error(&self) -> Option<TokenError> {
        match self {
            Self::Token(kind) => Some(*kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{StoreError, TokenError};

    #[test]
    fn token_kind_is_reachable_and_displayed() {
        let e = StoreError::from(TokenError::Expired);
        assert_eq!(e.token_error(), Some(TokenError::Expired));
        assert_eq!(e.to_string(), "registration token expired");
        assert_eq!(StoreError::UnknownAgent.token_error(), None);
    }

    #[test]
    fn backend_keeps_its_cause() {
        let e = StoreError::Backend(Box::new(std::io::Error::other("disk full")));
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("disk full"));
    }
}
