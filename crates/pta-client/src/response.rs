//! The sign-in answer and the error body (docs/SERVICE.md, "Sign-in answer" and "Errors").
//! The service's JSON field names are the contract; these types are this crate's own.

use std::fmt;

use serde::Deserialize;

use crate::{ClientError, MalformedKind};

/// The verdict of a sign-in (HTTP 200).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignInResponse {
    /// The HTTP status (200).
    pub status: u16,
    /// The service's request id (hex), for its audit log.
    pub request_id: String,
    /// The verdict's name: `success`, `invalid_credentials`, `account_locked`, ...,
    /// `unknown_<n>` for one the service does not know (not a success).
    pub verdict: String,
    /// Warnings that came with the verdict (`password_expires_in_days`).
    pub warnings: Vec<Warning>,
    /// Who decided.
    pub decided_by: DecidedBy,
    /// The agent that answered, when an agent decided.
    pub agent_id: Option<String>,
    /// The service's time for the sign-in, milliseconds.
    pub latency_ms: u64,
}

impl SignInResponse {
    /// Whether the verdict is `success`.
    pub fn is_success(&self) -> bool {
        self.verdict == "success"
    }
}

/// A warning of a verdict: `{"kind", "value"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Its kind (`password_expires_in_days`; `unknown` when the answer gave none).
    pub kind: String,
    /// Its value (days for `password_expires_in_days`).
    pub value: Option<u64>,
}

/// Who decided a verdict (`decided_by`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecidedBy {
    /// An agent asked the directory (`agent_id` names it).
    Agent,
    /// Cloud smart lockout, without asking the directory (verdict `account_locked`).
    Lockout {
        /// When the lockout ends, Unix milliseconds.
        until_ms: Option<u64>,
    },
    /// A recent repeat of a rejected password (verdict `invalid_credentials`).
    RepeatRejected,
    /// A value this version does not know (empty when the answer gave none).
    Other(String),
}

/// The body of an error answer: `{"error", "message", "agent_error"?, "retry_after_secs"?}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ApiErrorBody {
    /// The error code (`no_agent_available`, `timeout`, `unauthorized`, ...).
    #[serde(rename = "error", default)]
    pub code: Option<String>,
    /// Fixed text for people.
    #[serde(default)]
    pub message: Option<String>,
    /// With `agent_error`: the agent's error (`directory_unavailable`, ...).
    #[serde(default)]
    pub agent_error: Option<String>,
    /// With `source_blocked`: seconds until the source may try again.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// The 200 answer as sent.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    verdict: Option<String>,
    #[serde(default)]
    warnings: Vec<WarningJson>,
    #[serde(default)]
    decided_by: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    locked_until_ms: Option<u64>,
    #[serde(default)]
    latency_ms: Option<u64>,
}

#[derive(Deserialize)]
struct WarningJson {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    value: Option<u64>,
}

fn malformed(status: u16, e: &serde_json::Error) -> ClientError {
    let kind = match e.classify() {
        serde_json::error::Category::Data => MalformedKind::Shape,
        _ => MalformedKind::NotJson,
    };
    ClientError::Malformed { status, kind }
}

/// Turns an answer (status and body) into a verdict or the error it carries.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<SignInResponse, ClientError> {
    if status != 200 {
        let body: ApiErrorBody = serde_json::from_slice(body).map_err(|e| malformed(status, &e))?;
        return Err(ClientError::Status { status, body });
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| malformed(status, &e))?;
    let verdict = answer
        .verdict
        .filter(|v| !v.is_empty())
        .ok_or(ClientError::Malformed {
            status,
            kind: MalformedKind::NoVerdict,
        })?;
    let decided_by = match answer.decided_by.as_deref() {
        Some("agent") => DecidedBy::Agent,
        Some("lockout") => DecidedBy::Lockout {
            until_ms: answer.locked_until_ms,
        },
        Some("repeat_rejected") => DecidedBy::RepeatRejected,
        other => DecidedBy::Other(other.unwrap_or_default().to_owned()),
    };
    Ok(SignInResponse {
        status,
        request_id: answer.request_id.unwrap_or_default(),
        verdict,
        warnings: answer
            .warnings
            .into_iter()
            .map(|w| Warning {
                kind: w.kind.unwrap_or_else(|| "unknown".to_owned()),
                value: w.value,
            })
            .collect(),
        decided_by,
        agent_id: answer.agent_id,
        latency_ms: answer.latency_ms.unwrap_or(0),
    })
}

/// The verdict for people, as `pta-signin` prints it:
///
/// ```text
/// verdict:    success
/// warnings:   password_expires_in_days=5
/// decided by: agent
/// agent:      0b0e6c1e-7d7e-4a53-9d3c-1f2a3b4c5d6e
/// latency:    42 ms
/// request id: 0123456789abcdef0011223344556677
/// ```
impl fmt::Display for SignInResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "verdict:    {}", self.verdict)?;
        f.write_str("warnings:   ")?;
        if self.warnings.is_empty() {
            f.write_str("none")?;
        }
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&w.kind)?;
            if let Some(value) = w.value {
                write!(f, "={value}")?;
            }
        }
        writeln!(f)?;
        match &self.decided_by {
            DecidedBy::Agent => writeln!(f, "decided by: agent")?,
            DecidedBy::Lockout { until_ms } => {
                f.write_str("decided by: lockout (cloud smart lockout")?;
                if let Some(ms) = until_ms {
                    write!(f, " until {ms} (Unix ms)")?;
                }
                writeln!(f, "; the directory was not asked)")?;
            }
            DecidedBy::RepeatRejected => writeln!(
                f,
                "decided by: repeat_rejected (a recent repeat of a rejected password)"
            )?,
            DecidedBy::Other(other) => writeln!(f, "decided by: {other}")?,
        }
        writeln!(f, "agent:      {}", self.agent_id.as_deref().unwrap_or("-"))?;
        writeln!(f, "latency:    {} ms", self.latency_ms)?;
        write!(f, "request id: {}", self.request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = r#"{"request_id":"00112233","verdict":"success","warnings":[{"kind":"password_expires_in_days","value":5}],"decided_by":"agent","agent_id":"0b0e6c1e-7d7e-4a53-9d3c-1f2a3b4c5d6e","latency_ms":42}"#;

    #[test]
    fn a_success_parses_and_prints() {
        let r = parse_answer(200, SUCCESS.as_bytes()).unwrap();
        assert!(r.is_success());
        assert_eq!(r.decided_by, DecidedBy::Agent);
        assert_eq!(
            r.warnings,
            vec![Warning {
                kind: "password_expires_in_days".into(),
                value: Some(5)
            }]
        );
        assert_eq!(
            r.to_string(),
            "verdict:    success\n\
             warnings:   password_expires_in_days=5\n\
             decided by: agent\n\
             agent:      0b0e6c1e-7d7e-4a53-9d3c-1f2a3b4c5d6e\n\
             latency:    42 ms\n\
             request id: 00112233"
        );
    }

    #[test]
    fn a_lockout_says_the_directory_was_not_asked() {
        let body = r#"{"request_id":"00","verdict":"account_locked","warnings":[],"decided_by":"lockout","locked_until_ms":1700000060000,"latency_ms":0}"#;
        let r = parse_answer(200, body.as_bytes()).unwrap();
        assert!(!r.is_success());
        assert_eq!(
            r.decided_by,
            DecidedBy::Lockout {
                until_ms: Some(1_700_000_060_000)
            }
        );
        let text = r.to_string();
        assert!(text.contains("warnings:   none\n"), "{text}");
        assert!(
            text.contains(
                "decided by: lockout (cloud smart lockout until 1700000060000 (Unix ms); \
                 the directory was not asked)\n"
            ),
            "{text}"
        );
        assert!(text.contains("agent:      -\n"), "{text}");
    }

    #[test]
    fn unknown_fields_and_values_are_kept_or_ignored() {
        let body = r#"{"verdict":"unknown_77","decided_by":"oracle","warnings":[{"value":3},{"kind":"k"}],"extra":true}"#;
        let r = parse_answer(200, body.as_bytes()).unwrap();
        assert_eq!(r.verdict, "unknown_77");
        assert!(!r.is_success());
        assert_eq!(r.decided_by, DecidedBy::Other("oracle".into()));
        assert!(r.to_string().contains("warnings:   unknown=3, k\n"));
        let r = parse_answer(200, br#"{"verdict":"success"}"#).unwrap();
        assert_eq!(r.decided_by, DecidedBy::Other(String::new()));
        assert_eq!(r.request_id, "");
    }

    #[test]
    fn error_answers_carry_the_service_code() {
        let body = br#"{"error":"source_blocked","message":"blocked","retry_after_secs":1800}"#;
        match parse_answer(429, body) {
            Err(ClientError::Status { status: 429, body }) => {
                assert_eq!(body.code.as_deref(), Some("source_blocked"));
                assert_eq!(body.retry_after_secs, Some(1800));
                assert_eq!(body.agent_error, None);
            }
            other => panic!("{other:?}"),
        }
        match parse_answer(503, b"{}") {
            Err(ClientError::Status { status: 503, body }) => {
                assert_eq!(body, ApiErrorBody::default());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_answers_are_typed_errors() {
        let cases: [(u16, &[u8], MalformedKind); 7] = [
            (200, b"<html>", MalformedKind::NotJson),
            (200, b"", MalformedKind::NotJson),
            (200, br#"{"verdict":"succ"#, MalformedKind::NotJson),
            (502, b"Bad Gateway", MalformedKind::NotJson),
            (200, br#"{"verdict":5}"#, MalformedKind::Shape),
            (200, br#"{"warnings":[]}"#, MalformedKind::NoVerdict),
            (200, br#"{"verdict":""}"#, MalformedKind::NoVerdict),
        ];
        for (status, body, want) in cases {
            match parse_answer(status, body) {
                Err(ClientError::Malformed { status: s, kind }) => {
                    assert_eq!((s, kind), (status, want), "{body:?}");
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
        match parse_answer(503, br#"{"error":7}"#) {
            Err(ClientError::Malformed { kind, .. }) => assert_eq!(kind, MalformedKind::Shape),
            other => panic!("{other:?}"),
        }
    }
}
