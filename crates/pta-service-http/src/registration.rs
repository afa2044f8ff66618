//! `POST /v1/agents/register` (PROTOCOL.md section 13.3).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use serde_json::json;

use super::json::{BodyError, SecretField, is_json_or_absent, parse, read_body};
use super::rate::{RateLimit, RateLimiter};
use super::reply::ApiError;
use super::{Api, PeerAddr};

/// Largest registration body accepted (PROTOCOL.md section 13.3).
pub const REGISTRATION_BODY_LIMIT: usize = 64 * 1024;

/// Settings of the registration endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationOptions {
    /// Registrations per source address (default 10 per minute, burst 5).
    pub rate_limit: RateLimit,
}

impl RegistrationOptions {
    /// Options with this rate limit.
    pub fn new(rate_limit: RateLimit) -> Self {
        Self { rate_limit }
    }
}

pub(crate) struct RegistrationState {
    pub(crate) api: Arc<dyn Api>,
    pub(crate) limiter: RateLimiter,
}

#[derive(Deserialize)]
struct RegisterBody {
    token: SecretField,
    csr: String,
    software_version: String,
}

fn malformed(message: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message)
}

/// The source address of a request: the connection's peer as [`serve`](super::HttpServer)
/// recorded it, or axum's `ConnectInfo` when mounted elsewhere.
pub(crate) fn peer_ip(request: &Request) -> Option<IpAddr> {
    if let Some(PeerAddr(addr)) = request.extensions().get::<PeerAddr>() {
        return Some(addr.ip());
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub(crate) async fn register(
    State(state): State<Arc<RegistrationState>>,
    request: Request,
) -> Response {
    match try_register(&state, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn try_register(state: &RegistrationState, request: Request) -> Result<Response, ApiError> {
    let Some(source) = peer_ip(&request) else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unavailable",
            "the source address of the connection is unknown",
        ));
    };
    if let Err(wait) = state.limiter.check(source, Instant::now()) {
        tracing::info!(%source, "registration rate-limited");
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many registrations from this address",
        )
        .retry_after(wait));
    }
    let (parts, body) = request.into_parts();
    if !is_json_or_absent(&parts.headers) {
        return Err(malformed("the body must be application/json"));
    }
    let bytes = match read_body(&parts.headers, body, REGISTRATION_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return Err(malformed("the body is larger than 64 KiB")),
        Err(BodyError::Unreadable) => return Err(malformed("the body could not be read")),
        Err(BodyError::TimedOut) => return Err(ApiError::body_timeout()),
    };
    let body: RegisterBody =
        parse(&bytes).map_err(|m| malformed("invalid JSON body").with_message(m))?;
    drop(bytes);
    let result = state
        .api
        .register(&body.token.0, &body.csr, source, &body.software_version)
        .await;
    drop(body);
    let (registration, endpoints) = match result {
        Ok(ok) => ok,
        Err(e) => {
            let err = ApiError::from_registration(&e);
            tracing::info!(%source, code = err.code(), "registration refused");
            return Err(err);
        }
    };
    let chain: Vec<CertificateDer<'_>> = registration
        .certificate_chain_der
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let service_ca = state.api.service_ca_der();
    let pem = pta_cert::certificates_to_pem(&chain).and_then(|chain| {
        pta_cert::certificates_to_pem(&[CertificateDer::from(service_ca.as_slice())])
            .map(|ca| (chain, ca))
    });
    let (chain_pem, ca_pem) = match pem {
        Ok(pems) => pems,
        Err(e) => {
            tracing::warn!(error = %e, "could not encode the registration's certificates");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service cannot register now; retry later",
            ));
        }
    };
    tracing::info!(
        %source,
        agent = %registration.agent_id,
        tenant = %registration.tenant,
        "agent registered"
    );
    let body = json!({
        "agent_id": registration.agent_id.to_string(),
        "tenant": registration.tenant.to_string(),
        "certificate_chain": chain_pem,
        "service_ca": ca_pem,
        "agent_endpoints": endpoints,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}
