//! The API listener's handlers: sign-in, admin, CRL, metrics, health.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::Api;
use super::ApiOptions;
use super::json::{self as shapes, BodyError, SecretField, parse, parse_or_empty, read_body};
use super::reply::ApiError;
use pta_service::{AgentId, AuditQuery, ClientContext, Tenant};

/// Largest `limit` of an audit query.
const MAX_AUDIT_LIMIT: u32 = 1_000;
/// `limit` of an audit query that gives none.
const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Longest location key, bytes.
const MAX_LOCATION_LEN: usize = 256;

pub(crate) struct ApiState {
    pub(crate) api: Arc<dyn Api>,
    pub(crate) options: ApiOptions,
}

type Reply = Result<Response, ApiError>;

impl ApiState {
    fn admin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.options.auth.is_admin(headers) {
            Ok(())
        } else {
            Err(ApiError::unauthorized())
        }
    }

    fn front_end(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if self.options.auth.is_front_end(headers) {
            Ok(())
        } else {
            Err(ApiError::unauthorized())
        }
    }

    async fn body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ApiError> {
        if !super::json::is_json_or_absent(headers) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "the body must be application/json",
            ));
        }
        match read_body(headers, body, self.options.body_limit).await {
            Ok(bytes) => Ok(bytes),
            Err(BodyError::TooLarge) => Err(ApiError::too_large(self.options.body_limit)),
            Err(BodyError::TimedOut) => Err(ApiError::body_timeout()),
            Err(BodyError::Unreadable) => {
                Err(ApiError::invalid_request("the body could not be read"))
            }
        }
    }

    /// A tenant named by its id or its name.
    async fn tenant(&self, key: &str) -> Result<Tenant, ApiError> {
        match super::api::find_tenant(self.api.as_ref(), key).await {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(ApiError::unknown_tenant()),
            Err(e) => Err(ApiError::from_service(&e)),
        }
    }
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|_| ApiError::invalid_request("malformed path parameter"))
}

fn ok(value: serde_json::Value) -> Reply {
    Ok((StatusCode::OK, Json(value)).into_response())
}

// ----- sign-in -----

#[derive(Deserialize)]
struct SignInBody {
    login: String,
    password: SecretField,
    client_ip: String,
    #[serde(default)]
    location: Option<String>,
}

pub(crate) async fn sign_in(
    State(state): State<Arc<ApiState>>,
    tenant: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    state.front_end(&headers)?;
    let tenant = path(tenant)?;
    let bytes = state.body(&headers, body).await?;
    let request: SignInBody = parse(&bytes)
        .map_err(|m| ApiError::invalid_request("invalid JSON body").with_message(m))?;
    drop(bytes);
    let source: IpAddr = request
        .client_ip
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid_request("client_ip is not an IP address"))?;
    let mut context = ClientContext::new(source);
    if let Some(location) = request.location {
        if location.is_empty() || location.len() > MAX_LOCATION_LEN {
            return Err(ApiError::invalid_request("location must be 1 to 256 bytes"));
        }
        context.location = Some(location);
    }
    let tenant = match state.api.sign_in_tenant(&tenant).await {
        Ok(Some(id)) => id,
        Ok(None) => return Err(ApiError::unknown_tenant()),
        Err(e) => return Err(ApiError::from_service(&e)),
    };
    let password = request.password.into_password();
    match state
        .api
        .sign_in(&tenant, &request.login, password, context)
        .await
    {
        Ok(result) => ok(shapes::sign_in_result(&result)),
        Err(e) => Err(ApiError::from_sign_in(&e, state.options.clock.unix_ms())),
    }
}

// ----- tenants -----

#[derive(Deserialize)]
struct CreateTenantBody {
    name: String,
}

pub(crate) async fn create_tenant(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    state.admin(&headers)?;
    let bytes = state.body(&headers, body).await?;
    let request: CreateTenantBody = parse(&bytes)
        .map_err(|m| ApiError::invalid_request("invalid JSON body").with_message(m))?;
    let name = request.name.trim();
    if !super::is_valid_tenant_name(name) {
        return Err(ApiError::invalid_request(
            "name must be 1 to 128 bytes without control characters, and not a tenant id",
        ));
    }
    let mut tenant = state
        .api
        .create_tenant(name)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    if let Some(limit) = state.options.agent_limit
        && limit != tenant.agent_limit
    {
        state
            .api
            .set_agent_limit(&tenant.id, limit)
            .await
            .map_err(|e| ApiError::from_service(&e))?;
        tenant.agent_limit = limit;
    }
    tracing::info!(tenant = %tenant.id, name = %tenant.name, "tenant created");
    Ok((StatusCode::CREATED, Json(shapes::tenant(&tenant))).into_response())
}

pub(crate) async fn tenants(State(state): State<Arc<ApiState>>, headers: HeaderMap) -> Reply {
    state.admin(&headers)?;
    let tenants = state
        .api
        .tenants()
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    let list: Vec<_> = tenants.iter().map(shapes::tenant).collect();
    ok(json!({ "tenants": list }))
}

// ----- tokens -----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateTokenBody {
    #[serde(default, deserialize_with = "shapes::nonzero_u64")]
    lifetime_secs: Option<u64>,
}

pub(crate) async fn create_token(
    State(state): State<Arc<ApiState>>,
    tenant: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    state.admin(&headers)?;
    let tenant = path(tenant)?;
    let bytes = state.body(&headers, body).await?;
    let request: CreateTokenBody = parse_or_empty(&bytes)?;
    let lifetime_ms = match request.lifetime_secs {
        Some(secs) if secs > super::MAX_TOKEN_LIFETIME.as_secs() => {
            return Err(ApiError::invalid_request(
                "lifetime_secs is longer than 7 days",
            ));
        }
        Some(secs) => Some(secs * 1_000),
        None => state
            .options
            .token_lifetime
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    };
    let tenant = state.tenant(&tenant).await?;
    let created = state
        .api
        .create_token(&tenant.id, lifetime_ms)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    tracing::info!(tenant = %tenant.id, expires_at_ms = created.expires_at_ms, "registration token created");
    let body = json!({
        "token": created.printed.as_str(),
        "tenant": tenant.id.to_string(),
        "expires_at_ms": created.expires_at_ms,
    });
    let mut response = (StatusCode::OK, Json(body)).into_response();
    // The token is a secret: no cache may keep it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

// ----- agents -----

pub(crate) async fn agents(
    State(state): State<Arc<ApiState>>,
    tenant: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let tenant = state.tenant(&path(tenant)?).await?;
    let agents = state
        .api
        .agents(&tenant.id)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    let list: Vec<_> = agents.iter().map(shapes::agent).collect();
    ok(json!({ "tenant": tenant.id.to_string(), "agents": list }))
}

pub(crate) async fn revoke_agent(
    State(state): State<Arc<ApiState>>,
    agent: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let agent: AgentId = path(agent)?
        .parse()
        .map_err(|_| ApiError::invalid_request("malformed agent id"))?;
    let revoked = state
        .api
        .revoke_agent(&agent)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    tracing::info!(%agent, newly = revoked, "agent revoked");
    ok(json!({
        "agent_id": agent.to_string(),
        "revoked": true,
        "already_revoked": !revoked,
    }))
}

// ----- lockout -----

pub(crate) async fn lockout_status(
    State(state): State<Arc<ApiState>>,
    params: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let (tenant, login) = path(params)?;
    let tenant = state.tenant(&tenant).await?;
    let status = state
        .api
        .lockout_status(&tenant.id, &login)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    ok(shapes::user_status(&login, &status))
}

pub(crate) async fn unlock_user(
    State(state): State<Arc<ApiState>>,
    params: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let (tenant, login) = path(params)?;
    let tenant = state.tenant(&tenant).await?;
    let unlocked = state
        .api
        .unlock_user(&tenant.id, &login)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    ok(json!({ "login": login, "unlocked": unlocked }))
}

pub(crate) async fn unblock_source(
    State(state): State<Arc<ApiState>>,
    ip: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let ip: IpAddr = path(ip)?
        .parse()
        .map_err(|_| ApiError::invalid_request("malformed IP address"))?;
    let unblocked = state
        .api
        .unblock_source(ip)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    ok(json!({ "source": ip.to_string(), "unblocked": unblocked }))
}

// ----- audit -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    from: Option<u64>,
    until: Option<u64>,
    limit: Option<u32>,
}

pub(crate) async fn audit(
    State(state): State<Arc<ApiState>>,
    tenant: Result<Path<String>, PathRejection>,
    params: Result<Query<AuditParams>, QueryRejection>,
    headers: HeaderMap,
) -> Reply {
    state.admin(&headers)?;
    let tenant = path(tenant)?;
    let Query(params) = params.map_err(|_| {
        ApiError::invalid_request("query parameters are from, until (Unix ms) and limit")
    })?;
    let from = params.from.unwrap_or(0);
    let until = params.until.unwrap_or(i64::MAX as u64);
    let limit = params.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if from > until || limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(ApiError::invalid_request(
            "need from <= until and 1 <= limit <= 1000",
        ));
    }
    let tenant = state.tenant(&tenant).await?;
    let events = state
        .api
        .audit(&AuditQuery::new(tenant.id, from, until, limit))
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    let list: Vec<_> = events.iter().map(shapes::audit_event).collect();
    ok(json!({ "tenant": tenant.id.to_string(), "events": list }))
}

// ----- unauthenticated -----

pub(crate) async fn crl(
    State(state): State<Arc<ApiState>>,
    tenant: Result<Path<String>, PathRejection>,
) -> Reply {
    let tenant = state.tenant(&path(tenant)?).await?;
    let der = state
        .api
        .crl_der(&tenant.id)
        .await
        .map_err(|e| ApiError::from_service(&e))?;
    let mut response = (StatusCode::OK, der).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pkix-crl"),
    );
    Ok(response)
}

pub(crate) async fn metrics(State(state): State<Arc<ApiState>>) -> Response {
    let mut response = (StatusCode::OK, state.api.metrics_text()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

pub(crate) async fn healthz(State(state): State<Arc<ApiState>>) -> Reply {
    let health = state
        .api
        .health()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    ok(json!({
        "status": "ok",
        "tenants": health.tenants,
        "agents": health.agents,
        "agents_connected": health.agents_connected,
    }))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
