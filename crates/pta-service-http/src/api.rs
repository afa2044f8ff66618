//! The seam between the HTTP layer and the service: the [`Api`] trait and its implementation
//! for [`Service`].

use std::net::IpAddr;

use async_trait::async_trait;
use zeroize::Zeroizing;

use pta_service::StoreError;
use pta_service::{
    AgentId, AgentStatus, AgentView, AuditEvent, AuditQuery, ClientContext, JoinToken, Password,
    Registration, Service, ServiceError, SignInError, SignInResult, Tenant, TenantId,
};

/// A registration token just created, for the admin who asked for it. Debug hides the token.
#[non_exhaustive]
pub struct CreatedToken {
    /// The printed join token `pta1.<token>.<service CA sha256>` (a secret: hand it to the
    /// agent's installer, never log it).
    pub printed: Zeroizing<String>,
    /// When the token expires, Unix milliseconds.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("printed", &"[redacted]")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

impl CreatedToken {
    /// A created token.
    pub fn new(printed: Zeroizing<String>, expires_at_ms: u64) -> Self {
        Self {
            printed,
            expires_at_ms,
        }
    }
}

/// What `GET /healthz` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// Tenants in the store.
    pub tenants: u64,
    /// Registered agents that are not revoked.
    pub agents: u64,
    /// Agents with at least one live connection now.
    pub agents_connected: u64,
}

impl Health {
    /// A health report.
    pub fn new(tenants: u64, agents: u64, agents_connected: u64) -> Self {
        Self {
            tenants,
            agents,
            agents_connected,
        }
    }
}

/// The tenant named by `key`: its id, else its name.
pub(crate) async fn find_tenant<A: Api + ?Sized>(
    api: &A,
    key: &str,
) -> Result<Option<Tenant>, ServiceError> {
    if let Ok(id) = key.parse::<TenantId>()
        && let Some(t) = api.tenant(&id).await?
    {
        return Ok(Some(t));
    }
    api.tenant_by_name(key).await
}

/// What the HTTP layer needs from a service: one method per endpoint, mirroring [`Service`].
///
/// The routers ([`api_router`](super::api_router), [`registration_router`](super::registration_router))
/// are built over an `Arc<dyn Api>`, so a vendor can mount the same HTTP API over its own
/// service, and tests can mount it over a fake.
///
/// # Contract
///
/// - Errors are typed ([`ServiceError`], [`SignInError`]); the HTTP layer maps them to status
///   codes and stable error codes and never shows their `Display` text for internal
///   failures. An implementation must not put a secret (password, token, key) into an error.
/// - [`sign_in`](Self::sign_in) receives the password already in a [`Password`]; it must not
///   copy it anywhere but into the envelope, nor log it.
/// - [`create_token`](Self::create_token) returns a secret: the HTTP layer returns it once to
///   the admin and logs nothing of it.
/// - Methods are called concurrently, from many tasks.
#[async_trait]
pub trait Api: Send + Sync {
    /// Checks a user's password (see [`Service::sign_in`]).
    async fn sign_in(
        &self,
        tenant: &TenantId,
        login: &str,
        password: Password,
        context: ClientContext,
    ) -> Result<SignInResult, SignInError>;

    /// Registers an agent with a printed join token and a PEM CSR (see
    /// [`Service::register`]); returns the registration and the agent endpoints.
    async fn register(
        &self,
        token: &str,
        csr_pem: &str,
        source: IpAddr,
        software_version: &str,
    ) -> Result<(Registration, Vec<String>), ServiceError>;

    /// The service CA certificate, DER (returned to registering agents).
    fn service_ca_der(&self) -> Vec<u8>;

    /// Creates a tenant with its issuing authority.
    async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError>;

    /// Every tenant, ordered by name.
    async fn tenants(&self) -> Result<Vec<Tenant>, ServiceError>;

    /// The tenant with this id.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, ServiceError>;

    /// The tenant with this name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, ServiceError>;

    /// The id of the tenant a sign-in names by `key`, its id or its name; `None` when there is
    /// no such tenant. Called on every sign-in: the default asks [`tenant`](Self::tenant) and
    /// [`tenant_by_name`](Self::tenant_by_name); [`Service`] answers from memory.
    async fn sign_in_tenant(&self, key: &str) -> Result<Option<TenantId>, ServiceError> {
        Ok(find_tenant(self, key).await?.map(|t| t.id))
    }

    /// Changes a tenant's agent limit.
    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), ServiceError>;

    /// Creates a one-time registration token for `tenant`, valid for `lifetime_ms` (the
    /// service's default when `None`).
    async fn create_token(
        &self,
        tenant: &TenantId,
        lifetime_ms: Option<u64>,
    ) -> Result<CreatedToken, ServiceError>;

    /// A tenant's agents with their live connections.
    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentView>, ServiceError>;

    /// Revokes an agent; `false` if it was already revoked.
    async fn revoke_agent(&self, agent: &AgentId) -> Result<bool, ServiceError>;

    /// The tenant's current CRL, DER.
    async fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError>;

    /// A user's smart-lockout state.
    async fn lockout_status(
        &self,
        tenant: &TenantId,
        login: &str,
    ) -> Result<pta_lockout::UserStatus, ServiceError>;

    /// Lifts a user's cloud lockout; `false` if there was nothing to lift.
    async fn unlock_user(&self, tenant: &TenantId, login: &str) -> Result<bool, ServiceError>;

    /// Lifts a source address's spray block; `false` if it was not blocked.
    async fn unblock_source(&self, source: IpAddr) -> Result<bool, ServiceError>;

    /// A tenant's audit events.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ServiceError>;

    /// The Prometheus text exposition of the service's metrics.
    fn metrics_text(&self) -> String;

    /// Counts for the health check.
    async fn health(&self) -> Result<Health, ServiceError>;
}

#[async_trait]
impl Api for Service {
    async fn sign_in(
        &self,
        tenant: &TenantId,
        login: &str,
        password: Password,
        context: ClientContext,
    ) -> Result<SignInResult, SignInError> {
        Service::sign_in(self, tenant, login, password, context).await
    }

    async fn register(
        &self,
        token: &str,
        csr_pem: &str,
        source: IpAddr,
        software_version: &str,
    ) -> Result<(Registration, Vec<String>), ServiceError> {
        Service::register(self, token, csr_pem, source, software_version).await
    }

    fn service_ca_der(&self) -> Vec<u8> {
        Service::service_ca_der(self)
    }

    async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError> {
        Service::create_tenant(self, name).await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, ServiceError> {
        self.store().tenants().await.map_err(Into::into)
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, ServiceError> {
        self.store().tenant(id).await.map_err(Into::into)
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, ServiceError> {
        self.store().tenant_by_name(name).await.map_err(Into::into)
    }

    async fn sign_in_tenant(&self, key: &str) -> Result<Option<TenantId>, ServiceError> {
        // Loaded tenants from memory; a tenant another process created since the last poll of
        // the store is looked up there (the sign-in then says it is not loaded yet).
        if let Some(id) = self.loaded_tenant(key) {
            return Ok(Some(id));
        }
        Ok(find_tenant(self, key).await?.map(|t| t.id))
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), ServiceError> {
        self.store()
            .set_agent_limit(tenant, limit)
            .await
            .map_err(Into::into)
    }

    async fn create_token(
        &self,
        tenant: &TenantId,
        lifetime_ms: Option<u64>,
    ) -> Result<CreatedToken, ServiceError> {
        let printed = Service::create_token(self, tenant, lifetime_ms).await?;
        // The expiry is what the store recorded for this token's hash.
        let hash = JoinToken::parse(&printed)?.token().hash();
        let record =
            self.store()
                .token(&hash)
                .await?
                .ok_or(ServiceError::Store(StoreError::Corrupt {
                    what: "created token",
                }))?;
        Ok(CreatedToken::new(printed, record.expires_at))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentView>, ServiceError> {
        Service::agents(self, tenant).await
    }

    async fn revoke_agent(&self, agent: &AgentId) -> Result<bool, ServiceError> {
        Service::revoke_agent(self, agent).await
    }

    async fn crl_der(&self, tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        Service::crl_der(self, tenant).await
    }

    async fn lockout_status(
        &self,
        tenant: &TenantId,
        login: &str,
    ) -> Result<pta_lockout::UserStatus, ServiceError> {
        Service::lockout_status(self, tenant, login).await
    }

    async fn unlock_user(&self, tenant: &TenantId, login: &str) -> Result<bool, ServiceError> {
        Service::unlock_user(self, tenant, login).await
    }

    async fn unblock_source(&self, source: IpAddr) -> Result<bool, ServiceError> {
        Service::unblock_source(self, source).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ServiceError> {
        self.store().audit_events(query).await.map_err(Into::into)
    }

    fn metrics_text(&self) -> String {
        Service::metrics_text(self)
    }

    async fn health(&self) -> Result<Health, ServiceError> {
        let tenants = self.store().tenants().await?;
        let mut health = Health::new(u64::try_from(tenants.len()).unwrap_or(u64::MAX), 0, 0);
        for tenant in &tenants {
            for view in Service::agents(self, &tenant.id).await? {
                if view.record.status != AgentStatus::Revoked {
                    health.agents += 1;
                }
                if view.connections > 0 {
                    health.agents_connected += 1;
                }
            }
        }
        Ok(health)
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::CreatedToken;

    #[test]
    fn created_token_debug_hides_the_token() {
        let token = CreatedToken::new(Zeroizing::new("pta1.SECRETSECRET.00".to_owned()), 5);
        let debug = format!("{token:?}");
        assert!(
            debug.contains("[redacted]") && debug.contains('5'),
            "{debug}"
        );
        assert!(!debug.contains("SECRET"), "{debug}");
    }
}
