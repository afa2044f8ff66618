//! Audit events: what happened, to whom, through which agent, with what outcome.
//!
//! An event holds a time, a tenant, a login name, an agent id, a kind and an outcome from
//! fixed sets, a latency and a source address. There is no free-text field and no field for
//! a password or a token, so neither can reach the audit log through this type.

use std::net::IpAddr;

use pta_wire::Verdict;

use crate::{AgentId, StoreError, TenantId, TokenError};

/// Longest login name kept in an event, in bytes; longer ones are cut at a character
/// boundary (login names come from the sign-in request, so from anyone).
pub const MAX_AUDIT_LOGIN_LEN: usize = 256;

/// One audit event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When it happened, Unix milliseconds.
    pub time: u64,
    /// The tenant concerned; `None` when it could not be told (an unknown token).
    pub tenant: Option<TenantId>,
    /// What happened.
    pub kind: AuditKind,
    /// The login name of a sign-in (at most [`MAX_AUDIT_LOGIN_LEN`] bytes).
    pub login: Option<String>,
    /// The agent concerned.
    pub agent: Option<AgentId>,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// How long it took, milliseconds.
    pub latency_ms: Option<u64>,
    /// The client's or agent's source address.
    pub source: Option<IpAddr>,
}

impl AuditEvent {
    /// An event with only a time, a kind and an outcome; add the rest with the `with_`
    /// methods.
    pub fn new(time: u64, kind: AuditKind, outcome: AuditOutcome) -> Self {
        Self {
            time,
            tenant: None,
            kind,
            login: None,
            agent: None,
            outcome,
            latency_ms: None,
            source: None,
        }
    }

    /// Sets the tenant.
    pub fn with_tenant(mut self, tenant: TenantId) -> Self {
        self.tenant = Some(tenant);
        self
    }

    /// Sets the login name, cut to [`MAX_AUDIT_LOGIN_LEN`] bytes.
    pub fn with_login(mut self, login: &str) -> Self {
        let mut end = login.len().min(MAX_AUDIT_LOGIN_LEN);
        while !login.is_char_boundary(end) {
            end -= 1;
        }
        self.login = login.get(..end).map(str::to_owned);
        self
    }

    /// Sets the agent.
    pub fn with_agent(mut self, agent: AgentId) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Sets the latency.
    pub fn with_latency_ms(mut self, latency_ms: u64) -> Self {
        self.latency_ms = Some(latency_ms);
        self
    }

    /// Sets the source address.
    pub fn with_source(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }
}

macro_rules! coded_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $($(#[$vdoc:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[Self] = &[$(Self::$variant,)+];

            /// The stable code stored in the database.
            pub fn code(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The value for a stored code.
            ///
            /// # Errors
            ///
            /// [`StoreError::Corrupt`] for an unknown code.
            pub fn from_code(code: &str) -> Result<Self, StoreError> {
                match code {
                    $($code => Ok(Self::$variant),)+
                    _ => Err(StoreError::Corrupt { what: $what }),
                }
            }
        }
    };
}

coded_enum! {
    /// What an audit event is about.
    AuditKind, "audit kind" {
        /// A sign-in attempt.
        SignIn = "sign_in",
        /// A registration token was created.
        TokenCreated = "token_created",
        /// An agent registration (accepted or refused).
        Registration = "registration",
        /// An agent certificate renewal.
        Renewal = "renewal",
        /// An agent was revoked.
        Revocation = "revocation",
        /// A known agent connected from a new source address.
        AgentNewSource = "agent_new_source",
        /// A known agent presented a new key outside renewal.
        AgentNewKey = "agent_new_key",
        /// An agent became inactive.
        AgentInactive = "agent_inactive",
        /// An inactive agent was purged from the registry.
        AgentPurged = "agent_purged",
    }
}

coded_enum! {
    /// Why something did not reach a verdict or was refused.
    AuditError, "audit error" {
        /// Smart lockout refused the attempt before any agent was asked.
        LockedOut = "locked_out",
        /// The source address is blocked (password spray).
        SourceBlocked = "source_blocked",
        /// A recent repeat of a rejected password, answered without the directory.
        RepeatRejected = "repeat_rejected",
        /// No agent was available.
        NoAgent = "no_agent",
        /// No verdict before the deadline.
        Timeout = "timeout",
        /// The agent's connection was lost before it answered.
        AgentLost = "agent_lost",
        /// The agent could not open the envelope.
        AgentDecryptFailed = "agent_decrypt_failed",
        /// The directory could not be reached or failed.
        DirectoryUnavailable = "directory_unavailable",
        /// The directory or the agent is misconfigured.
        Misconfigured = "misconfigured",
        /// The registration token is unknown.
        TokenUnknown = "token_unknown",
        /// The registration token has expired.
        TokenExpired = "token_expired",
        /// The registration token was already used.
        TokenReused = "token_reused",
        /// The registration token was malformed.
        TokenMalformed = "token_malformed",
        /// The tenant's agent limit was reached.
        AgentLimitReached = "agent_limit_reached",
        /// The certificate request was invalid (bad signature, bad key).
        BadRequest = "bad_request",
        /// The agent is revoked.
        Revoked = "revoked",
        /// The lockout store could not be reached; the sign-in was refused uncounted.
        LockoutUnavailable = "lockout_unavailable",
        /// The service failed (storage, randomness).
        Internal = "internal",
    }
}

impl From<TokenError> for AuditError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Unknown => Self::TokenUnknown,
            TokenError::Expired => Self::TokenExpired,
            TokenError::AlreadyUsed => Self::TokenReused,
            TokenError::Malformed => Self::TokenMalformed,
        }
    }
}

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// Done (a registration accepted, a revocation applied, a notice).
    Ok,
    /// The directory's verdict on a sign-in (named by [`Verdict::name`], the one table of
    /// verdict names).
    Verdict(Verdict),
    /// Refused or failed, without a verdict.
    Error(AuditError),
}

impl AuditOutcome {
    /// The stable code stored in the database: `ok`, `verdict:<code>` or `error:<code>`.
    pub fn code(self) -> String {
        match self {
            Self::Ok => "ok".to_owned(),
            Self::Verdict(v) => match v.name() {
                Some(name) => format!("verdict:{name}"),
                None => format!("verdict:unknown_{}", v.code()),
            },
            Self::Error(e) => format!("error:{}", e.code()),
        }
    }

    /// The outcome for a stored code.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for an unknown code.
    pub fn from_code(code: &str) -> Result<Self, StoreError> {
        if code == "ok" {
            return Ok(Self::Ok);
        }
        match code.split_once(':') {
            Some(("verdict", v)) => verdict_from_code(v).map(Self::Verdict),
            Some(("error", e)) => AuditError::from_code(e).map(Self::Error),
            _ => Err(StoreError::Corrupt {
                what: "audit outcome",
            }),
        }
    }
}

/// The verdict of a stored `verdict:<name>` code (`unknown_<n>` for a wire code without a
/// name).
fn verdict_from_code(code: &str) -> Result<Verdict, StoreError> {
    let corrupt = StoreError::Corrupt {
        what: "audit verdict",
    };
    if let Some(n) = code.strip_prefix("unknown_") {
        return n.parse().map(Verdict::from_code).map_err(|_| corrupt);
    }
    Verdict::from_name(code).ok_or(corrupt)
}

/// Which events [`Store::audit_events`](crate::Store::audit_events) returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only this tenant's events.
    pub tenant: TenantId,
    /// Events at or after this time, Unix ms.
    pub from: u64,
    /// Events strictly before this time, Unix ms.
    pub until: u64,
    /// At most this many (the oldest first).
    pub limit: u32,
}

impl AuditQuery {
    /// A query for `tenant`'s events in `[from, until)`, oldest first, at most `limit`.
    pub fn new(tenant: TenantId, from: u64, until: u64, limit: u32) -> Self {
        Self {
            tenant,
            from,
            until,
            limit,
        }
    }
}

/// How long and how many audit events are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditRetention {
    /// Events older than this are deleted (default 90 days), ms.
    pub max_age_ms: u64,
    /// At most this many events are kept in all, the newest (default 10 000 000).
    pub max_rows: u64,
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self {
            max_age_ms: 90 * 24 * 60 * 60 * 1_000,
            max_rows: 10_000_000,
        }
    }
}

impl AuditRetention {
    /// The oldest time kept at `now`: events before it are pruned.
    pub fn horizon(&self, now: u64) -> u64 {
        now.saturating_sub(self.max_age_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::{
        AuditError, AuditEvent, AuditKind, AuditOutcome, AuditRetention, MAX_AUDIT_LOGIN_LEN,
        Verdict,
    };
    use crate::TokenError;

    #[test]
    fn codes_round_trip() {
        let mut outcomes = vec![AuditOutcome::Ok];
        outcomes.extend((0..16).map(|n| AuditOutcome::Verdict(Verdict::from_code(n))));
        outcomes.push(AuditOutcome::Verdict(Verdict::Unknown(77)));
        outcomes.extend(AuditError::ALL.iter().map(|e| AuditOutcome::Error(*e)));
        let mut codes = std::collections::HashSet::new();
        for o in outcomes {
            assert!(codes.insert(o.code()), "duplicate code {}", o.code());
            assert_eq!(AuditOutcome::from_code(&o.code()).ok(), Some(o));
        }
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::from_code(k.code()).ok(), Some(*k));
        }
        for bad in [
            "",
            "verdict:",
            "error:success",
            "verdict:locked_out",
            "okay",
            "x:ok",
        ] {
            assert!(AuditOutcome::from_code(bad).is_err(), "{bad}");
        }
        assert_eq!(
            AuditError::from(TokenError::AlreadyUsed),
            AuditError::TokenReused
        );
    }

    /// The event's fields, spelled out: adding a field (a password, a free-text detail)
    /// breaks this test on purpose, so it is a decision, never an accident.
    #[test]
    fn event_has_no_room_for_a_password() {
        let ev = AuditEvent::new(
            1,
            AuditKind::SignIn,
            AuditOutcome::Verdict(Verdict::Success),
        )
        .with_login("alice@contoso.com")
        .with_latency_ms(12);
        let AuditEvent {
            time,
            tenant,
            kind,
            login,
            agent,
            outcome,
            latency_ms,
            source,
        } = ev;
        // Only the login is free text; the rest are numbers, ids and fixed codes.
        let _: (u64, Option<crate::TenantId>, AuditKind) = (time, tenant, kind);
        let _: (Option<crate::AgentId>, AuditOutcome) = (agent, outcome);
        let _: (Option<u64>, Option<std::net::IpAddr>) = (latency_ms, source);
        assert_eq!(login.as_deref(), Some("alice@contoso.com"));
    }

    #[test]
    fn long_logins_are_cut_on_a_char_boundary() {
        let long = "é".repeat(MAX_AUDIT_LOGIN_LEN);
        let ev = AuditEvent::new(0, AuditKind::SignIn, AuditOutcome::Ok).with_login(&long);
        let kept = ev.login.unwrap_or_default();
        assert_eq!(kept.len(), MAX_AUDIT_LOGIN_LEN);
        assert!(long.starts_with(&kept));
        let short = AuditEvent::new(0, AuditKind::SignIn, AuditOutcome::Ok).with_login("bob");
        assert_eq!(short.login.as_deref(), Some("bob"));
    }

    #[test]
    fn retention_horizon() {
        let r = AuditRetention::default();
        assert_eq!(r.horizon(0), 0);
        assert_eq!(r.horizon(r.max_age_ms + 5), 5);
    }
}
