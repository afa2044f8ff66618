//! JSON error answers and the mapping of the crate's errors onto them.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use pta_service::StoreError;
use pta_service::{ServiceError, SignInError, TokenError};

/// An error answer: a status and `{"error": code, "message": text}`. The message is fixed
/// text chosen here: it never echoes the request nor holds a secret.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    agent_error: Option<String>,
    challenge: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self {
            status,
            code,
            message: Cow::Borrowed(message),
            retry_after: None,
            agent_error: None,
            challenge: false,
        }
    }

    pub(crate) fn with_message(mut self, message: String) -> Self {
        self.message = Cow::Owned(message);
        self
    }

    pub(crate) fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub(crate) fn unauthorized() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer credentials",
        );
        e.challenge = true;
        e
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this endpoint",
        )
    }

    pub(crate) fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )
    }

    pub(crate) fn invalid_request(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub(crate) fn unknown_tenant() -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_tenant", "no such tenant")
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "request body too large",
        )
        .with_message(format!("request body larger than {limit} bytes"))
    }

    /// A failure of the service (storage, signing): logged with its cause (which holds no
    /// secret by the crate's rules), answered without it.
    pub(crate) fn internal(e: &ServiceError) -> Self {
        tracing::warn!(error = %e, cause = %causes(e), "request failed inside the service");
        match e {
            ServiceError::Store(StoreError::Backend(_)) | ServiceError::Lockout(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service cannot do this now; retry later",
            )
            .retry_after(Duration::from_secs(1)),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ),
        }
    }

    /// An admin endpoint's error.
    pub(crate) fn from_service(e: &ServiceError) -> Self {
        match e {
            ServiceError::Store(StoreError::UnknownTenant) => Self::unknown_tenant(),
            ServiceError::Store(StoreError::UnknownAgent) => {
                Self::new(StatusCode::NOT_FOUND, "unknown_agent", "no such agent")
            }
            ServiceError::Store(StoreError::TenantExists) => Self::new(
                StatusCode::CONFLICT,
                "tenant_exists",
                "a tenant with this name already exists",
            ),
            ServiceError::Store(StoreError::MalformedId) => Self::invalid_request("malformed id"),
            ServiceError::InvalidConfig { field } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", "invalid value")
                    .with_message(format!("invalid value: {field}"))
            }
            ServiceError::Store(StoreError::OutOfRange { field }) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "value out of range",
            )
            .with_message(format!("value out of range: {field}")),
            _ => Self::internal(e),
        }
    }

    /// The registration endpoint's error (PROTOCOL.md section 13.3).
    pub(crate) fn from_registration(e: &ServiceError) -> Self {
        use StatusCode as S;
        match e {
            ServiceError::InvalidSoftwareVersion => Self::new(
                S::BAD_REQUEST,
                "invalid_software_version",
                "software_version must be 1 to 64 printable ASCII characters",
            ),
            ServiceError::Store(StoreError::Token(TokenError::Malformed)) => Self::new(
                S::BAD_REQUEST,
                "malformed_token",
                "the token is not pta1.<token>.<ca-sha256>",
            ),
            ServiceError::Store(StoreError::Token(TokenError::Unknown)) => {
                Self::new(S::FORBIDDEN, "unknown_token", "no such registration token")
            }
            ServiceError::Store(StoreError::Token(TokenError::Expired)) => Self::new(
                S::FORBIDDEN,
                "token_expired",
                "the registration token has expired",
            ),
            ServiceError::Store(StoreError::Token(TokenError::AlreadyUsed)) => Self::new(
                S::FORBIDDEN,
                "token_used",
                "the registration token was already used",
            ),
            ServiceError::MalformedCsr => Self::new(
                S::BAD_REQUEST,
                "malformed_csr",
                "the certificate signing request does not parse",
            ),
            ServiceError::CsrSignatureInvalid => Self::new(
                S::BAD_REQUEST,
                "csr_signature_invalid",
                "the CSR signature does not verify",
            ),
            ServiceError::UnsupportedCsrAlgorithm => Self::new(
                S::BAD_REQUEST,
                "weak_key",
                "unsupported CSR signature algorithm",
            ),
            ServiceError::KeyPolicy(violation) => Self::new(
                S::BAD_REQUEST,
                "weak_key",
                "the key is outside the key policy",
            )
            .with_message(format!("the key is outside the key policy: {violation}")),
            ServiceError::Store(StoreError::AgentLimitReached { .. }) => Self::new(
                S::CONFLICT,
                "agent_limit_reached",
                "the tenant has as many agents as its limit",
            ),
            _ => {
                tracing::warn!(error = %e, cause = %causes(e), "registration failed inside the service");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service cannot register now; retry later",
                )
            }
        }
    }

    /// The sign-in endpoint's error.
    pub(crate) fn from_sign_in(e: &SignInError, now_ms: u64) -> Self {
        use StatusCode as S;
        match e {
            SignInError::UnknownTenant => Self::unknown_tenant(),
            SignInError::InvalidRequest(why) => Self::invalid_request(why),
            SignInError::SourceBlocked { until_ms } => {
                let secs = until_ms.saturating_sub(now_ms).div_ceil(1_000).max(1);
                Self::new(
                    S::TOO_MANY_REQUESTS,
                    "source_blocked",
                    "the source address is blocked for now",
                )
                .retry_after(Duration::from_secs(secs))
            }
            SignInError::NoAgentAvailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "no_agent_available",
                "no agent of the tenant is available",
            ),
            SignInError::Timeout => Self::new(
                S::GATEWAY_TIMEOUT,
                "timeout",
                "no verdict before the deadline",
            ),
            SignInError::Agent(code) => {
                let mut err = Self::new(
                    S::BAD_GATEWAY,
                    "agent_error",
                    "the agent could not reach a verdict",
                );
                err.agent_error = Some(super::json::error_code_name(*code));
                err
            }
            SignInError::BadReply => Self::new(
                S::BAD_GATEWAY,
                "bad_reply",
                "the agent's reply failed authentication",
            ),
            SignInError::LockoutUnavailable => Self::new(
                S::SERVICE_UNAVAILABLE,
                "lockout_unavailable",
                "the lockout store cannot be reached; retry later",
            )
            .retry_after(Duration::from_secs(1)),
            _ => {
                tracing::warn!(error = %e, "sign-in failed inside the service");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

/// The error's causes, `a: b` (empty if none), for logs only: the crate's errors hold no
/// secrets, and their causes (storage, certificate errors) neither.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut source = e.source();
    while let Some(cause) = source {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let Some(agent) = &self.agent_error {
            body["agent_error"] = json!(agent);
        }
        if let Some(wait) = self.retry_after {
            body["retry_after_secs"] = json!(wait.as_secs());
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        }
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
