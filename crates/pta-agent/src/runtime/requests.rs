//! A sign-in or password change: deadline and replay checks, the envelope opened with the
//! binding rebuilt from the request, the directory asked, the verdict MAC'ed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pta_directory::{DirectoryError, Password};
use pta_envelope::{Arrival, Envelope, OpenError, Opened, Reply};
use pta_wire::{
    AgentSession, ErrorCode, Operation, Outcome, RequestId, SignInRequest, SignInResponse, Verdict,
    Warning, WarningKind, envelope_binding, warnings_mac_input,
};
use tokio::sync::mpsc;

use super::replay::REPLAY_SLACK_MS;
use super::shared::Shared;
use super::{LOG, lock};

/// A response ready to send, with what the metrics need.
pub(super) struct Answer {
    op: Operation,
    response: SignInResponse,
    started: Instant,
}

impl Shared {
    /// Takes a request from the session (in arrival order): refuses it at once when its
    /// deadline passed or its id was seen, else processes it on its own task, which sends the
    /// answer to `tx`.
    pub(super) fn on_request(
        self: &Arc<Self>,
        s: &mut AgentSession,
        op: Operation,
        request: SignInRequest,
        local_deadline: u64,
        tx: &mpsc::UnboundedSender<Answer>,
    ) {
        let started = Instant::now();
        let now = self.now_ms();
        let id = request.request_id;
        let refuse = |code| Answer {
            op,
            response: error_response(id, code),
            started,
        };
        if now >= local_deadline {
            return self.send_answer(s, refuse(ErrorCode::DeadlinePassed));
        }
        if let Err(code) = lock(&self.replay).insert(id, now, local_deadline + REPLAY_SLACK_MS) {
            tracing::warn!(target: LOG, ?id, "replayed request id refused");
            return self.send_answer(s, refuse(code));
        }
        let Ok(envelope) = Envelope::decode(&request.envelope) else {
            return self.send_answer(s, refuse(ErrorCode::DecryptFailed));
        };
        // Here, in arrival order: a grant is sent before the envelopes that use its key.
        let arrival = self.keys.arrive(&envelope);
        let shared = self.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let response = shared
                .process(op, request, envelope, arrival, local_deadline)
                .await;
            let _ = tx.send(Answer {
                op,
                response,
                started,
            });
        });
    }

    /// Sends an answer on the session and counts it.
    pub(super) fn send_answer(&self, s: &mut AgentSession, answer: Answer) {
        let outcome = answer.response.outcome;
        let now = self.now_ms();
        let sent = match answer.op {
            Operation::SignIn => s.send_sign_in_response(now, answer.response),
            _ => s.send_password_change_response(now, answer.response),
        };
        match sent {
            Ok(()) => {
                self.metrics.record(outcome, answer.started.elapsed());
                tracing::debug!(target: LOG, ?outcome, "answered");
            }
            Err(e) => {
                tracing::debug!(target: LOG, error = %e, "answer not sent (request expired or session closed)")
            }
        }
    }

    async fn process(
        self: Arc<Self>,
        op: Operation,
        request: SignInRequest,
        envelope: Envelope,
        arrival: Arrival,
        local_deadline: u64,
    ) -> SignInResponse {
        let id = request.request_id;
        let opened = match self.clone().open(op, &request, envelope, arrival).await {
            Ok(o) => o,
            Err(code) => return error_response(id, code),
        };
        let remaining = Duration::from_millis(local_deadline.saturating_sub(self.now_ms()));
        let login = request.login.as_str();
        let result = match op {
            Operation::SignIn => {
                let Ok(text) = std::str::from_utf8(opened.secret.expose()) else {
                    return error_response(id, ErrorCode::InvalidRequest);
                };
                let password = Password::new(text);
                tokio::time::timeout(remaining, self.directory.authenticate(login, &password)).await
            }
            _ => {
                let Some((old, new)) = split_change_secret(opened.secret.expose()) else {
                    return error_response(id, ErrorCode::InvalidRequest);
                };
                tokio::time::timeout(remaining, self.directory.change_password(login, &old, &new))
                    .await
            }
        };
        let (verdict, warnings) = match result {
            Err(_) => return error_response(id, ErrorCode::Timeout),
            Ok(Err(DirectoryError::PasswordRejected(rule))) if op == Operation::PasswordChange => {
                tracing::info!(target: LOG, %rule, "new password rejected by the directory");
                (Verdict::NewPasswordRejected, Vec::new())
            }
            Ok(Err(e)) => {
                tracing::warn!(target: LOG, error = %e, "directory failure");
                return error_response(id, directory_error_code(&e));
            }
            Ok(Ok(outcome)) => {
                let Some(v) = map_verdict(outcome.verdict) else {
                    return error_response(id, ErrorCode::Internal);
                };
                let mut w = Vec::new();
                if let Some(secs) = outcome.warnings.seconds_until_expiry {
                    w.push(Warning {
                        kind: WarningKind::PasswordExpiresInDays,
                        value: u32::try_from(secs / 86_400).unwrap_or(u32::MAX),
                    });
                }
                (v, w)
            }
        };
        let mac = mac_reply(&opened, &id, verdict, &warnings);
        SignInResponse {
            request_id: id,
            outcome: Outcome::Verdict(verdict),
            warnings,
            mac,
        }
    }

    /// Opens the envelope with the agent's keys, the binding rebuilt from the request and the
    /// agent's own certificate. Only an RSA stanza (a grant, or an RSA-wrapped content key)
    /// costs enough to leave the runtime's threads; a session-key open takes microseconds and
    /// runs inline, without the blocking pool's thread hand-off (a third of the agent's CPU
    /// before). The ordering after grants being opened is the [`Arrival`]'s.
    async fn open(
        self: Arc<Self>,
        op: Operation,
        request: &SignInRequest,
        envelope: Envelope,
        arrival: Arrival,
    ) -> Result<Opened, ErrorCode> {
        let id = request.request_id;
        let tenant = lock(&self.facts).identity.tenant.clone();
        let login = request.login.clone();
        let deadline = request.deadline_unix_ms;
        let bound =
            move |key_id: &[u8; 32]| envelope_binding(op, &id, &tenant, &login, key_id, deadline);
        let opened = if arrival.needs_rsa() {
            let shared = self.clone();
            tokio::task::spawn_blocking(move || {
                arrival.open(|| shared.keys.open(shared.now_ms(), &envelope, bound))
            })
            .await
            .map_err(|_| ErrorCode::Internal)?
        } else {
            arrival
                .open_after_grants(|| self.keys.open(self.now_ms(), &envelope, &bound))
                .await
        };
        opened.map_err(|e| match e {
            OpenError::UnknownSessionKey(_) => ErrorCode::UnknownSessionKey,
            _ => ErrorCode::DecryptFailed,
        })
    }
}

fn mac_reply(opened: &Opened, id: &RequestId, verdict: Verdict, warnings: &[Warning]) -> Vec<u8> {
    let w = warnings_mac_input(warnings);
    opened
        .reply_key
        .mac(&Reply {
            request_id: &id.0,
            verdict: verdict.code(),
            warnings: &w,
        })
        .0
        .to_vec()
}

fn error_response(id: RequestId, code: ErrorCode) -> SignInResponse {
    SignInResponse {
        request_id: id,
        outcome: Outcome::Error(code),
        warnings: Vec::new(),
        mac: Vec::new(),
    }
}

/// The password-change secret (PROTOCOL.md section 5.5): `u32be(len(old)) || old || new`,
/// both UTF-8.
fn split_change_secret(secret: &[u8]) -> Option<(Password, Password)> {
    let (len, rest) = secret.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if len > rest.len() {
        return None;
    }
    let (old, new) = rest.split_at(len);
    Some((
        Password::new(std::str::from_utf8(old).ok()?),
        Password::new(std::str::from_utf8(new).ok()?),
    ))
}

fn map_verdict(v: pta_directory::Verdict) -> Option<Verdict> {
    use pta_directory::Verdict as D;
    Some(match v {
        D::Success => Verdict::Success,
        D::InvalidCredentials => Verdict::InvalidCredentials,
        D::AccountLocked => Verdict::AccountLocked,
        D::PasswordExpired => Verdict::PasswordExpired,
        D::MustChangePassword => Verdict::MustChangePassword,
        D::AccountDisabled => Verdict::AccountDisabled,
        D::AccountExpired => Verdict::AccountExpired,
        D::LogonHoursRestricted => Verdict::LogonHoursRestricted,
        D::WorkstationRestricted => Verdict::WorkstationRestricted,
        _ => return None,
    })
}

fn directory_error_code(e: &DirectoryError) -> ErrorCode {
    match e {
        DirectoryError::Unavailable { .. } | DirectoryError::Protocol { .. } => {
            ErrorCode::DirectoryUnavailable
        }
        DirectoryError::Timeout => ErrorCode::Timeout,
        DirectoryError::Misconfigured(_) | DirectoryError::Ambiguous { .. } => {
            ErrorCode::Misconfigured
        }
        DirectoryError::NotSupported => ErrorCode::Unsupported,
        _ => ErrorCode::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_secret_layout() {
        let mut s = 3u32.to_be_bytes().to_vec();
        s.extend_from_slice(b"oldnew-pass");
        let (old, new) = split_change_secret(&s).unwrap();
        assert_eq!((old.expose(), new.expose()), ("old", "new-pass"));
        assert!(split_change_secret(&[0, 0, 0, 9, b'a']).is_none());
        assert!(split_change_secret(&[0, 0]).is_none());
    }

    #[test]
    fn directory_errors_map_to_codes() {
        assert_eq!(
            directory_error_code(&DirectoryError::Unavailable { tried: 1 }),
            ErrorCode::DirectoryUnavailable
        );
        assert_eq!(
            directory_error_code(&DirectoryError::Timeout),
            ErrorCode::Timeout
        );
        assert_eq!(
            directory_error_code(&DirectoryError::Misconfigured(
                pta_directory::Misconfiguration::ServiceAccountRejected
            )),
            ErrorCode::Misconfigured
        );
    }
}
