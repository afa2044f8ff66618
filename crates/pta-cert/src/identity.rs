use std::collections::HashMap;

use der::Encode;
use rustls::pki_types::CertificateDer;
use subtle::ConstantTimeEq;
use x509_cert::certificate::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, SubjectAltName};

use crate::authority::{ca_facts, parse_cert};
use crate::{Authority, Error, policy};

/// URI prefix naming the agent in an agent certificate's subjectAltName.
pub const AGENT_URI_PREFIX: &str = "urn:pta:agent:";
/// URI prefix naming the tenant in an agent certificate's subjectAltName.
pub const TENANT_URI_PREFIX: &str = "urn:pta:tenant:";

pub(crate) fn agent_uri(agent_id: &str) -> String {
    format!("{AGENT_URI_PREFIX}{agent_id}")
}

pub(crate) fn tenant_uri(tenant: &str) -> String {
    format!("{TENANT_URI_PREFIX}{tenant}")
}

/// Who is on the other end of a verified agent connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AgentIdentity {
    /// The agent id from `urn:pta:agent:<agent_id>`.
    pub agent_id: String,
    /// The tenant from `urn:pta:tenant:<tenant>`.
    pub tenant: String,
}

impl AgentIdentity {
    /// Reads the two URIs from a certificate **without any trust decision**: exactly one agent
    /// URI and one tenant URI, both with valid id syntax. Use [`TenantTrust::identify`] on
    /// connections.
    pub fn read_unverified(cert_der: &[u8]) -> Result<Self, Error> {
        names(&parse_cert(cert_der)?)
    }
}

fn names(cert: &Certificate) -> Result<AgentIdentity, Error> {
    let san = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .map_err(|_| Error::NoAgentIdentity)?
        .ok_or(Error::NoAgentIdentity)?
        .1;
    let mut agent = None;
    let mut tenant = None;
    for name in &san.0 {
        let GeneralName::UniformResourceIdentifier(uri) = name else {
            continue;
        };
        let uri = uri.as_str();
        let (slot, value) = if let Some(v) = uri.strip_prefix(AGENT_URI_PREFIX) {
            (&mut agent, v)
        } else if let Some(v) = uri.strip_prefix(TENANT_URI_PREFIX) {
            (&mut tenant, v)
        } else {
            continue;
        };
        if slot.is_some() || policy::check_id(value).is_err() {
            return Err(Error::NoAgentIdentity);
        }
        *slot = Some(value.to_owned());
    }
    match (agent, tenant) {
        (Some(agent_id), Some(tenant)) => Ok(AgentIdentity { agent_id, tenant }),
        _ => Err(Error::NoAgentIdentity),
    }
}

#[derive(Debug, Clone)]
struct TenantCa {
    /// DER of the issuing CA's subject name.
    subject: Vec<u8>,
    /// The issuing CA's subject key identifier.
    key_id: Vec<u8>,
    /// Issuing CA first, root last.
    chain: Vec<CertificateDer<'static>>,
}

/// The service's view of every tenant's issuing CA: what the TLS server trusts, and what binds
/// a certificate to its tenant.
///
/// # Security contract
///
/// [`TenantTrust::identify`] must only be given a chain that rustls already verified with a
/// server config built from this same trust set ([`crate::server_config`]). The tenant binding
/// then rests on X.509 name chaining: webpki only links a certificate to an issuer whose subject
/// equals its issuer name, and this set refuses two tenants with the same CA name, so a
/// certificate whose issuer name (and authority key identifier) is tenant A's CA was signed by
/// tenant A's CA. A certificate naming tenant A but issued by tenant B's CA is refused with
/// [`Error::TenantMismatch`].
#[derive(Debug, Clone, Default)]
pub struct TenantTrust {
    tenants: HashMap<String, TenantCa>,
}

impl TenantTrust {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) `tenant`'s issuing CA, given as its chain: the issuing CA first,
    /// the root (trust anchor) last. Refuses a CA whose subject name another tenant's CA uses.
    pub fn insert(
        &mut self,
        tenant: &str,
        ca_chain: &[CertificateDer<'static>],
    ) -> Result<(), Error> {
        policy::check_id(tenant)?;
        let first = ca_chain.first().ok_or(Error::MalformedCertificate)?;
        let cert = parse_cert(first)?;
        for c in &ca_chain[1..] {
            ca_facts(&parse_cert(c)?)?;
        }
        let (key_id, _) = ca_facts(&cert)?;
        let subject = cert
            .tbs_certificate()
            .subject()
            .to_der()
            .map_err(|_| Error::MalformedCertificate)?;
        if let Some((other, _)) = self
            .tenants
            .iter()
            .find(|(t, ca)| *t != tenant && ca.subject == subject)
        {
            return Err(Error::DuplicateCaName(other.clone()));
        }
        self.tenants.insert(
            tenant.to_owned(),
            TenantCa {
                subject,
                key_id,
                chain: ca_chain.to_vec(),
            },
        );
        Ok(())
    }

    /// Registers an authority under its own tenant.
    pub fn insert_authority(&mut self, authority: &Authority) -> Result<(), Error> {
        self.insert(authority.tenant(), authority.chain())
    }

    /// Forgets a tenant. Returns whether it was registered.
    pub fn remove(&mut self, tenant: &str) -> bool {
        self.tenants.remove(tenant).is_some()
    }

    /// Number of registered tenants.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// Whether no tenant is registered.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// The distinct roots of all registered chains (what the TLS server trusts).
    pub fn trust_anchors(&self) -> Vec<CertificateDer<'static>> {
        let mut out: Vec<CertificateDer<'static>> = Vec::new();
        for ca in self.tenants.values() {
            if let Some(root) = ca.chain.last()
                && !out.contains(root)
            {
                out.push(root.clone());
            }
        }
        out
    }

    /// Every distinct CA certificate of all chains. rustls checks revocation along the whole
    /// chain, so each of these needs a current CRL in the server config.
    pub fn ca_certificates(&self) -> Vec<CertificateDer<'static>> {
        let mut out: Vec<CertificateDer<'static>> = Vec::new();
        for c in self.tenants.values().flat_map(|ca| ca.chain.iter()) {
            if !out.contains(c) {
                out.push(c.clone());
            }
        }
        out
    }

    /// Extracts the agent identity from a peer chain (leaf first) that rustls verified, and
    /// checks that the leaf was issued by the CA registered for the tenant it names.
    pub fn identify(&self, peer_chain: &[CertificateDer<'_>]) -> Result<AgentIdentity, Error> {
        let leaf = peer_chain.first().ok_or(Error::NoAgentIdentity)?;
        let cert = parse_cert(leaf)?;
        let identity = names(&cert)?;
        let ca = self
            .tenants
            .get(&identity.tenant)
            .ok_or_else(|| Error::UnknownTenant(identity.tenant.clone()))?;
        let tbs = cert.tbs_certificate();
        let issuer = tbs
            .issuer()
            .to_der()
            .map_err(|_| Error::MalformedCertificate)?;
        let aki = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|_| Error::MalformedCertificate)?
            .and_then(|(_, aki)| aki.key_identifier);
        let key_matches = aki.is_some_and(|k| bool::from(k.as_bytes().ct_eq(&ca.key_id)));
        if issuer != ca.subject || !key_matches {
            return Err(Error::TenantMismatch(identity.tenant));
        }
        Ok(identity)
    }

    /// [`TenantTrust::identify`] on a completed rustls server connection.
    pub fn identify_connection(
        &self,
        conn: &rustls::ServerConnection,
    ) -> Result<AgentIdentity, Error> {
        self.identify(conn.peer_certificates().ok_or(Error::NoAgentIdentity)?)
    }
}
