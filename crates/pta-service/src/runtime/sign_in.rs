//! What a sign-in takes and gives: the password, the client's context, the result and the
//! typed error.

use std::net::IpAddr;

use zeroize::Zeroizing;

use crate::AgentId;

/// A user's password on its way to an agent: zeroized on drop, `[redacted]` in Debug, no
/// Display.
pub struct Password(Zeroizing<Vec<u8>>);

impl Password {
    /// Wraps the password's bytes (UTF-8 as typed).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
    /// The bytes, for the one place that seals them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a sign-in comes from, as the front end saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientContext {
    /// The end user's address (lockout source and, unless `location` is set, location).
    pub source: IpAddr,
    /// A location key chosen by the front end (a device id, a network); defaults to the
    /// source address.
    pub location: Option<String>,
}

impl ClientContext {
    /// A context for a user at `source`.
    pub fn new(source: IpAddr) -> Self {
        Self {
            source,
            location: None,
        }
    }
}

/// Who decided a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecidedBy {
    /// An agent asked the directory.
    Agent(AgentId),
    /// Smart lockout answered before any agent was asked: the account is locked in the cloud
    /// (verdict `AccountLocked`) until this Unix millisecond.
    Lockout {
        /// Unix milliseconds when the cloud lock ends.
        until_ms: u64,
    },
    /// A recent repeat of a rejected password, answered `InvalidCredentials` without the
    /// directory.
    RepeatRejected,
}

/// A sign-in that reached a verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignInResult {
    /// The request id (also in the audit log and the agent's logs).
    pub request_id: pta_wire::RequestId,
    /// The verdict.
    pub verdict: pta_wire::Verdict,
    /// Warnings from the directory (days until the password expires).
    pub warnings: Vec<pta_wire::Warning>,
    /// Who decided.
    pub decided_by: DecidedBy,
    /// Time from the call to the verdict, milliseconds.
    pub latency_ms: u64,
}

/// Why a sign-in reached no verdict. Never a statement about the credentials; never counted
/// toward lockout.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignInError {
    /// No tenant with this id.
    #[error("unknown tenant")]
    UnknownTenant,
    /// Empty or over-long login, or a password longer than the envelope takes.
    #[error("invalid sign-in request: {0}")]
    InvalidRequest(&'static str),
    /// The source address is blocked for password spraying until this Unix millisecond.
    #[error("source blocked")]
    SourceBlocked {
        /// Unix milliseconds when the block ends.
        until_ms: u64,
    },
    /// No live agent of the tenant could take the request: none is connected, or every live
    /// one stayed at its in-flight cap for half the deadline (a burst waits that long for a
    /// slot before it is refused).
    #[error("no agent available")]
    NoAgentAvailable,
    /// No verdict before the deadline.
    #[error("timed out waiting for the agent")]
    Timeout,
    /// The agent reported an error (directory unavailable, misconfigured, ...).
    #[error("agent error: {0:?}")]
    Agent(pta_wire::ErrorCode),
    /// The reply's MAC did not verify (forged or damaged reply).
    #[error("agent reply failed authentication")]
    BadReply,
    /// The lockout store could not be reached (or failed) when the sign-in was checked or its
    /// outcome recorded. The sign-in is refused without a verdict: nothing is answered from
    /// stale state, and nothing was counted against the user.
    ///
    /// Temporary: answer "try again later" (HTTP 503). It clears by itself when the store
    /// answers again.
    #[error("lockout store unavailable")]
    LockoutUnavailable,
    /// The service failed (storage, sealing).
    #[error("internal error")]
    Internal,
}

impl SignInResult {
    /// A sign-in that reached `verdict`, decided by `decided_by`, in `latency_ms`.
    pub fn new(
        request_id: pta_wire::RequestId,
        verdict: pta_wire::Verdict,
        warnings: Vec<pta_wire::Warning>,
        decided_by: DecidedBy,
        latency_ms: u64,
    ) -> Self {
        Self {
            request_id,
            verdict,
            warnings,
            decided_by,
            latency_ms,
        }
    }
}
