use std::time::SystemTime;

use const_oid::AssociatedOid;
use der::Encode;
use der::asn1::{BitString, OctetString};
use rustls::pki_types::CertificateRevocationListDer;
use spki::DynSignatureAlgorithmIdentifier;
use x509_cert::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlNumber, CrlReason};
use x509_cert::time::Time;

use crate::{Authority, Error, Serial};

/// Why a certificate was revoked (RFC 5280 CRLReason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// No reason given (RFC 5280: better leave the reason out than use this).
    Unspecified,
    /// The agent's key leaked or may have.
    KeyCompromise,
    /// The CA's key leaked or may have.
    CaCompromise,
    /// The agent moved (another tenant or owner).
    AffiliationChanged,
    /// Replaced by a newer certificate (after renewal).
    Superseded,
    /// The agent was decommissioned.
    CessationOfOperation,
    /// Temporarily suspended.
    CertificateHold,
    /// The agent's privilege was withdrawn by an administrator.
    PrivilegeWithdrawn,
}

impl RevocationReason {
    fn to_x509(self) -> CrlReason {
        match self {
            RevocationReason::Unspecified => CrlReason::Unspecified,
            RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
            RevocationReason::CaCompromise => CrlReason::CaCompromise,
            RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
            RevocationReason::Superseded => CrlReason::Superseded,
            RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
            RevocationReason::CertificateHold => CrlReason::CertificateHold,
            RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        }
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revocation {
    /// Serial of the revoked certificate (issued by the CRL's authority).
    pub serial: Serial,
    /// When it was revoked.
    pub revoked_at: SystemTime,
    /// Why, written as the reasonCode entry extension when present.
    pub reason: Option<RevocationReason>,
}

impl Revocation {
    /// A revocation entry.
    pub fn new(serial: Serial, revoked_at: SystemTime, reason: Option<RevocationReason>) -> Self {
        Self {
            serial,
            revoked_at,
            reason,
        }
    }
}

impl Authority {
    /// Builds and signs a v2 CRL (RFC 5280) of this authority: issuer = this CA's subject,
    /// thisUpdate = `now`, nextUpdate = `now + crl_lifetime`, cRLNumber = `crl_number` (the
    /// caller keeps it increasing), authorityKeyIdentifier = this CA's subject key identifier
    /// (right for a root and for an intermediate, unlike x509-cert's `CrlBuilder`), one entry
    /// per revocation with its reasonCode.
    pub fn crl(
        &self,
        revoked: &[Revocation],
        crl_number: u64,
        now: SystemTime,
    ) -> Result<CertificateRevocationListDer<'static>, Error> {
        let next = now
            .checked_add(self.config().crl_lifetime)
            .ok_or(Error::InvalidValidity)?;
        let time = |t: SystemTime| Time::try_from(t).map_err(|_| Error::InvalidValidity);
        let mut entries = Vec::with_capacity(revoked.len());
        for r in revoked {
            let crl_entry_extensions = match r.reason {
                Some(reason) => Some(vec![extension(CrlReason::OID, &reason.to_x509())?]),
                None => None,
            };
            entries.push(RevokedCert {
                serial_number: r.serial.to_x509()?,
                revocation_date: time(r.revoked_at)?,
                crl_entry_extensions,
            });
        }
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(self.key_id()).map_err(|_| Error::Build)?),
            ..Default::default()
        };
        let number = CrlNumber::try_from(crl_number).map_err(|_| Error::Build)?;
        let signer = self.signer();
        let tbs = TbsCertList {
            version: Version::V2,
            signature: signer
                .signature_algorithm_identifier()
                .map_err(|_| Error::Build)?,
            issuer: self.subject().clone(),
            this_update: time(now)?,
            next_update: Some(time(next)?),
            revoked_certificates: if entries.is_empty() {
                None
            } else {
                Some(entries)
            },
            crl_extensions: Some(vec![
                extension(AuthorityKeyIdentifier::OID, &aki)?,
                extension(CrlNumber::OID, &number)?,
            ]),
        };
        let tbs_der = tbs.to_der().map_err(|_| Error::Build)?;
        let signature = signer.sign(&tbs_der)?;
        let list = CertificateList {
            signature_algorithm: tbs.signature.clone(),
            tbs_cert_list: tbs,
            signature: BitString::from_bytes(&signature).map_err(|_| Error::Build)?,
        };
        Ok(CertificateRevocationListDer::from(
            list.to_der().map_err(|_| Error::Build)?,
        ))
    }
}

fn extension<T: Encode>(oid: const_oid::ObjectIdentifier, value: &T) -> Result<Extension, Error> {
    let bytes = value.to_der().map_err(|_| Error::Build)?;
    Ok(Extension {
        extn_id: oid,
        critical: false,
        extn_value: OctetString::new(bytes).map_err(|_| Error::Build)?,
    })
}
