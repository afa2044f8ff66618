//! Facts the agent reads from its own certificate.

use der::{Decode, Encode};
use pta_cert::{AgentIdentity, CertValidity};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::Error;

/// What the agent needs from its leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafFacts {
    pub(crate) identity: AgentIdentity,
    /// SHA-256 of the SubjectPublicKeyInfo DER: the envelope key id (PROTOCOL.md section 12).
    pub(crate) key_id: [u8; 32],
    pub(crate) spki: Vec<u8>,
    pub(crate) serial_hex: String,
    pub(crate) validity: CertValidity,
}

impl LeafFacts {
    pub(crate) fn read(der: &[u8]) -> Result<Self, Error> {
        let identity = AgentIdentity::read_unverified(der)?;
        let validity = CertValidity::from_certificate_der(der)?;
        let cert = Certificate::from_der(der)
            .map_err(|_| Error::Cert(pta_cert::Error::MalformedCertificate))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|_| Error::Cert(pta_cert::Error::MalformedCertificate))?;
        let key_id: [u8; 32] = Sha256::digest(&spki).into();
        let serial = tbs.serial_number().as_bytes();
        let serial = serial
            .iter()
            .position(|&b| b != 0)
            .map_or(&serial[..0], |i| &serial[i..]);
        Ok(Self {
            identity,
            key_id,
            spki,
            serial_hex: crate::token::hex(serial),
            validity,
        })
    }
}
