use std::str::FromStr;

use const_oid::db::rfc5912::{
    SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode, Sequence};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use sha2::{Sha256, Sha384, Sha512};
use signature::Verifier;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::builder::{Builder, RequestBuilder};
use x509_cert::name::Name;
use x509_cert::request::CertReqInfo;

use crate::{Error, KeyPair, policy};

/// Largest CSR accepted, in DER bytes (a 4096-bit key with a long subject fits easily).
pub const MAX_CSR_LEN: usize = 16 * 1024;

/// Any signed X.509 structure, with the to-be-signed part kept as raw bytes so the signature
/// is checked over exactly what was signed.
#[derive(Sequence)]
pub(crate) struct RawSigned<'a> {
    pub(crate) tbs: AnyRef<'a>,
    pub(crate) algorithm: AlgorithmIdentifierOwned,
    pub(crate) signature: BitStringRef<'a>,
}

/// A parsed PKCS#10 certificate signing request whose signature has **not** been checked.
///
/// Call [`Csr::verify`] (the authority does) before trusting anything in it.
#[derive(Debug, Clone)]
pub struct Csr {
    der: Vec<u8>,
    info: CertReqInfo,
    tbs: Vec<u8>,
    algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
}

/// A CSR whose self-signature verified and whose key passed the key policy.
#[derive(Debug, Clone)]
pub struct VerifiedCsr {
    pub(crate) spki: SubjectPublicKeyInfoOwned,
    bits: usize,
}

impl VerifiedCsr {
    /// The DER SubjectPublicKeyInfo of the requested key.
    pub fn public_key_der(&self) -> Result<Vec<u8>, Error> {
        self.spki.to_der().map_err(|_| Error::Build)
    }

    /// The RSA modulus length in bits.
    pub fn key_bits(&self) -> usize {
        self.bits
    }
}

impl Csr {
    /// Builds a CSR for `key`, signed with it (proof of possession). The subject is
    /// `CN=<common_name>`; it is informational only, since the authority decides the names in
    /// the certificate.
    pub fn new(key: &KeyPair, common_name: &str) -> Result<Self, Error> {
        policy::check_text(common_name)?;
        let subject = Name::from_str(&format!("CN={common_name}")).map_err(|_| Error::Build)?;
        let builder = RequestBuilder::new(subject).map_err(|_| Error::Build)?;
        let req = builder
            .build::<_, Signature>(key.signer())
            .map_err(|_| Error::Build)?;
        let der = req.to_der().map_err(|_| Error::Build)?;
        Self::from_der(&der)
    }

    /// Parses a DER CSR (at most [`MAX_CSR_LEN`] bytes). Does not check the signature.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        if der.len() > MAX_CSR_LEN {
            return Err(Error::MalformedCsr);
        }
        let raw = RawSigned::from_der(der).map_err(|_| Error::MalformedCsr)?;
        let tbs = raw.tbs.to_der().map_err(|_| Error::MalformedCsr)?;
        let info = CertReqInfo::from_der(&tbs).map_err(|_| Error::MalformedCsr)?;
        let signature = raw
            .signature
            .as_bytes()
            .ok_or(Error::MalformedCsr)?
            .to_vec();
        Ok(Self {
            der: der.to_vec(),
            info,
            tbs,
            algorithm: raw.algorithm,
            signature,
        })
    }

    /// Parses a PEM CSR (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`).
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        if pem.len() > MAX_CSR_LEN * 2 {
            return Err(Error::MalformedCsr);
        }
        let (label, der) =
            der::pem::decode_vec(pem.trim().as_bytes()).map_err(|_| Error::MalformedCsr)?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(Error::MalformedCsr);
        }
        Self::from_der(&der)
    }

    /// The DER encoding, as received.
    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> Result<String, Error> {
        der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &self.der)
            .map_err(|_| Error::Build)
    }

    /// Checks the self-signature (sha256/384/512WithRSAEncryption) and the key policy (RSA,
    /// 2048 to 4096 bits, e = 65537). The key policy is checked first, so a weak key is reported
    /// as such even when its signature is also broken.
    pub fn verify(&self) -> Result<VerifiedCsr, Error> {
        let spki = &self.info.public_key;
        let spki_der = spki.to_der().map_err(|_| Error::MalformedCsr)?;
        let bits = policy::check_spki_der(&spki_der)?;
        verify_rsa_signature(&spki_der, &self.algorithm, &self.tbs, &self.signature).map_err(
            |e| {
                if matches!(e, Error::UnsupportedSignatureAlgorithm) {
                    e
                } else {
                    Error::CsrSignatureInvalid
                }
            },
        )?;
        Ok(VerifiedCsr {
            spki: spki.clone(),
            bits,
        })
    }
}

/// Verifies an RSA PKCS#1 v1.5 signature made with `spki_der`'s key.
pub(crate) fn verify_rsa_signature(
    spki_der: &[u8],
    algorithm: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    // RSA signature algorithms take NULL or absent parameters.
    if let Some(params) = &algorithm.parameters
        && (der::Tagged::tag(params) != der::Tag::Null || !params.value().is_empty())
    {
        return Err(Error::UnsupportedSignatureAlgorithm);
    }
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|_| Error::CsrSignatureInvalid)?;
    let signature = Signature::try_from(signature).map_err(|_| Error::CsrSignatureInvalid)?;
    let ok = match algorithm.oid {
        SHA_256_WITH_RSA_ENCRYPTION => VerifyingKey::<Sha256>::try_from(spki)
            .map_err(|_| Error::CsrSignatureInvalid)?
            .verify(message, &signature)
            .is_ok(),
        SHA_384_WITH_RSA_ENCRYPTION => VerifyingKey::<Sha384>::try_from(spki)
            .map_err(|_| Error::CsrSignatureInvalid)?
            .verify(message, &signature)
            .is_ok(),
        SHA_512_WITH_RSA_ENCRYPTION => VerifyingKey::<Sha512>::try_from(spki)
            .map_err(|_| Error::CsrSignatureInvalid)?
            .verify(message, &signature)
            .is_ok(),
        _ => return Err(Error::UnsupportedSignatureAlgorithm),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::CsrSignatureInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyPair {
        KeyPair::from_pkcs8_pem(include_str!("../tests/data/keys/agent-1.pem")).unwrap()
    }

    #[test]
    fn own_csr_verifies_and_round_trips() {
        let key = key();
        let csr = Csr::new(&key, "agent one").unwrap();
        let verified = csr.verify().unwrap();
        assert_eq!(verified.key_bits(), 2048);
        assert_eq!(
            verified.public_key_der().unwrap(),
            key.public_key_der().unwrap()
        );
        let pem = csr.to_pem().unwrap();
        let again = Csr::from_pem(&pem).unwrap();
        assert_eq!(again.as_der(), csr.as_der());
    }

    #[test]
    fn flipped_signature_bit_fails() {
        let csr = Csr::new(&key(), "agent").unwrap();
        let mut der = csr.as_der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        let broken = Csr::from_der(&der).unwrap();
        assert!(matches!(broken.verify(), Err(Error::CsrSignatureInvalid)));
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            Csr::from_der(b"\x30\x03\x02\x01\x00"),
            Err(Error::MalformedCsr)
        ));
        assert!(matches!(
            Csr::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            Err(Error::MalformedCsr)
        ));
        assert!(matches!(
            Csr::from_der(&vec![0x30; MAX_CSR_LEN + 1]),
            Err(Error::MalformedCsr)
        ));
        assert!(matches!(
            Csr::new(&key(), "a,b"),
            Err(Error::InvalidName(_))
        ));
    }
}
