//! A reference [`Api`] built only from the library's public parts (the [`Registrar`], the
//! [`Store`], pta-cert): it lets the registration tests run, over HTTPS and against the real
//! registration code, before the runtime lands. Endpoints that need the runtime's own types
//! (agents with connections, sign-in results, lockout, CRLs) answer errors here.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use pta_cert::{Authority, AuthorityConfig, Csr, KeyPair, KeySize, SanEntry};
use pta_service::http::{Api, CreatedToken, Health};
use pta_service::{
    AgentId, AgentView, AuditEvent, AuditQuery, CaFingerprint, ClientContext, Clock, CsrInput,
    DEFAULT_TOKEN_LIFETIME_MS, JoinToken, ManualClock, Password, Registrar, Registration,
    RegistrationToken, ServiceError, SignInError, SignInResult, Store, Tenant, TenantId,
    TokenRecord,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

pub(crate) struct ReferenceApi {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    registrar: Registrar,
    ca_der: Vec<u8>,
    tls: Arc<rustls::ServerConfig>,
}

fn unsupported() -> ServiceError {
    ServiceError::InvalidConfig {
        field: "not in the reference api",
    }
}

impl ReferenceApi {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<ManualClock>,
        registrar: Registrar,
    ) -> Self {
        let now = UNIX_EPOCH + Duration::from_millis(clock.unix_ms());
        let ca = Authority::create_root(
            AuthorityConfig::for_tenant("service"),
            KeyPair::generate(KeySize::Rsa2048).unwrap(),
            now,
        )
        .unwrap();
        let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let issued = ca
            .issue_server(
                &Csr::new(&key, "localhost").unwrap(),
                &[
                    SanEntry::Ip(IpAddr::from([127, 0, 0, 1])),
                    SanEntry::Dns("localhost".into()),
                ],
                now.max(SystemTime::now()),
            )
            .unwrap();
        let mut chain = issued.chain.clone();
        chain.push(ca.certificate_der().clone());
        let pkcs8 = key.to_pkcs8_der().unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            chain,
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec())),
        )
        .unwrap();
        Self {
            store,
            clock,
            registrar,
            ca_der: ca.certificate_der().to_vec(),
            tls: Arc::new(tls),
        }
    }

    pub(crate) fn tls(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.tls)
    }

    pub(crate) fn ca_der(&self) -> Vec<u8> {
        self.ca_der.clone()
    }

    pub(crate) fn endpoint(&self) -> String {
        "127.0.0.1:7443".to_owned()
    }
}

#[async_trait]
impl Api for ReferenceApi {
    async fn sign_in(
        &self,
        _tenant: &TenantId,
        _login: &str,
        _password: Password,
        _context: ClientContext,
    ) -> Result<SignInResult, SignInError> {
        Err(SignInError::NoAgentAvailable)
    }

    async fn register(
        &self,
        token: &str,
        csr_pem: &str,
        source: IpAddr,
        software_version: &str,
    ) -> Result<(Registration, Vec<String>), ServiceError> {
        let registration = self
            .registrar
            .register(
                self.store.as_ref(),
                token,
                CsrInput::Pem(csr_pem),
                source,
                software_version,
                self.clock.unix_ms(),
            )
            .await?;
        Ok((registration, vec![self.endpoint()]))
    }

    fn service_ca_der(&self) -> Vec<u8> {
        self.ca_der.clone()
    }

    async fn create_tenant(&self, name: &str) -> Result<Tenant, ServiceError> {
        self.registrar
            .create_tenant(self.store.as_ref(), name, self.clock.unix_ms())
            .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, ServiceError> {
        self.store.tenants().await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, ServiceError> {
        self.store.tenant(id).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, ServiceError> {
        self.store.tenant_by_name(name).await
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), ServiceError> {
        self.store.set_agent_limit(tenant, limit).await
    }

    async fn create_token(
        &self,
        tenant: &TenantId,
        lifetime_ms: Option<u64>,
    ) -> Result<CreatedToken, ServiceError> {
        let token = RegistrationToken::generate()?;
        let record = TokenRecord::new(
            &token,
            *tenant,
            self.clock.unix_ms(),
            lifetime_ms.unwrap_or(DEFAULT_TOKEN_LIFETIME_MS),
        );
        self.store.insert_token(&record).await?;
        let printed =
            JoinToken::new(token, CaFingerprint::of_certificate(&self.ca_der)).to_printed();
        Ok(CreatedToken::new(printed, record.expires_at))
    }

    async fn agents(&self, _tenant: &TenantId) -> Result<Vec<AgentView>, ServiceError> {
        Err(unsupported())
    }

    async fn revoke_agent(&self, _agent: &AgentId) -> Result<bool, ServiceError> {
        Err(unsupported())
    }

    async fn crl_der(&self, _tenant: &TenantId) -> Result<Vec<u8>, ServiceError> {
        Err(unsupported())
    }

    async fn lockout_status(
        &self,
        _tenant: &TenantId,
        _login: &str,
    ) -> Result<pta_lockout::UserStatus, ServiceError> {
        Err(unsupported())
    }

    async fn unlock_user(&self, _tenant: &TenantId, _login: &str) -> Result<bool, ServiceError> {
        Err(unsupported())
    }

    async fn unblock_source(&self, _source: IpAddr) -> Result<bool, ServiceError> {
        Err(unsupported())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, ServiceError> {
        self.store.audit_events(query).await
    }

    fn metrics_text(&self) -> String {
        String::new()
    }

    async fn health(&self) -> Result<Health, ServiceError> {
        let tenants = self.store.tenants().await?;
        let mut agents = 0;
        for tenant in &tenants {
            agents += u64::from(self.store.agent_count(&tenant.id).await?);
        }
        Ok(Health::new(tenants.len() as u64, agents, 0))
    }
}
