//! The service's HTTP layer: the registration endpoint and the API (sign-in, admin, CRL,
//! metrics, health), as axum routers over the [`Api`] trait, and [`HttpServer`] to serve them
//! over HTTPS (rustls) on a TCP listener.
//!
//! Two listeners, two routers:
//!
//! - [`registration_router`]: `POST /v1/agents/register` exactly as in PROTOCOL.md section
//!   13.3; body at most 64 KiB; rate-limited per source address (token bucket, 10 per minute,
//!   burst 5 by default: 429 `rate_limited` with `Retry-After`). Serve it over HTTPS with
//!   `Service::https_server_config()` (the agent pins the service CA).
//! - [`api_router`]: everything else.
//!
//! | method, path | auth | answer |
//! | --- | --- | --- |
//! | `POST /v1/tenants/{tenant}/sign-in` | API key | verdict JSON |
//! | `POST /v1/tenants` `{name}` | admin | 201 tenant |
//! | `GET /v1/tenants` | admin | `{tenants: [...]}` |
//! | `POST /v1/tenants/{tenant}/tokens` `{lifetime_secs?}` | admin | `{token, tenant, expires_at_ms}` |
//! | `GET /v1/tenants/{tenant}/agents` | admin | `{tenant, agents: [...]}` |
//! | `POST /v1/agents/{agent}/revoke` | admin | `{agent_id, revoked, already_revoked}` |
//! | `GET /v1/tenants/{tenant}/lockout/users/{login}` | admin | counters, lock ends |
//! | `POST /v1/tenants/{tenant}/lockout/users/{login}/unlock` | admin | `{login, unlocked}` |
//! | `POST /v1/lockout/sources/{ip}/unblock` | admin | `{source, unblocked}` |
//! | `GET /v1/tenants/{tenant}/audit?from=&until=&limit=` | admin | `{tenant, events: [...]}` |
//! | `GET /v1/tenants/{tenant}/crl` | none | DER, `application/pkix-crl` |
//! | `GET /metrics` | none | `text/plain; version=0.0.4` |
//! | `GET /healthz` | none | `{status: "ok", tenants, agents, agents_connected}` |
//!
//! `{tenant}` is a tenant id or a tenant name. Authentication is `Authorization: Bearer
//! <secret>`: the admin token for admin endpoints, a front-end API key for sign-in; both are
//! kept only as SHA-256 and compared in constant time ([`ApiAuth`]); a missing or wrong one
//! gets 401 with `WWW-Authenticate: Bearer`.
//!
//! Every error is JSON, `{"error": code, "message": text}`, with a status code that the
//! error code fixes (see `docs/SERVICE.md`); messages are fixed text and never echo the
//! request. Unknown paths get 404 `not_found`, a wrong method 405 `method_not_allowed`. The
//! password of a sign-in goes from the body straight into a [`Password`](pta_service::Password)
//! (the body buffer is wiped after parsing); no handler logs a body, a token, a key or a
//! password.
//!
//! [`Serving`] puts both listeners in front of a running [`Service`](pta_service::Service) and
//! stops them in order (listeners, then the service); the `pta-service` binary and `pta-demo`
//! serve through it.
//!
//! # What it does not do
//!
//! No service logic (that is `pta-service`: this crate calls [`Service`](pta_service::Service)'s
//! methods through [`Api`]), no configuration file (that is the `pta-service` binary's
//! package), no signal handling (the binaries use `pta-signal` and call
//! [`Serving::shutdown`]).
//!
//! ```no_run
//! # async fn demo(service: pta_service::Service) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use pta_service_http::{self as http, Api, ApiAuth, ApiOptions, HttpServer, RegistrationOptions};
//!
//! let api: Arc<dyn Api> = Arc::new(service.clone());
//! let auth = ApiAuth::new(Some(b"admin token from a file".as_slice()), [b"front-end key".as_slice()]);
//! let registration = HttpServer::bind(
//!     "127.0.0.1:8444".parse().unwrap(),
//!     Some(service.https_server_config()),
//!     http::registration_router(Arc::clone(&api), RegistrationOptions::default()),
//! )
//! .await?;
//! let api_server = HttpServer::bind(
//!     "127.0.0.1:8443".parse().unwrap(),
//!     Some(service.https_server_config()),
//!     http::api_router(api, ApiOptions::new(auth)),
//! )
//! .await?;
//! tokio::try_join!(
//!     registration.run(std::future::pending()),
//!     api_server.run(std::future::pending()),
//! )?;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod auth;
mod error;
mod json;
mod rate;
mod registration;
mod reply;
mod routes;
mod serve;
mod server;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use api::{Api, CreatedToken, Health};
pub use auth::ApiAuth;
pub use error::HttpError;
pub use rate::RateLimit;
pub use registration::{REGISTRATION_BODY_LIMIT, RegistrationOptions};
pub use serve::{DEFAULT_STOP_TIMEOUT, ServeOptions, Serving};
pub use server::{HttpServer, PeerAddr, ServerLimits};

use pta_service::{Clock, SystemClock};

/// Longest lifetime an admin may ask for a registration token.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Default largest request body on the API listener.
pub const API_BODY_LIMIT: usize = 64 * 1024;

/// Longest tenant name accepted by [`is_valid_tenant_name`], bytes.
pub const MAX_TENANT_NAME_LEN: usize = 128;

/// Whether `name` (already trimmed) is acceptable for a new tenant: 1 to
/// [`MAX_TENANT_NAME_LEN`] bytes, no control characters, no surrounding white space, and not
/// itself a tenant id (so that `{tenant}` in a path, an id or a name, is never ambiguous).
pub fn is_valid_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TENANT_NAME_LEN
        && name.trim() == name
        && !name.chars().any(char::is_control)
        && name.parse::<pta_service::TenantId>().is_err()
}

/// Settings of the API router.
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiOptions {
    /// Who may call it.
    pub auth: ApiAuth,
    /// Lifetime of registration tokens created without `lifetime_secs` (`None`: the service's
    /// default).
    pub token_lifetime: Option<Duration>,
    /// Agent limit set on tenants created through the API (`None`: the store's default).
    pub agent_limit: Option<u32>,
    /// Largest request body, bytes (default 64 KiB); larger ones get 413.
    pub body_limit: usize,
    /// The clock used to turn "blocked until" into `Retry-After`.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ApiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiOptions")
            .field("auth", &self.auth)
            .field("token_lifetime", &self.token_lifetime)
            .field("agent_limit", &self.agent_limit)
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl ApiOptions {
    /// The defaults, with `auth`.
    pub fn new(auth: ApiAuth) -> Self {
        Self {
            auth,
            token_lifetime: None,
            agent_limit: None,
            body_limit: API_BODY_LIMIT,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The registration listener's router: `POST /v1/agents/register` (PROTOCOL.md section 13.3).
pub fn registration_router(api: Arc<dyn Api>, options: RegistrationOptions) -> Router {
    let state = Arc::new(registration::RegistrationState {
        api,
        limiter: rate::RateLimiter::new(options.rate_limit),
    });
    Router::new()
        .route("/v1/agents/register", post(registration::register))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
}

/// The API listener's router (see the module docs for the endpoints).
pub fn api_router(api: Arc<dyn Api>, options: ApiOptions) -> Router {
    let state = Arc::new(routes::ApiState { api, options });
    Router::new()
        .route("/v1/tenants/{tenant}/sign-in", post(routes::sign_in))
        .route(
            "/v1/tenants",
            post(routes::create_tenant).get(routes::tenants),
        )
        .route("/v1/tenants/{tenant}/tokens", post(routes::create_token))
        .route("/v1/tenants/{tenant}/agents", get(routes::agents))
        .route("/v1/agents/{agent}/revoke", post(routes::revoke_agent))
        .route(
            "/v1/tenants/{tenant}/lockout/users/{login}",
            get(routes::lockout_status),
        )
        .route(
            "/v1/tenants/{tenant}/lockout/users/{login}/unlock",
            post(routes::unlock_user),
        )
        .route(
            "/v1/lockout/sources/{ip}/unblock",
            post(routes::unblock_source),
        )
        .route("/v1/tenants/{tenant}/audit", get(routes::audit))
        .route("/v1/tenants/{tenant}/crl", get(routes::crl))
        .route("/metrics", get(routes::metrics))
        .route("/healthz", get(routes::healthz))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
}
