//! The service CA and the admin operations that act on the store alone (shared by the running
//! service and the offline CLI).

use std::net::IpAddr;
use std::sync::Arc;

use pta_cert::{AuthorityConfig, Csr, KeyPair, KeySize, SanEntry};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::StoreError;
use crate::registration::system_time;
use crate::{
    AgentId, AgentStatus, AuditEvent, AuditKind, AuditOutcome, Authority, CaKey, JoinToken,
    Revocation, RevocationReason, ServiceError, Store, TenantId, TokenRecord,
};

/// The pta-cert settings of the service CA.
fn service_ca_config() -> AuthorityConfig {
    let mut config = AuthorityConfig::for_tenant("pta-service");
    config.common_name = Some("pta service CA".to_owned());
    config
}

/// Rebuilds the service CA from its stored form (certificate DER, key PKCS#8 PEM).
pub(crate) fn service_ca_from_stored(stored: &Authority) -> Result<ServiceCa, ServiceError> {
    let pem = std::str::from_utf8(stored.key.expose()).map_err(|_| {
        ServiceError::Store(StoreError::Corrupt {
            what: "service CA key",
        })
    })?;
    let key = KeyPair::from_pkcs8_pem(pem).map_err(ServiceError::Authority)?;
    let chain = vec![CertificateDer::from(stored.certificate.clone())];
    let authority = pta_cert::Authority::from_parts(service_ca_config(), key, chain)
        .map_err(ServiceError::Authority)?;
    Ok(ServiceCa {
        certificate_der: stored.certificate.clone(),
        authority: Arc::new(authority),
    })
}

pub(crate) async fn load_or_create(
    store: &dyn Store,
    key_size: KeySize,
    now: u64,
) -> Result<ServiceCa, ServiceError> {
    if let Some(stored) = store.service_authority().await? {
        return service_ca_from_stored(&stored);
    }
    let when = system_time(now)?;
    let created = tokio::task::spawn_blocking(move || {
        let key = KeyPair::generate(key_size)?;
        pta_cert::Authority::create_root(service_ca_config(), key, when)
    })
    .await
    .map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?
    .map_err(ServiceError::Authority)?;
    let key = created
        .key()
        .to_pkcs8_pem()
        .map_err(ServiceError::Authority)?;
    let candidate = Authority::new(
        created.certificate_der().to_vec(),
        CaKey::new(key.expose().as_bytes().to_vec()),
    );
    let winner = store.init_service_authority(&candidate).await?;
    // Ours won if the stored certificate is the one just made (fresh key, fresh serial).
    if winner.certificate == candidate.certificate {
        tracing::info!("service CA created");
        Ok(ServiceCa {
            certificate_der: candidate.certificate.clone(),
            authority: Arc::new(created),
        })
    } else {
        service_ca_from_stored(&winner)
    }
}

/// The service's TLS server identity: a key and a certificate from the service CA.
pub(crate) struct ServerIdentity {
    /// Leaf, then the service CA.
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: KeyPair,
}

/// Issues a server certificate for `names` (IP addresses become IP SANs, the rest DNS SANs).
pub(crate) async fn issue_server_identity(
    ca: &ServiceCa,
    names: &[String],
    key_size: KeySize,
    now: u64,
) -> Result<ServerIdentity, ServiceError> {
    if names.is_empty() {
        return Err(ServiceError::InvalidConfig {
            field: "server_names",
        });
    }
    let sans: Vec<SanEntry> = names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => SanEntry::Ip(ip),
            Err(_) => SanEntry::Dns(n.clone()),
        })
        .collect();
    let when = system_time(now)?;
    let authority = Arc::clone(&ca.authority);
    tokio::task::spawn_blocking(move || {
        let key = KeyPair::generate(key_size)?;
        let csr = Csr::new(&key, "pta-service")?;
        let issued = authority.issue_server(&csr, &sans, when)?;
        let mut chain = issued.chain;
        chain.push(authority.certificate_der().clone());
        Ok(ServerIdentity { chain, key })
    })
    .await
    .map_err(|e| ServiceError::Store(StoreError::Backend(Box::new(e))))?
    .map_err(|e| match e {
        pta_cert::Error::InvalidName(_) => ServiceError::InvalidConfig {
            field: "server_names",
        },
        other => ServiceError::Authority(other),
    })
}

/// The rustls config of the HTTPS listeners: TLS 1.3, no client authentication, ALPN `http/1.1`
/// (the HTTP layer serves HTTP/1.1 only, so `h2` must not be negotiated), chain = [leaf, service CA] (PROTOCOL.md 13.2).
pub(crate) fn https_config(
    identity: &ServerIdentity,
) -> Result<Arc<rustls::ServerConfig>, ServiceError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = identity
        .key
        .to_pkcs8_der()
        .map_err(ServiceError::Authority)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec()));
    let tls = |e: rustls::Error| ServiceError::Authority(pta_cert::Error::Tls(e));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), key)
        .map_err(tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

pub(crate) async fn create_token(
    store: &dyn Store,
    service_ca: &ServiceCa,
    tenant: &TenantId,
    lifetime_ms: u64,
    now: u64,
) -> Result<Zeroizing<String>, ServiceError> {
    if lifetime_ms == 0 {
        return Err(ServiceError::InvalidConfig {
            field: "lifetime_ms",
        });
    }
    if store.tenant(tenant).await?.is_none() {
        return Err(ServiceError::Store(StoreError::UnknownTenant));
    }
    let token = crate::RegistrationToken::generate()?;
    store
        .insert_token(&TokenRecord::new(&token, *tenant, now, lifetime_ms))
        .await?;
    let event =
        AuditEvent::new(now, AuditKind::TokenCreated, AuditOutcome::Ok).with_tenant(*tenant);
    store.append_audit(&[event]).await?;
    Ok(JoinToken::new(token, service_ca.fingerprint()).to_printed())
}

pub(crate) async fn revoke(
    store: &dyn Store,
    agent: &AgentId,
    now: u64,
) -> Result<bool, ServiceError> {
    let record = store
        .agent(agent)
        .await?
        .ok_or(ServiceError::Store(StoreError::UnknownAgent))?;
    let revocation = Revocation::new(
        record.tenant,
        record.certificate_serial.clone(),
        Some(record.id),
        RevocationReason::Unspecified,
        now,
    );
    let added = store.add_revocation(&revocation).await?;
    if !added {
        // The serial was revoked already; make sure the registry agrees.
        if record.status != AgentStatus::Revoked {
            store.set_agent_status(agent, AgentStatus::Revoked).await?;
        }
        return Ok(false);
    }
    let event = AuditEvent::new(now, AuditKind::Revocation, AuditOutcome::Ok)
        .with_tenant(record.tenant)
        .with_agent(record.id);
    store.append_audit(&[event]).await?;
    Ok(true)
}

/// The deployment's service CA (issues the service's TLS server certificates; agents pin its
/// SHA-256 from the join token).
#[derive(Clone, Debug)]
pub struct ServiceCa {
    /// The CA certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The CA (key and certificate), for issuing server certificates.
    authority: Arc<pta_cert::Authority>,
}

impl ServiceCa {
    /// What join tokens pin.
    pub fn fingerprint(&self) -> crate::CaFingerprint {
        crate::CaFingerprint::of_certificate(&self.certificate_der)
    }
}

/// Loads the service CA from the store, creating it (self-signed, `key_size`) on first use;
/// of concurrent creators (several processes on one store) exactly one wins and all return it.
/// Used by `Service::start` and by offline admin commands.
///
/// # Errors
///
/// [`ServiceError::Authority`] (key generation, a stored CA that does not load),
/// [`StoreError::Corrupt`], or the store's error.
pub async fn load_or_create_service_ca(
    store: &dyn Store,
    key_size: KeySize,
    now: u64,
) -> Result<ServiceCa, ServiceError> {
    load_or_create(store, key_size, now).await
}

/// Creates a one-time registration token for `tenant` (stored hashed, audited as
/// TokenCreated) and returns its printed form `pta1.<token>.<service CA sha256>`. Used by
/// `Service::create_token` and by offline admin commands.
///
/// # Errors
///
/// [`StoreError::UnknownTenant`], [`ServiceError::InvalidConfig`] for a zero lifetime,
/// [`ServiceError::Random`], or the store's error.
pub async fn create_join_token(
    store: &dyn Store,
    service_ca: &ServiceCa,
    tenant: &TenantId,
    lifetime_ms: u64,
    now: u64,
) -> Result<Zeroizing<String>, ServiceError> {
    create_token(store, service_ca, tenant, lifetime_ms, now).await
}

/// Revokes an agent's current certificate in the store (registry status Revoked, CRL entry,
/// audit Revocation). A running service applies it from the store's change feed, when the
/// store's change signal fires or within `store_poll_interval` (about a second), and closes
/// the agent's connections. Returns false if it was already revoked. Used by
/// `Service::revoke_agent` and by offline admin commands.
///
/// # Errors
///
/// [`StoreError::UnknownAgent`] or the store's error.
pub async fn revoke_agent_in_store(
    store: &dyn Store,
    agent: &AgentId,
    now: u64,
) -> Result<bool, ServiceError> {
    revoke(store, agent, now).await
}
