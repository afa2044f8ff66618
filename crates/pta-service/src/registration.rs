//! Tenant creation and agent registration: a registration token and a CSR in, an agent
//! certificate out.
//!
//! No HTTP, no sockets: the HTTPS endpoint hands [`Registrar::register`] what the agent sent
//! and answers with what comes back.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pta_cert::{AuthorityConfig, Csr, KeyPair, KeySize};
use rustls::pki_types::CertificateDer;

use crate::StoreError;
use crate::{
    AgentId, AgentRecord, AuditError, AuditEvent, AuditKind, AuditOutcome, Authority, CaKey,
    JoinToken, ServiceError, Store, Tenant, TenantId, TokenError, check_agent_limit,
};

/// Longest software version an agent may report, in bytes.
pub const MAX_SOFTWARE_VERSION_LEN: usize = 64;

/// The registration token as the agent sent it: the printed `pta1.…` form, or already parsed.
#[derive(Clone, Copy, Debug)]
pub enum PresentedToken<'a> {
    /// The printed form (see [`JoinToken`]); parsed by [`Registrar::register`].
    Printed(&'a str),
    /// An already parsed token.
    Parsed(&'a JoinToken),
}

impl<'a> From<&'a str> for PresentedToken<'a> {
    fn from(printed: &'a str) -> Self {
        Self::Printed(printed)
    }
}

impl<'a> From<&'a JoinToken> for PresentedToken<'a> {
    fn from(token: &'a JoinToken) -> Self {
        Self::Parsed(token)
    }
}

/// A PKCS#10 certificate signing request as the agent sent it.
#[derive(Clone, Copy, Debug)]
pub enum CsrInput<'a> {
    /// DER bytes.
    Der(&'a [u8]),
    /// PEM text (`CERTIFICATE REQUEST`).
    Pem(&'a str),
}

/// What a successful registration gives the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registration {
    /// The agent's new id, named in its certificate.
    pub agent_id: AgentId,
    /// The tenant the agent joined (the token's tenant).
    pub tenant: TenantId,
    /// The agent's certificate chain, DER: the agent certificate first, then the tenant's CA
    /// certificate. The agent presents it in TLS.
    pub certificate_chain_der: Vec<Vec<u8>>,
    /// The tenant's CA certificate, DER (also the last element of the chain).
    pub ca_certificate_der: Vec<u8>,
}

/// Creates tenants with their issuing authorities and registers agents: the library side of
/// the registration endpoint.
///
/// Every method takes the [`Store`] and `now` (Unix milliseconds); the registrar holds only
/// settings.
///
/// # Registration order
///
/// [`register`](Self::register) refuses everything it can **before** it spends the token, so a
/// refused registration leaves the token usable:
///
/// ```text
///  1. software version, token syntax, CSR syntax,       -> refused, token untouched
///     CSR signature and key policy
///  2. look the token up (unknown / expired / used)      -> refused, token untouched
///  3. the tenant's agent limit (check_agent_limit)      -> refused, token untouched
///  4. load the tenant's authority from the store        -> failed, token untouched
///  5. consume the token (Store::consume_token, atomic)  -> the one place a race is decided
///  6. issue the certificate, insert the agent record (the store checks the limit again),
///     append the audit event
/// ```
///
/// The certificate is issued **after** the token is consumed: of two registrations racing
/// for one token, the loser stops at step 5 with [`TokenError::AlreadyUsed`] and never signs
/// anything. If step 6 fails, the certificate just issued is dropped (it was never returned
/// nor recorded; no one holds it), and the token stays spent: a store cannot un-consume a
/// token. That happens only when the store fails, when the authority fails to sign, or when
/// another registration took the tenant's last free slot between steps 3 and 6; the
/// administrator then issues a new token.
///
/// Each registration, accepted or refused, appends one [`AuditKind::Registration`] event with
/// the source address (and the tenant and agent when known); never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Registrar {
    /// Size of the CA key [`create_tenant`](Self::create_tenant) generates: RSA-3072 by
    /// default (2048 for tests).
    pub ca_key_size: KeySize,
    /// Lifetime of the agent certificates it issues (180 days by default; never past the CA's
    /// own notAfter).
    pub agent_certificate_lifetime: Duration,
}

impl Default for Registrar {
    fn default() -> Self {
        Self {
            ca_key_size: KeySize::Rsa3072,
            agent_certificate_lifetime: AuthorityConfig::default().agent_lifetime,
        }
    }
}

impl Registrar {
    /// A registrar with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a tenant named `name` with a fresh self-signed issuing authority (a new
    /// [`ca_key_size`](Self::ca_key_size) key; the CA and its certificates name the tenant by
    /// its [`TenantId`]), and stores both: the CA certificate as DER, the key as PKCS#8 PEM.
    ///
    /// Key generation runs on a blocking thread (about a second for RSA-3072).
    ///
    /// # Errors
    ///
    /// [`StoreError::TenantExists`] (checked before the key is generated, and again by the
    /// store), [`ServiceError::Authority`], [`StoreError::OutOfRange`] for `now`, or the
    /// store's error.
    pub async fn create_tenant(
        &self,
        store: &dyn Store,
        name: &str,
        now: u64,
    ) -> Result<Tenant, ServiceError> {
        if store.tenant_by_name(name).await?.is_some() {
            return Err(ServiceError::Store(StoreError::TenantExists));
        }
        let tenant = Tenant::new(TenantId::random()?, name, now);
        let config = self.authority_config(&tenant.id);
        let when = system_time(now)?;
        let size = self.ca_key_size;
        let authority = tokio::task::spawn_blocking(move || {
            let key = KeyPair::generate(size)?;
            pta_cert::Authority::create_root(config, key, when)
        })
        .await
        .map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?
        .map_err(ServiceError::Authority)?;
        let key = authority
            .key()
            .to_pkcs8_pem()
            .map_err(ServiceError::Authority)?;
        let stored = Authority::new(
            authority.certificate_der().to_vec(),
            CaKey::new(key.expose().as_bytes().to_vec()),
        );
        store.create_tenant(&tenant, &stored).await?;
        Ok(tenant)
    }

    /// Registers an agent: checks the token and the CSR, spends the token, issues the agent's
    /// certificate with its tenant's authority, records the agent (active, first and last seen
    /// `now`, from `source`, running `software_version`) and audits it. See the type's docs for
    /// the order of the steps and what a refusal leaves behind.
    ///
    /// # Errors
    ///
    /// Refusals (answer the agent with the kind; the token is still usable unless noted):
    /// [`ServiceError::InvalidSoftwareVersion`], [`StoreError::Token`] (malformed, unknown,
    /// expired, already used), [`ServiceError::MalformedCsr`],
    /// [`ServiceError::CsrSignatureInvalid`], [`ServiceError::UnsupportedCsrAlgorithm`],
    /// [`ServiceError::KeyPolicy`], [`StoreError::AgentLimitReached`] (spent only if another
    /// registration took the last slot concurrently).
    ///
    /// Failures (answer "try again later"): [`ServiceError::Authority`],
    /// [`StoreError::UnknownTenant`] or [`StoreError::Corrupt`] (the token's tenant or
    /// authority is missing or damaged), [`ServiceError::Random`],
    /// [`StoreError::OutOfRange`], [`StoreError::Backend`].
    pub async fn register<'a>(
        &self,
        store: &dyn Store,
        token: impl Into<PresentedToken<'a>>,
        csr: CsrInput<'_>,
        source: IpAddr,
        software_version: &str,
        now: u64,
    ) -> Result<Registration, ServiceError> {
        let mut tenant = None;
        let result = self
            .try_register(
                store,
                token.into(),
                csr,
                source,
                software_version,
                now,
                &mut tenant,
            )
            .await;
        if let Err(e) = &result {
            let mut event = AuditEvent::new(
                now,
                AuditKind::Registration,
                AuditOutcome::Error(audit_error(e)),
            )
            .with_source(source);
            if let Some(t) = tenant {
                event = event.with_tenant(t);
            }
            // The refusal is what the caller must see; a store that cannot take the event has
            // most likely failed the registration itself.
            let _ = store.append_audit(&[event]).await;
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_register(
        &self,
        store: &dyn Store,
        token: PresentedToken<'_>,
        csr: CsrInput<'_>,
        source: IpAddr,
        software_version: &str,
        now: u64,
        tenant_seen: &mut Option<TenantId>,
    ) -> Result<Registration, ServiceError> {
        // 1. Everything that needs no store.
        check_software_version(software_version)?;
        let when = system_time(now)?;
        let parsed;
        let join = match token {
            PresentedToken::Printed(printed) => {
                parsed = JoinToken::parse(printed)?;
                &parsed
            }
            PresentedToken::Parsed(join) => join,
        };
        let hash = join.token().hash();
        let csr = match csr {
            CsrInput::Der(der) => Csr::from_der(der),
            CsrInput::Pem(pem) => Csr::from_pem(pem),
        }
        .map_err(request_error)?;
        let verified = csr.verify().map_err(request_error)?;
        let public_key = verified.public_key_der().map_err(ServiceError::Authority)?;

        // 2. The token, without spending it.
        let record = store.token(&hash).await?.ok_or(TokenError::Unknown)?;
        let tenant = record.tenant;
        *tenant_seen = Some(tenant);
        record.check(now)?;

        // 3. The agent limit, before the token is spent.
        check_agent_limit(store, &tenant).await?;

        // 4. The tenant's authority.
        let authority = self.load_authority(store, &tenant).await?;

        // 5. Spend the token: of concurrent registrations with it, exactly one gets past here.
        let consumed = store.consume_token(&hash, now).await?;
        if consumed.tenant != tenant {
            return Err(ServiceError::Store(StoreError::Corrupt {
                what: "registration token tenant",
            }));
        }

        // 6. Issue, record, audit.
        let agent_id = AgentId::random()?;
        let issued = authority
            .issue_agent_verified(&verified, &agent_id.to_string(), when)
            .map_err(ServiceError::Authority)?;
        let mut agent = AgentRecord::new(
            agent_id,
            tenant,
            issued.serial.as_bytes().to_vec(),
            public_key,
            now,
        );
        agent.software_version = software_version.to_owned();
        agent.last_source = Some(source);
        store.insert_agent(&agent).await?;
        let event = AuditEvent::new(now, AuditKind::Registration, AuditOutcome::Ok)
            .with_tenant(tenant)
            .with_agent(agent_id)
            .with_source(source);
        if let Err(e) = store.append_audit(&[event]).await {
            // No registration without its audit event: take the agent back out (best effort;
            // the error reported is the audit failure).
            let _ = store.delete_agent(&agent_id).await;
            return Err(e.into());
        }

        let ca_certificate_der = authority.certificate_der().to_vec();
        let mut certificate_chain_der: Vec<Vec<u8>> =
            issued.chain.iter().map(|c| c.to_vec()).collect();
        certificate_chain_der.extend(authority.chain().iter().map(|c| c.to_vec()));
        Ok(Registration {
            agent_id,
            tenant,
            certificate_chain_der,
            ca_certificate_der,
        })
    }

    /// The pta-cert settings of `tenant`'s authority.
    fn authority_config(&self, tenant: &TenantId) -> AuthorityConfig {
        let mut config = AuthorityConfig::for_tenant(&tenant.to_string());
        config.agent_lifetime = self.agent_certificate_lifetime;
        config
    }

    /// Rebuilds `tenant`'s authority from the store (certificate DER or PEM, key PKCS#8 PEM).
    pub(crate) async fn load_authority(
        &self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<pta_cert::Authority, ServiceError> {
        let stored = store
            .authority(tenant)
            .await?
            .ok_or(ServiceError::Store(StoreError::UnknownTenant))?;
        let chain = if stored.certificate.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(&stored.certificate).map_err(|_| {
                ServiceError::Store(StoreError::Corrupt {
                    what: "CA certificate",
                })
            })?;
            pta_cert::certificates_from_pem(text).map_err(ServiceError::Authority)?
        } else {
            vec![CertificateDer::from(stored.certificate.clone())]
        };
        let pem = std::str::from_utf8(stored.key.expose())
            .map_err(|_| ServiceError::Store(StoreError::Corrupt { what: "CA key" }))?;
        let key = KeyPair::from_pkcs8_pem(pem).map_err(ServiceError::Authority)?;
        pta_cert::Authority::from_parts(self.authority_config(tenant), key, chain)
            .map_err(ServiceError::Authority)
    }
}

/// Maps pta-cert's verdict on a CSR to the service's refusal kinds; anything else is the
/// authority's failure.
fn request_error(e: pta_cert::Error) -> ServiceError {
    match e {
        pta_cert::Error::MalformedCsr => ServiceError::MalformedCsr,
        pta_cert::Error::CsrSignatureInvalid => ServiceError::CsrSignatureInvalid,
        pta_cert::Error::UnsupportedSignatureAlgorithm => ServiceError::UnsupportedCsrAlgorithm,
        pta_cert::Error::KeyPolicy(v) => ServiceError::KeyPolicy(v),
        other => ServiceError::Authority(other),
    }
}

/// The audit code of a failed registration.
fn audit_error(e: &ServiceError) -> AuditError {
    match e {
        ServiceError::Store(StoreError::Token(kind)) => (*kind).into(),
        ServiceError::Store(StoreError::AgentLimitReached { .. }) => AuditError::AgentLimitReached,
        ServiceError::MalformedCsr
        | ServiceError::CsrSignatureInvalid
        | ServiceError::UnsupportedCsrAlgorithm
        | ServiceError::KeyPolicy(_)
        | ServiceError::InvalidSoftwareVersion => AuditError::BadRequest,
        _ => AuditError::Internal,
    }
}

fn check_software_version(version: &str) -> Result<(), ServiceError> {
    let ok = !version.is_empty()
        && version.len() <= MAX_SOFTWARE_VERSION_LEN
        && version.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(())
    } else {
        Err(ServiceError::InvalidSoftwareVersion)
    }
}

/// Unix milliseconds as a `SystemTime`, for pta-cert.
pub(crate) fn system_time(now: u64) -> Result<SystemTime, ServiceError> {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(now))
        .ok_or(ServiceError::Store(StoreError::OutOfRange { field: "now" }))
}

impl Registration {
    /// A registered agent: its id and tenant, its certificate chain (leaf first) and the
    /// tenant CA certificate, DER.
    pub fn new(
        agent_id: AgentId,
        tenant: TenantId,
        certificate_chain_der: Vec<Vec<u8>>,
        ca_certificate_der: Vec<u8>,
    ) -> Self {
        Self {
            agent_id,
            tenant,
            certificate_chain_der,
            ca_certificate_der,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{audit_error, check_software_version, request_error};
    use crate::{AuditError, ServiceError, StoreError, TokenError};
    use pta_cert::KeyPolicyViolation;

    #[test]
    fn software_versions() {
        assert!(check_software_version("1.2.3").is_ok());
        assert!(check_software_version("pta-agent 0.1.0 (linux)").is_ok());
        for bad in ["", "1.0\n", "1.0\u{e9}", &"9".repeat(65)] {
            assert!(
                matches!(
                    check_software_version(bad),
                    Err(ServiceError::InvalidSoftwareVersion)
                ),
                "{bad:?}"
            );
        }
        assert!(check_software_version(&"9".repeat(64)).is_ok());
    }

    #[test]
    fn csr_errors_map_to_refusals() {
        assert!(matches!(
            request_error(pta_cert::Error::KeyPolicy(KeyPolicyViolation::Exponent)),
            ServiceError::KeyPolicy(KeyPolicyViolation::Exponent)
        ));
        assert!(matches!(
            request_error(pta_cert::Error::CsrSignatureInvalid),
            ServiceError::CsrSignatureInvalid
        ));
        assert!(matches!(
            request_error(pta_cert::Error::MalformedCsr),
            ServiceError::MalformedCsr
        ));
        assert!(matches!(
            request_error(pta_cert::Error::UnsupportedSignatureAlgorithm),
            ServiceError::UnsupportedCsrAlgorithm
        ));
        assert!(matches!(
            request_error(pta_cert::Error::Build),
            ServiceError::Authority(pta_cert::Error::Build)
        ));
    }

    #[test]
    fn audit_codes() {
        assert_eq!(
            audit_error(&TokenError::Expired.into()),
            AuditError::TokenExpired
        );
        assert_eq!(
            audit_error(&ServiceError::Store(StoreError::AgentLimitReached {
                limit: 1
            })),
            AuditError::AgentLimitReached
        );
        assert_eq!(
            audit_error(&ServiceError::CsrSignatureInvalid),
            AuditError::BadRequest
        );
        assert_eq!(
            audit_error(&ServiceError::Store(StoreError::UnknownTenant)),
            AuditError::Internal
        );
    }
}
