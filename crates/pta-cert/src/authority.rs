use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::{ID_KP_CLIENT_AUTH, ID_KP_SERVER_AUTH};
use der::asn1::{Ia5String, OctetString};
use der::{Decode, Encode};
use rsa::pkcs1v15::Signature;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::{Certificate, TbsCertificate};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::csr::VerifiedCsr;
use crate::identity::{agent_uri, tenant_uri};
use crate::signer::CaSigner;
use crate::{Csr, Error, KeyPair, policy};

const DAY: u64 = 24 * 60 * 60;

/// Settings of one issuing authority. Durations are added to the `now` passed to each call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorityConfig {
    /// The tenant this authority issues for; written into every agent certificate as
    /// `urn:pta:tenant:<tenant>`. 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    pub tenant: String,
    /// Common name of the CA certificate; `None` gives `pta agent CA <tenant>`. CA names must
    /// be unique across tenants (see [`crate::TenantTrust`]).
    pub common_name: Option<String>,
    /// Lifetime of the CA certificate created with this config (10 years by default). An
    /// intermediate never outlives its parent.
    pub ca_lifetime: Duration,
    /// Lifetime of agent certificates (180 days by default).
    pub agent_lifetime: Duration,
    /// Lifetime of server certificates (397 days by default).
    pub server_lifetime: Duration,
    /// How far `notBefore` is set before `now`, for clock skew (5 minutes by default).
    pub backdate: Duration,
    /// Distance from thisUpdate to nextUpdate in CRLs (7 days by default).
    pub crl_lifetime: Duration,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            tenant: "default".into(),
            common_name: None,
            ca_lifetime: Duration::from_secs(3650 * DAY),
            agent_lifetime: Duration::from_secs(180 * DAY),
            server_lifetime: Duration::from_secs(397 * DAY),
            backdate: Duration::from_secs(5 * 60),
            crl_lifetime: Duration::from_secs(7 * DAY),
        }
    }
}

impl AuthorityConfig {
    /// The defaults, for `tenant`.
    pub fn for_tenant(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            ..Self::default()
        }
    }

    fn ca_subject(&self) -> Result<Name, Error> {
        policy::check_id(&self.tenant)?;
        let cn = match &self.common_name {
            Some(cn) => cn.clone(),
            None => format!("pta agent CA {}", self.tenant),
        };
        policy::check_text(&cn)?;
        Name::from_str(&format!("CN={cn},O=pta")).map_err(|_| Error::InvalidName(cn))
    }
}

/// A name for a server certificate's subjectAltName.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SanEntry {
    /// A DNS name (ASCII letters, digits, `-` and `.`; no wildcards).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// A certificate serial number (positive, up to 20 bytes, big-endian).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// From big-endian bytes, leading zeros ignored. Empty or zero is rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let start = bytes
            .iter()
            .position(|&b| b != 0)
            .ok_or(Error::MalformedCertificate)?;
        let trimmed = &bytes[start..];
        if trimmed.len() > 20 {
            return Err(Error::MalformedCertificate);
        }
        Ok(Self(trimmed.to_vec()))
    }

    /// Big-endian bytes without leading zeros.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn from_x509(serial: &SerialNumber) -> Result<Self, Error> {
        Self::from_bytes(serial.as_bytes())
    }

    pub(crate) fn to_x509(&self) -> Result<SerialNumber, Error> {
        SerialNumber::new(&self.0).map_err(|_| Error::Build)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

/// A freshly issued certificate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IssuedCertificate {
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// What the holder presents in TLS: this certificate then the intermediates, root excluded.
    pub chain: Vec<CertificateDer<'static>>,
    /// The serial number (what a CRL names).
    pub serial: Serial,
    /// notBefore as written (`now` minus the backdate, whole seconds).
    pub not_before: SystemTime,
    /// notAfter as written.
    pub not_after: SystemTime,
}

impl IssuedCertificate {
    /// The chain as concatenated PEM blocks.
    pub fn chain_pem(&self) -> Result<String, Error> {
        crate::pem::certs_to_pem(&self.chain)
    }
}

/// One tenant's issuing authority: a CA key and certificate, self-signed or under an offline
/// root.
///
/// Issuance is pure apart from randomness (serials): every method takes `now` and reads no
/// clock. The authority, not the request, decides every name in an issued certificate.
/// Certificates and CRLs are signed with aws-lc-rs (constant-time, and fast enough for the 5 ms
/// issuance goal with an RSA-3072 key); see the crate docs on the signing backend.
pub struct Authority {
    config: AuthorityConfig,
    key: KeyPair,
    /// The same private key, loaded into aws-lc for signing.
    signer: CaSigner,
    cert: Certificate,
    /// This CA first, root last.
    chain: Vec<CertificateDer<'static>>,
    key_id: Vec<u8>,
    not_after: SystemTime,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority")
            .field("tenant", &self.config.tenant)
            .field(
                "subject",
                &self.cert.tbs_certificate().subject().to_string(),
            )
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// Creates a self-signed CA valid from `now - backdate` for `config.ca_lifetime`.
    pub fn create_root(
        config: AuthorityConfig,
        key: KeyPair,
        now: SystemTime,
    ) -> Result<Self, Error> {
        let subject = config.ca_subject()?;
        let spki = spki_of(&key)?;
        let key_id = key_id(spki.subject_public_key.raw_bytes());
        let profile = Profile {
            issuer: subject.clone(),
            subject,
            issuer_key_id: key_id,
            kind: Kind::Ca { path_len: None },
        };
        let (not_before, not_after) = window(now, config.backdate, config.ca_lifetime, None)?;
        let signer = CaSigner::new(&key)?;
        let cert = sign(&signer, profile, spki, not_before, not_after)?;
        let der = CertificateDer::from(cert.to_der().map_err(|_| Error::Build)?);
        Self::with_signer(config, key, signer, vec![der])
    }

    /// Creates an intermediate CA signed by this authority (the offline root), with path length
    /// 0, never outliving this CA. Its chain is the new certificate followed by this chain.
    pub fn create_intermediate(
        &self,
        config: AuthorityConfig,
        key: KeyPair,
        now: SystemTime,
    ) -> Result<Authority, Error> {
        let subject = config.ca_subject()?;
        let spki = spki_of(&key)?;
        let profile = Profile {
            issuer: self.subject().clone(),
            subject,
            issuer_key_id: self.key_id.clone(),
            kind: Kind::Ca { path_len: Some(0) },
        };
        let (not_before, not_after) = window(
            now,
            config.backdate,
            config.ca_lifetime,
            Some(self.not_after),
        )?;
        let cert = sign(&self.signer, profile, spki, not_before, not_after)?;
        let mut chain = vec![CertificateDer::from(
            cert.to_der().map_err(|_| Error::Build)?,
        )];
        chain.extend(self.chain.iter().cloned());
        Self::from_parts(config, key, chain)
    }

    /// Rebuilds an authority from stored parts: its key and its chain (this CA first, root
    /// last). Checks that the first certificate is a CA with a subject key identifier and that
    /// the key matches it, and loads the key into aws-lc for signing
    /// ([`Error::InvalidPrivateKey`] if aws-lc refuses it).
    pub fn from_parts(
        config: AuthorityConfig,
        key: KeyPair,
        chain: Vec<CertificateDer<'static>>,
    ) -> Result<Self, Error> {
        let signer = CaSigner::new(&key)?;
        Self::with_signer(config, key, signer, chain)
    }

    /// [`Authority::from_parts`] with the key already loaded for signing.
    fn with_signer(
        config: AuthorityConfig,
        key: KeyPair,
        signer: CaSigner,
        chain: Vec<CertificateDer<'static>>,
    ) -> Result<Self, Error> {
        policy::check_id(&config.tenant)?;
        let first = chain.first().ok_or(Error::MalformedCertificate)?;
        let cert = Certificate::from_der(first).map_err(|_| Error::MalformedCertificate)?;
        let (key_id, not_after) = ca_facts(&cert)?;
        let cert_spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|_| Error::MalformedCertificate)?;
        if cert_spki != key.public_key_der()? {
            return Err(Error::KeyMismatch);
        }
        Ok(Self {
            config,
            key,
            signer,
            cert,
            chain,
            key_id,
            not_after,
        })
    }

    /// Verifies the CSR (signature and key policy) and issues an agent client certificate for
    /// `agent_id`, valid from `now - backdate` for `agent_lifetime` (never past the CA's
    /// notAfter).
    ///
    /// Profile: v3; subject `CN=<agent_id>,O=<tenant>`; SAN URIs `urn:pta:agent:<agent_id>` and
    /// `urn:pta:tenant:<tenant>`; basicConstraints CA=false; keyUsage digitalSignature +
    /// keyEncipherment (critical); extKeyUsage clientAuth; SKI and AKI; random positive
    /// 128-bit serial; sha256WithRSAEncryption. Nothing is copied from the request except its
    /// public key.
    pub fn issue_agent(
        &self,
        csr: &Csr,
        agent_id: &str,
        now: SystemTime,
    ) -> Result<IssuedCertificate, Error> {
        let verified = csr.verify()?;
        self.issue_agent_verified(&verified, agent_id, now)
    }

    /// [`Authority::issue_agent`] for a CSR that was already verified.
    pub fn issue_agent_verified(
        &self,
        csr: &VerifiedCsr,
        agent_id: &str,
        now: SystemTime,
    ) -> Result<IssuedCertificate, Error> {
        policy::check_id(agent_id)?;
        let tenant = &self.config.tenant;
        let subject = Name::from_str(&format!("CN={agent_id},O={tenant}"))
            .map_err(|_| Error::InvalidName(agent_id.into()))?;
        let names = vec![uri(&agent_uri(agent_id))?, uri(&tenant_uri(tenant))?];
        let kind = Kind::Leaf {
            names,
            eku: ID_KP_CLIENT_AUTH,
        };
        self.issue_leaf(
            subject,
            kind,
            csr.spki.clone(),
            self.config.agent_lifetime,
            now,
        )
    }

    /// Verifies the CSR and issues a TLS server certificate for `names` (at least one):
    /// subjectAltName DNS/IP, extKeyUsage serverAuth, otherwise the agent profile.
    pub fn issue_server(
        &self,
        csr: &Csr,
        names: &[SanEntry],
        now: SystemTime,
    ) -> Result<IssuedCertificate, Error> {
        let verified = csr.verify()?;
        let mut general = Vec::with_capacity(names.len());
        for name in names {
            general.push(match name {
                SanEntry::Dns(dns) => {
                    let ok = !dns.is_empty()
                        && dns.len() <= 253
                        && dns
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                    if !ok {
                        return Err(Error::InvalidName(dns.clone()));
                    }
                    GeneralName::DnsName(
                        Ia5String::new(dns).map_err(|_| Error::InvalidName(dns.clone()))?,
                    )
                }
                SanEntry::Ip(IpAddr::V4(ip)) => GeneralName::IpAddress(octets(&ip.octets())?),
                SanEntry::Ip(IpAddr::V6(ip)) => GeneralName::IpAddress(octets(&ip.octets())?),
            });
        }
        let first = names
            .first()
            .ok_or_else(|| Error::InvalidName(String::new()))?;
        let cn = match first {
            SanEntry::Dns(dns) => dns.clone(),
            SanEntry::Ip(ip) => ip.to_string(),
        };
        let subject = Name::from_str(&format!("CN={}", cn.replace(':', ".")))
            .map_err(|_| Error::InvalidName(cn))?;
        let kind = Kind::Leaf {
            names: general,
            eku: ID_KP_SERVER_AUTH,
        };
        self.issue_leaf(
            subject,
            kind,
            verified.spki,
            self.config.server_lifetime,
            now,
        )
    }

    fn issue_leaf(
        &self,
        subject: Name,
        kind: Kind,
        spki: SubjectPublicKeyInfoOwned,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<IssuedCertificate, Error> {
        let profile = Profile {
            issuer: self.subject().clone(),
            subject,
            issuer_key_id: self.key_id.clone(),
            kind,
        };
        let (not_before, not_after) =
            window(now, self.config.backdate, lifetime, Some(self.not_after))?;
        let cert = sign(&self.signer, profile, spki, not_before, not_after)?;
        let der = CertificateDer::from(cert.to_der().map_err(|_| Error::Build)?);
        let mut chain = vec![der.clone()];
        chain.extend(
            self.chain
                .iter()
                .take(self.chain.len().saturating_sub(1))
                .cloned(),
        );
        let validity = cert.tbs_certificate().validity();
        Ok(IssuedCertificate {
            der,
            chain,
            serial: Serial::from_x509(cert.tbs_certificate().serial_number())?,
            not_before: validity.not_before.to_system_time(),
            not_after: validity.not_after.to_system_time(),
        })
    }

    /// The tenant this authority issues for.
    pub fn tenant(&self) -> &str {
        &self.config.tenant
    }

    /// The configuration.
    pub fn config(&self) -> &AuthorityConfig {
        &self.config
    }

    /// The CA key (to store it; never log it).
    pub fn key(&self) -> &KeyPair {
        &self.key
    }

    /// This CA's certificate, DER.
    pub fn certificate_der(&self) -> &CertificateDer<'static> {
        // `from_parts` refuses an empty chain.
        &self.chain[0]
    }

    /// This CA first, the root last (one element for a self-signed CA).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The trust anchor: the last certificate of the chain (this CA when self-signed).
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.chain[self.chain.len() - 1]
    }

    /// The subject key identifier of this CA.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// notAfter of this CA.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    pub(crate) fn subject(&self) -> &Name {
        self.cert.tbs_certificate().subject()
    }

    pub(crate) fn signer(&self) -> &CaSigner {
        &self.signer
    }
}

/// A CA certificate's subject key identifier and notAfter, refusing non-CAs.
pub(crate) fn ca_facts(cert: &Certificate) -> Result<(Vec<u8>, SystemTime), Error> {
    let tbs = cert.tbs_certificate();
    let bc = tbs
        .get_extension::<BasicConstraints>()
        .map_err(|_| Error::MalformedCertificate)?
        .ok_or(Error::MalformedCertificate)?;
    if !bc.1.ca {
        return Err(Error::MalformedCertificate);
    }
    let ski = tbs
        .get_extension::<SubjectKeyIdentifier>()
        .map_err(|_| Error::MalformedCertificate)?
        .ok_or(Error::MalformedCertificate)?;
    Ok((
        ski.1.0.as_bytes().to_vec(),
        tbs.validity().not_after.to_system_time(),
    ))
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey bits.
pub(crate) fn key_id(public_key_bits: &[u8]) -> Vec<u8> {
    Sha256::digest(public_key_bits)[..20].to_vec()
}

fn spki_of(key: &KeyPair) -> Result<SubjectPublicKeyInfoOwned, Error> {
    SubjectPublicKeyInfoOwned::from_der(&key.public_key_der()?).map_err(|_| Error::Build)
}

fn uri(text: &str) -> Result<GeneralName, Error> {
    Ok(GeneralName::UniformResourceIdentifier(
        Ia5String::new(text).map_err(|_| Error::InvalidName(text.into()))?,
    ))
}

fn octets(bytes: &[u8]) -> Result<OctetString, Error> {
    OctetString::new(bytes).map_err(|_| Error::Build)
}

/// `[now - backdate, min(now + lifetime, cap)]`.
fn window(
    now: SystemTime,
    backdate: Duration,
    lifetime: Duration,
    cap: Option<SystemTime>,
) -> Result<(SystemTime, SystemTime), Error> {
    let not_before = now.checked_sub(backdate).ok_or(Error::InvalidValidity)?;
    let mut not_after = now.checked_add(lifetime).ok_or(Error::InvalidValidity)?;
    if let Some(cap) = cap {
        not_after = not_after.min(cap);
    }
    if not_after <= not_before {
        return Err(Error::InvalidValidity);
    }
    Ok((not_before, not_after))
}

/// A random positive 128-bit serial: 16 random bytes with a non-zero first byte.
pub(crate) fn random_serial() -> Result<SerialNumber, Error> {
    let mut buf = [0u8; 16];
    loop {
        getrandom::fill(&mut buf).map_err(|_| Error::RandomUnavailable)?;
        if buf[0] != 0 {
            break;
        }
    }
    SerialNumber::new(&buf).map_err(|_| Error::Build)
}

fn sign(
    signer: &CaSigner,
    profile: Profile,
    spki: SubjectPublicKeyInfoOwned,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, Error> {
    let validity = Validity::new(
        Time::try_from(not_before).map_err(|_| Error::InvalidValidity)?,
        Time::try_from(not_after).map_err(|_| Error::InvalidValidity)?,
    );
    let builder = CertificateBuilder::new(profile, random_serial()?, validity, spki)
        .map_err(|_| Error::Build)?;
    builder
        .build::<_, Signature>(signer)
        .map_err(|_| Error::Build)
}

enum Kind {
    Ca {
        path_len: Option<u8>,
    },
    Leaf {
        names: Vec<GeneralName>,
        eku: ObjectIdentifier,
    },
}

/// Our certificate profile: every extension is decided here.
struct Profile {
    issuer: Name,
    subject: Name,
    issuer_key_id: Vec<u8>,
    kind: Kind,
}

fn ext<T: Encode>(
    oid: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> x509_cert::builder::Result<Extension> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        use const_oid::AssociatedOid;
        let ski = SubjectKeyIdentifier(OctetString::new(key_id(
            spk.subject_public_key.raw_bytes(),
        ))?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.issuer_key_id.clone())?),
            ..Default::default()
        };
        let mut out = vec![
            ext(SubjectKeyIdentifier::OID, false, &ski)?,
            ext(AuthorityKeyIdentifier::OID, false, &aki)?,
        ];
        match &self.kind {
            Kind::Ca { path_len } => {
                let bc = BasicConstraints {
                    ca: true,
                    path_len_constraint: *path_len,
                };
                out.push(ext(BasicConstraints::OID, true, &bc)?);
                let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
                out.push(ext(KeyUsage::OID, true, &ku)?);
            }
            Kind::Leaf { names, eku } => {
                let bc = BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                };
                out.push(ext(BasicConstraints::OID, true, &bc)?);
                let ku = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment);
                out.push(ext(KeyUsage::OID, true, &ku)?);
                out.push(ext(
                    ExtendedKeyUsage::OID,
                    false,
                    &ExtendedKeyUsage(vec![*eku]),
                )?);
                out.push(ext(
                    SubjectAltName::OID,
                    false,
                    &SubjectAltName(names.clone()),
                )?);
            }
        }
        Ok(out)
    }
}

/// Parses a certificate, for callers that hold DER.
pub(crate) fn parse_cert(der: &[u8]) -> Result<Certificate, Error> {
    Certificate::from_der(der).map_err(|_| Error::MalformedCertificate)
}
