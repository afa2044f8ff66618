//! Request bodies and the JSON forms of the service's types.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, Visitor};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::reply::ApiError;
use pta_service::{AgentView, AuditEvent, DecidedBy, Password, SignInResult, Tenant};
use pta_store::hex_encode;
use pta_wire::{ErrorCode, Verdict, WarningKind};

/// A JSON string that holds a secret: taken straight into a zeroizing buffer.
pub(crate) struct SecretField(pub(crate) Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SecretField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SecretField, E> {
                Ok(SecretField(Zeroizing::new(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<SecretField, E> {
                Ok(SecretField(Zeroizing::new(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl SecretField {
    /// Moves the secret into a [`Password`] (no copy left behind).
    pub(crate) fn into_password(self) -> Password {
        let mut text = self.0;
        Password::new(std::mem::take(&mut *text).into_bytes())
    }
}

/// Time allowed to receive a request body (after its headers); one second in unit tests.
pub(crate) const BODY_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(if cfg!(test) { 1 } else { 10 });

/// Reads at most `limit` bytes of body, within [`BODY_TIMEOUT`], into a buffer that is wiped when dropped.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, BodyError> {
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let len = len
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(BodyError::Unreadable)?;
        if len > limit as u64 {
            return Err(BodyError::TooLarge);
        }
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, limit));
    match read.await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(bytes)) => Ok(Zeroizing::new(Vec::from(bytes))),
        Ok(Err(e)) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(BodyError::TooLarge);
                }
                source = err.source();
            }
            Err(BodyError::Unreadable)
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    TooLarge,
    Unreadable,
    TimedOut,
}

/// Whether the request's content type, if given, is JSON.
pub(crate) fn is_json_or_absent(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")),
    }
}

/// Parses a JSON body; the error says only where and of which kind, never what was there.
pub(crate) fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Io | serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Syntax => "JSON syntax error",
            serde_json::error::Category::Data => "missing field or field of the wrong type",
        };
        format!("{kind} at line {} column {}", e.line(), e.column())
    })
}

/// A body that must be a JSON object, or empty for "no fields".
pub(crate) fn parse_or_empty<'a, T: Deserialize<'a> + Default>(
    bytes: &'a [u8],
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(bytes).map_err(|m| ApiError::invalid_request("invalid JSON body").with_message(m))
}

/// `snake_case` name of a verdict.
pub(crate) fn verdict_name(v: Verdict) -> String {
    v.name()
        .map_or_else(|| format!("unknown_{}", v.code()), str::to_owned)
}

/// `snake_case` name of an agent error code.
pub(crate) fn error_code_name(c: ErrorCode) -> String {
    c.name()
        .map_or_else(|| format!("unknown_{}", c.code()), str::to_owned)
}

fn warning_kind_name(k: WarningKind) -> String {
    k.name()
        .map_or_else(|| format!("unknown_{}", k.code()), str::to_owned)
}

/// The sign-in answer.
pub(crate) fn sign_in_result(r: &SignInResult) -> Value {
    let warnings: Vec<Value> = r
        .warnings
        .iter()
        .map(|w| json!({ "kind": warning_kind_name(w.kind), "value": w.value }))
        .collect();
    let mut out = json!({
        "request_id": hex_encode(&r.request_id.0),
        "verdict": verdict_name(r.verdict),
        "warnings": warnings,
        "latency_ms": r.latency_ms,
    });
    match r.decided_by {
        DecidedBy::Agent(agent) => {
            out["decided_by"] = json!("agent");
            out["agent_id"] = json!(agent.to_string());
        }
        DecidedBy::Lockout { until_ms } => {
            out["decided_by"] = json!("lockout");
            out["locked_until_ms"] = json!(until_ms);
        }
        DecidedBy::RepeatRejected => out["decided_by"] = json!("repeat_rejected"),
    }
    out
}

pub(crate) fn tenant(t: &Tenant) -> Value {
    json!({
        "id": t.id.to_string(),
        "name": t.name,
        "created_at_ms": t.created_at,
        "agent_limit": t.agent_limit,
    })
}

pub(crate) fn agent(v: &AgentView) -> Value {
    let r = &v.record;
    json!({
        "agent_id": r.id.to_string(),
        "tenant": r.tenant.to_string(),
        "status": r.status.code(),
        "software_version": r.software_version,
        "certificate_serial": hex_encode(&r.certificate_serial),
        "first_seen_ms": r.first_seen,
        "last_seen_ms": r.last_seen,
        "last_source": r.last_source.map(|ip| ip.to_string()),
        "connections": v.connections,
    })
}

pub(crate) fn audit_event(e: &AuditEvent) -> Value {
    json!({
        "time_ms": e.time,
        "tenant": e.tenant.map(|t| t.to_string()),
        "kind": e.kind.code(),
        "outcome": e.outcome.code(),
        "login": e.login,
        "agent_id": e.agent.map(|a| a.to_string()),
        "latency_ms": e.latency_ms,
        "source": e.source.map(|ip| ip.to_string()),
    })
}

fn class_status(c: &pta_lockout::ClassStatus) -> Value {
    json!({
        "failures": c.failures,
        "level": c.level,
        "locked_until_ms": c.locked_until,
    })
}

pub(crate) fn user_status(login: &str, s: &pta_lockout::UserStatus) -> Value {
    json!({
        "login": login,
        "familiar": class_status(&s.familiar),
        "unfamiliar": class_status(&s.unfamiliar),
        "familiar_locations": s.familiar_locations.len(),
        "remembered_bad_passwords": s.remembered_bad_passwords,
    })
}

/// Rejects a deserialized number that is zero (serde helper).
pub(crate) fn nonzero_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<u64>::deserialize(d)?;
    if v == Some(0) {
        return Err(D::Error::custom("must be above zero"));
    }
    Ok(v)
}
