//! The crate's one error type.

/// Everything that can go wrong in this crate.
///
/// None of these is a verdict about a sign-in: an error from a [`LockoutStore`] is a failure to
/// decide, and must never be turned into a lockout or counted as a failed password.
///
/// [`LockoutStore`]: crate::LockoutStore
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockoutError {
    /// The deployment secret is shorter than [`LockoutSecret::MIN_LEN`] bytes.
    ///
    /// Generate at least 32 random bytes once per deployment, keep them with the other service
    /// secrets, and give every service node the same bytes.
    ///
    /// [`LockoutSecret::MIN_LEN`]: crate::LockoutSecret::MIN_LEN
    #[error("lockout secret too short: {len} bytes, at least 32 required")]
    SecretTooShort {
        /// Length of the rejected secret.
        len: usize,
    },

    /// A [`Policy`] or [`MemoryStoreLimits`] field holds a value the crate cannot work with
    /// (a zero threshold, a zero duration, a window shorter than a second, a zero cap).
    ///
    /// Fix the named field in the configuration; nothing was built.
    ///
    /// [`Policy`]: crate::Policy
    /// [`MemoryStoreLimits`]: crate::MemoryStoreLimits
    #[error("invalid lockout configuration: {field}")]
    InvalidConfig {
        /// Name of the offending field, e.g. `"threshold"`.
        field: &'static str,
    },

    /// Bytes handed to [`UserRecord::decode`] or [`SourceRecord::decode`] are not an encoded
    /// record: `kind` says why, `offset` where.
    ///
    /// A shared store should report it as [`LockoutError::Backend`] (its stored state is
    /// corrupt, or was written by a newer build), never as a decision; delete the damaged key or
    /// upgrade the node that cannot read it.
    ///
    /// [`UserRecord::decode`]: crate::UserRecord::decode
    /// [`SourceRecord::decode`]: crate::SourceRecord::decode
    #[error("bad lockout record encoding at byte {offset}: {kind}")]
    Decode {
        /// What is wrong.
        kind: crate::DecodeErrorKind,
        /// Offset of the first bad byte (the input's length when it is too short).
        offset: usize,
    },

    /// A shared store's backend (a database, a cache cluster) failed or could not be reached.
    ///
    /// The in-memory store never returns this. The attempt was neither allowed nor counted:
    /// the caller decides whether to fail closed (refuse the sign-in as a temporary error, the
    /// safe default) or open; either way it must not report wrong credentials to the user.
    #[error("lockout store backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}
