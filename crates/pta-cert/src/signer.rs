//! The authority's signer: sha256WithRSAEncryption (RSA PKCS#1 v1.5 with SHA-256) computed by
//! aws-lc-rs, presented to x509-cert's builders through the RustCrypto signature traits.
//!
//! The [`KeyPair`] stays the RustCrypto `rsa` key (generation, PKCS#8, CSRs); [`CaSigner`] holds
//! a second, aws-lc copy of the same private key parsed from its PKCS#8 encoding, plus the
//! RustCrypto verifying key that x509-cert asks for (issuer SPKI, signature algorithm).
//! PKCS#1 v1.5 signatures are deterministic, so both libraries produce the same bytes; the
//! tests check that, and that RustCrypto verifies what aws-lc signed.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use der::Decode;
use der::asn1::AnyRef;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use sha2::Sha256;
use signature::{Keypair, Signer};
use spki::{AlgorithmIdentifierRef, SignatureAlgorithmIdentifier, SubjectPublicKeyInfoRef};

use crate::{Error, KeyPair};

/// An authority's private key in aws-lc form, with its RustCrypto verifying key.
pub(crate) struct CaSigner {
    key: RsaKeyPair,
    verifying: VerifyingKey<Sha256>,
    rng: SystemRandom,
}

impl CaSigner {
    /// Loads `key` into aws-lc (through a zeroized PKCS#8 copy) and checks that aws-lc holds
    /// the same public key as the RustCrypto key.
    pub(crate) fn new(key: &KeyPair) -> Result<Self, Error> {
        let pkcs8 = key.to_pkcs8_der()?;
        let aws = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| Error::InvalidPrivateKey)?;
        let spki_der = key.public_key_der()?;
        let spki =
            SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(|_| Error::InvalidPrivateKey)?;
        // The subjectPublicKey bits of an rsaEncryption SPKI are the PKCS#1 RSAPublicKey, which
        // is what aws-lc's public key encodes to.
        if spki.subject_public_key.raw_bytes() != aws.public_key().as_ref() {
            // Cannot happen with a key that round-trips through PKCS#8; refuse rather than sign
            // with a key other than the certificate's.
            return Err(Error::InvalidPrivateKey);
        }
        Ok(Self {
            key: aws,
            verifying: key.signer().verifying_key(),
            rng: SystemRandom::new(),
        })
    }

    /// sha256WithRSAEncryption signature of `message`, as many bytes as the modulus.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .map_err(|_| Error::Build)?;
        Ok(signature)
    }
}

impl Keypair for CaSigner {
    type VerifyingKey = VerifyingKey<Sha256>;

    fn verifying_key(&self) -> Self::VerifyingKey {
        self.verifying.clone()
    }
}

impl SignatureAlgorithmIdentifier for CaSigner {
    type Params = AnyRef<'static>;

    /// sha256WithRSAEncryption with NULL parameters (RFC 4055), as RustCrypto writes it.
    const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifierRef<'static> =
        <VerifyingKey<Sha256> as SignatureAlgorithmIdentifier>::SIGNATURE_ALGORITHM_IDENTIFIER;
}

impl Signer<Signature> for CaSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, signature::Error> {
        let bytes = self.sign(message).map_err(|_| signature::Error::new())?;
        Signature::try_from(bytes.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use der::Encode;
    use rustls::pki_types::CertificateDer;
    use signature::{SignatureEncoding, Verifier};
    use spki::DynSignatureAlgorithmIdentifier;

    use super::*;
    use crate::csr::{RawSigned, verify_rsa_signature};
    use crate::{Authority, AuthorityConfig, Csr, Revocation, RevocationReason};

    fn key(name: &str) -> KeyPair {
        let pem = match name {
            "ca-a" => include_str!("../tests/data/keys/ca-a.pem"),
            "agent-1" => include_str!("../tests/data/keys/agent-1.pem"),
            "agent-3072" => include_str!("../tests/data/keys/agent-3072.pem"),
            _ => unreachable!("no test key {name}"),
        };
        KeyPair::from_pkcs8_pem(pem).unwrap()
    }

    /// Checks a signed X.509 structure (certificate or CRL) with the RustCrypto verifier.
    fn verify_with_rustcrypto(signed_der: &[u8], issuer: &KeyPair) {
        let raw = RawSigned::from_der(signed_der).unwrap();
        let tbs = raw.tbs.to_der().unwrap();
        let signature = raw.signature.as_bytes().unwrap();
        verify_rsa_signature(
            &issuer.public_key_der().unwrap(),
            &raw.algorithm,
            &tbs,
            signature,
        )
        .unwrap();
        // And directly, without the crate's helper.
        let verifying = issuer.signer().verifying_key();
        verifying
            .verify(&tbs, &Signature::try_from(signature).unwrap())
            .unwrap();
        // A flipped bit in the signed bytes fails.
        let mut tampered = tbs.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(
            verifying
                .verify(&tampered, &Signature::try_from(signature).unwrap())
                .is_err()
        );
    }

    #[test]
    fn same_bytes_as_rustcrypto() {
        for name in ["agent-1", "agent-3072"] {
            let key = key(name);
            let signer = CaSigner::new(&key).unwrap();
            for message in [&b""[..], b"pta", &[0x5a; 5000]] {
                let ours = signer.sign(message).unwrap();
                let theirs: Signature = key.signer().try_sign(message).unwrap();
                assert_eq!(ours, theirs.to_vec(), "{name}");
                assert_eq!(ours.len() * 8, key.bits());
            }
        }
    }

    #[test]
    fn algorithm_identifier_is_sha256_with_rsa_and_null() {
        let signer = CaSigner::new(&key("agent-1")).unwrap();
        let ours = signer.signature_algorithm_identifier().unwrap();
        let theirs = key("agent-1")
            .signer()
            .signature_algorithm_identifier()
            .unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(
            ours.oid,
            const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION
        );
        // Parameters present and NULL (05 00), as RFC 4055 requires for sha256WithRSAEncryption.
        assert!(ours.to_der().unwrap().ends_with(&[5, 0]));
    }

    #[test]
    fn issued_certificates_and_crls_verify_with_rustcrypto() {
        let now = SystemTime::now();
        let root =
            Authority::create_root(AuthorityConfig::for_tenant("a"), key("ca-a"), now).unwrap();
        // Self-signed: the root's own key.
        verify_with_rustcrypto(root.certificate_der(), &key("ca-a"));
        let csr = Csr::new(&key("agent-3072"), "agent-7").unwrap();
        let issued = root.issue_agent(&csr, "agent-7", now).unwrap();
        verify_with_rustcrypto(&issued.der, &key("ca-a"));
        let crl = root
            .crl(
                &[Revocation::new(
                    issued.serial.clone(),
                    now,
                    Some(RevocationReason::KeyCompromise),
                )],
                1,
                now,
            )
            .unwrap();
        verify_with_rustcrypto(&crl, &key("ca-a"));

        // An intermediate signed by the root, issuing with its own (3072-bit) key.
        let mut config = AuthorityConfig::for_tenant("b");
        config.common_name = Some("pta intermediate b".into());
        let inter = root
            .create_intermediate(config, key("agent-3072"), now)
            .unwrap();
        verify_with_rustcrypto(inter.certificate_der(), &key("ca-a"));
        let server = inter
            .issue_server(
                &Csr::new(&key("agent-1"), "srv").unwrap(),
                &[crate::SanEntry::Dns("pta.example".into())],
                now,
            )
            .unwrap();
        verify_with_rustcrypto(&server.der, &key("agent-3072"));
        verify_with_rustcrypto(&inter.crl(&[], 2, now).unwrap(), &key("agent-3072"));

        // Rebuilt from stored parts, the authority signs the same way.
        let again = Authority::from_parts(
            AuthorityConfig::for_tenant("a"),
            key("ca-a"),
            vec![CertificateDer::from(root.certificate_der().to_vec())],
        )
        .unwrap();
        let reissued = again.issue_agent(&csr, "agent-7", now).unwrap();
        verify_with_rustcrypto(&reissued.der, &key("ca-a"));
    }
}
