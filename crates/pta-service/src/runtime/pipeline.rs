//! The sign-in pipeline: validate, lockout, pick, seal, send, verify, record, audit.

use std::net::IpAddr;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use pta_envelope::{MAX_SECRET, Reply, Sealed};
use pta_lockout::{Decision, Location, Source};
use pta_wire::{
    ErrorCode, Operation, Outcome, RequestId, SignInRequest, Verdict, envelope_binding,
    warnings_mac_input,
};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{AgentId, AuditError, AuditEvent, AuditKind, AuditOutcome, TenantId};

use super::registry::{Command, ConnReply, Lease};
use super::service::Inner;
use super::{ClientContext, DecidedBy, Password, SignInError, SignInResult};

/// Longest login accepted, bytes (the wire's bound).
const MAX_LOGIN: usize = pta_wire::MAX_LOGIN;

/// Extra wait past the deadline for the session's own timeout event.
const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// The lockout location of a sign-in: the front end's key, hashed, or the source address.
fn location(context: &ClientContext) -> Location {
    match &context.location {
        Some(key) => {
            let digest = Sha256::digest(key.as_bytes());
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&digest[..8]);
            // 0 is Location::UNKNOWN; a key always names a location.
            Location::from_raw(u64::from_be_bytes(raw).max(1))
        }
        None => Location::from_ip(context.source),
    }
}

/// The verdict as audited: a sign-in verdict the service knows; `None` for a verdict of
/// another operation or of a newer agent (audited as an internal error).
fn audit_verdict(v: Verdict) -> Option<Verdict> {
    match v {
        Verdict::NewPasswordRejected | Verdict::Unknown(_) => None,
        known => Some(known),
    }
}

/// What lockout learns from a verdict: only a wrong password counts; verdicts that prove the
/// password right reset.
fn lockout_outcome(v: Verdict) -> pta_lockout::Outcome {
    match v {
        Verdict::Success | Verdict::PasswordExpired | Verdict::MustChangePassword => {
            pta_lockout::Outcome::Success
        }
        Verdict::InvalidCredentials => pta_lockout::Outcome::InvalidCredentials,
        _ => pta_lockout::Outcome::Failure,
    }
}

fn error_label(e: &SignInError) -> &'static str {
    match e {
        SignInError::UnknownTenant => "unknown_tenant",
        SignInError::InvalidRequest(_) => "invalid_request",
        SignInError::SourceBlocked { .. } => "source_blocked",
        SignInError::NoAgentAvailable => "no_agent",
        SignInError::Timeout => "timeout",
        SignInError::Agent(_) => "agent_error",
        SignInError::BadReply => "bad_reply",
        SignInError::LockoutUnavailable => "lockout_unavailable",
        SignInError::Internal => "internal",
    }
}

fn audit_error(e: &SignInError) -> AuditError {
    match e {
        SignInError::SourceBlocked { .. } => AuditError::SourceBlocked,
        SignInError::NoAgentAvailable => AuditError::NoAgent,
        SignInError::Timeout => AuditError::Timeout,
        SignInError::Agent(ErrorCode::DecryptFailed) => AuditError::AgentDecryptFailed,
        SignInError::Agent(ErrorCode::Misconfigured) => AuditError::Misconfigured,
        SignInError::Agent(ErrorCode::DirectoryUnavailable | ErrorCode::Timeout) => {
            AuditError::DirectoryUnavailable
        }
        SignInError::InvalidRequest(_) => AuditError::BadRequest,
        SignInError::LockoutUnavailable => AuditError::LockoutUnavailable,
        _ => AuditError::Internal,
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    audit_verdict(v)
        .and_then(Verdict::name)
        .unwrap_or("unknown")
}

fn random_request_id() -> Result<RequestId, SignInError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|_| SignInError::Internal)?;
    Ok(RequestId(id))
}

/// How one dispatch ended.
enum Dispatched {
    /// A verdict with a verified MAC.
    Verdict {
        request_id: RequestId,
        verdict: Verdict,
        warnings: Vec<pta_wire::Warning>,
    },
    /// The connection went away before a verdict: retry once elsewhere.
    Lost,
}

/// How a sign-in was decided, before it is counted, audited and logged.
struct Decided {
    request_id: RequestId,
    verdict: Verdict,
    warnings: Vec<pta_wire::Warning>,
    decided_by: DecidedBy,
}

impl Decided {
    /// A verdict of the cloud (lockout or a rejected repeat), with no agent asked.
    fn by_cloud(verdict: Verdict, decided_by: DecidedBy) -> Result<Self, SignInError> {
        Ok(Self {
            request_id: random_request_id()?,
            verdict,
            warnings: Vec::new(),
            decided_by,
        })
    }
}

/// One sign-in in flight, for the audit record.
struct Audited<'a> {
    tenant: TenantId,
    login: &'a str,
    source: IpAddr,
    agent: Option<AgentId>,
}

impl Inner {
    pub(crate) async fn sign_in(
        &self,
        tenant: &TenantId,
        login: &str,
        password: Password,
        context: ClientContext,
    ) -> Result<SignInResult, SignInError> {
        let started = Instant::now();
        let mut audited = Audited {
            tenant: *tenant,
            login,
            source: context.source,
            agent: None,
        };
        let result = self
            .sign_in_inner(tenant, login, &password, &context, &mut audited)
            .await;
        let latency = started.elapsed();
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.metrics
            .sign_in_duration(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        let (outcome, result) = match result {
            Ok(Decided {
                request_id,
                verdict,
                warnings,
                decided_by,
            }) => {
                let outcome = match decided_by {
                    DecidedBy::Agent(_) => audit_verdict(verdict).map_or(
                        AuditOutcome::Error(AuditError::Internal),
                        AuditOutcome::Verdict,
                    ),
                    DecidedBy::Lockout { .. } => AuditOutcome::Error(AuditError::LockedOut),
                    DecidedBy::RepeatRejected => AuditOutcome::Error(AuditError::RepeatRejected),
                };
                let label = match decided_by {
                    DecidedBy::Agent(_) => verdict_label(verdict),
                    DecidedBy::Lockout { .. } => "locked_out",
                    DecidedBy::RepeatRejected => "repeat_rejected",
                };
                self.metrics.sign_in(label);
                (
                    outcome,
                    Ok(SignInResult {
                        request_id,
                        verdict,
                        warnings,
                        decided_by,
                        latency_ms,
                    }),
                )
            }
            Err(e) => {
                self.metrics.sign_in_error(error_label(&e));
                (AuditOutcome::Error(audit_error(&e)), Err(e))
            }
        };
        if !matches!(result, Err(SignInError::UnknownTenant)) {
            let mut event = AuditEvent::new(self.now(), AuditKind::SignIn, outcome)
                .with_tenant(audited.tenant)
                .with_login(audited.login)
                .with_latency_ms(latency_ms)
                .with_source(audited.source);
            if let Some(agent) = audited.agent {
                event = event.with_agent(agent);
            }
            self.audit(event);
        }
        match &result {
            Ok(r) => tracing::info!(
                tenant = %tenant,
                request = ?r.request_id,
                verdict = ?r.verdict,
                agent = ?audited.agent.map(|a| a.to_string()),
                latency_ms,
                "sign-in"
            ),
            Err(e) => tracing::info!(
                tenant = %tenant,
                agent = ?audited.agent.map(|a| a.to_string()),
                error = %e,
                latency_ms,
                "sign-in failed"
            ),
        }
        result
    }

    async fn sign_in_inner(
        &self,
        tenant: &TenantId,
        login: &str,
        password: &Password,
        context: &ClientContext,
        audited: &mut Audited<'_>,
    ) -> Result<Decided, SignInError> {
        if login.is_empty() || login.len() > MAX_LOGIN {
            return Err(SignInError::InvalidRequest("login must be 1 to 512 bytes"));
        }
        if password.expose().len() > MAX_SECRET {
            return Err(SignInError::InvalidRequest("password too long"));
        }
        if !self.registry.knows_tenant(tenant) {
            return Err(SignInError::UnknownTenant);
        }
        let attempt = self.lockout.attempt(
            self.user_key_unchecked(tenant, login),
            Source::from_ip(context.source),
            location(context),
            password.expose(),
        );
        let now = self.now();
        let lockout_store = self.lockout.store_of(&self.registry, tenant);
        // A lockout store that cannot answer refuses the sign-in: nothing is answered from
        // stale state and nothing is counted.
        let decision = self
            .lockout
            .check(lockout_store.as_ref(), now, &attempt)
            .await
            .map_err(|_| SignInError::LockoutUnavailable)?;
        match decision {
            Decision::Allow => {}
            Decision::Locked { until } => {
                return Decided::by_cloud(
                    Verdict::AccountLocked,
                    DecidedBy::Lockout { until_ms: until },
                );
            }
            Decision::RepeatRejected => {
                return Decided::by_cloud(Verdict::InvalidCredentials, DecidedBy::RepeatRejected);
            }
            Decision::SourceBlocked { until } => {
                return Err(SignInError::SourceBlocked { until_ms: until });
            }
            _ => return Err(SignInError::Internal),
        }

        let deadline_unix_ms = now.saturating_add(
            u64::try_from(self.options.sign_in_deadline.as_millis()).unwrap_or(u64::MAX),
        );
        // When every live agent is at its in-flight cap, wait for a slot for at most half the
        // deadline, leaving the agent the other half.
        let wait_until = tokio::time::Instant::now() + self.options.sign_in_deadline / 2;
        let mut lost: Option<Lease> = None;
        for _attempt in 0..2 {
            let lease = self
                .registry
                .dispatcher
                .pick_within(tenant, lost.as_ref().map(|l| l.0.as_ref()), wait_until)
                .await
                .ok_or(SignInError::NoAgentAvailable)?;
            audited.agent = Some(lease.0.agent);
            match self
                .dispatch(&lease, tenant, login, password, deadline_unix_ms)
                .await?
            {
                Dispatched::Verdict {
                    request_id,
                    verdict,
                    warnings,
                } => {
                    // A verdict whose outcome cannot be recorded is not given out: a wrong
                    // password answered while uncounted would be a free guess.
                    self.lockout
                        .record(
                            lockout_store.as_ref(),
                            self.now(),
                            &attempt,
                            lockout_outcome(verdict),
                        )
                        .await
                        .map_err(|_| SignInError::LockoutUnavailable)?;
                    return Ok(Decided {
                        request_id,
                        verdict,
                        warnings,
                        decided_by: DecidedBy::Agent(lease.0.agent),
                    });
                }
                Dispatched::Lost => {
                    tracing::info!(agent = %lease.0.agent, "agent connection lost before a verdict; retrying elsewhere");
                    lost = Some(lease);
                }
            }
        }
        Err(SignInError::NoAgentAvailable)
    }

    /// Seals for the leased connection's agent, sends, waits, verifies. Resends once with the
    /// session-key grant when the agent lacks the session key.
    async fn dispatch(
        &self,
        lease: &Lease,
        tenant: &TenantId,
        login: &str,
        password: &Password,
        deadline_unix_ms: u64,
    ) -> Result<Dispatched, SignInError> {
        let conn = &lease.0;
        let tenant_text = tenant.to_string();
        let mut with_grant = false;
        loop {
            let request_id = random_request_id()?;
            let binding = envelope_binding(
                Operation::SignIn,
                &request_id,
                &tenant_text,
                login,
                &conn.key_id.0,
                deadline_unix_ms,
            );
            // Seal and queue under the sealer's lock, so that requests reach a connection in
            // the order they were sealed: the first envelope of an epoch (with the grant) is
            // never overtaken by one that needs the session key it carries.
            let (tx, rx) = oneshot::channel();
            let sealed: Sealed = {
                let mut sealer = self.sealer.lock().unwrap_or_else(PoisonError::into_inner);
                let now = self.mono();
                let sealed = if with_grant {
                    sealer.seal_with_grant(now, &conn.recipient, password.expose(), &binding)
                } else {
                    sealer.seal(now, &conn.recipient, password.expose(), &binding)
                }
                .map_err(|_| SignInError::Internal)?;
                let request = SignInRequest {
                    request_id,
                    deadline_unix_ms,
                    login: login.to_owned(),
                    envelope: sealed.envelope.to_bytes(),
                };
                if conn
                    .commands
                    .try_send(Command::SignIn { request, reply: tx })
                    .is_err()
                {
                    // Closed, or a backlog of commands: the connection cannot take it.
                    return Ok(Dispatched::Lost);
                }
                sealed
            };
            let wait =
                Duration::from_millis(deadline_unix_ms.saturating_sub(self.now())) + DEADLINE_GRACE;
            let reply = match tokio::time::timeout(wait, rx).await {
                Err(_) => return Err(SignInError::Timeout),
                Ok(Err(_)) => return Ok(Dispatched::Lost),
                Ok(Ok(reply)) => reply,
            };
            let code = match reply {
                ConnReply::TimedOut => return Err(SignInError::Timeout),
                ConnReply::Aborted => return Ok(Dispatched::Lost),
                ConnReply::PeerError(code) => code,
                ConnReply::Response(r) => match r.outcome {
                    Outcome::Error(code) => code,
                    Outcome::Verdict(verdict) => {
                        let w = warnings_mac_input(&r.warnings);
                        let reply = Reply {
                            request_id: &request_id.0,
                            verdict: verdict.code(),
                            warnings: &w,
                        };
                        if r.request_id != request_id
                            || sealed.reply_key.verify(&reply, &r.mac).is_err()
                        {
                            self.metrics
                                .bad_replies
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tracing::warn!(agent = %conn.agent, "agent reply failed authentication");
                            return Err(SignInError::BadReply);
                        }
                        if matches!(verdict, Verdict::Unknown(_) | Verdict::NewPasswordRejected) {
                            return Err(SignInError::Agent(ErrorCode::Unsupported));
                        }
                        return Ok(Dispatched::Verdict {
                            request_id,
                            verdict,
                            warnings: r.warnings,
                        });
                    }
                },
            };
            if code == ErrorCode::UnknownSessionKey && !with_grant {
                tracing::debug!(agent = %conn.agent, "agent lacks the session key; resending with the grant");
                with_grant = true;
                continue;
            }
            return Err(SignInError::Agent(code));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{audit_verdict, location, lockout_outcome};
    use crate::ClientContext;
    use pta_lockout::{Location, Outcome};
    use pta_wire::Verdict;

    #[test]
    fn location_keys_and_addresses() {
        let ip = "198.51.100.7"
            .parse()
            .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
        let mut ctx = ClientContext::new(ip);
        assert_eq!(location(&ctx), Location::from_ip(ip));
        ctx.location = Some("device-1".to_owned());
        let one = location(&ctx);
        assert_ne!(one, Location::UNKNOWN);
        assert_ne!(one, Location::from_ip(ip));
        assert_eq!(location(&ctx), one);
        ctx.location = Some("device-2".to_owned());
        assert_ne!(location(&ctx), one);
    }

    #[test]
    fn only_wrong_passwords_count_and_known_good_ones_reset() {
        assert_eq!(
            lockout_outcome(Verdict::InvalidCredentials),
            Outcome::InvalidCredentials
        );
        for v in [
            Verdict::Success,
            Verdict::PasswordExpired,
            Verdict::MustChangePassword,
        ] {
            assert_eq!(lockout_outcome(v), Outcome::Success, "{v:?}");
        }
        for v in [
            Verdict::AccountLocked,
            Verdict::AccountDisabled,
            Verdict::AccountExpired,
            Verdict::Unknown(99),
        ] {
            assert_eq!(lockout_outcome(v), Outcome::Failure, "{v:?}");
        }
        assert_eq!(
            audit_verdict(Verdict::WorkstationRestricted),
            Some(Verdict::WorkstationRestricted)
        );
        assert_eq!(audit_verdict(Verdict::Unknown(99)), None);
        assert_eq!(audit_verdict(Verdict::NewPasswordRejected), None);
    }
}
