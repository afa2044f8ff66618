//! Key policy and name syntax, shared by CSR verification, issuance and key loading.

use der::asn1::{BitStringRef, UintRef};
use der::{Decode, Sequence};
use spki::SubjectPublicKeyInfoRef;

use crate::{Error, KeyPolicyViolation};

/// Smallest accepted RSA modulus.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus: the largest key envelopes can be sealed for
/// (`pta-envelope` accepts 2048 to 4096 bits).
pub const MAX_RSA_BITS: usize = 4096;
/// Longest agent or tenant id.
pub const MAX_ID_LEN: usize = 64;

/// PKCS#1 RSAPublicKey.
#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    public_exponent: UintRef<'a>,
}

/// Checks the key policy on a DER SubjectPublicKeyInfo: RSA, 2048 to 4096 bits, e = 65537.
pub(crate) fn check_spki_der(der: &[u8]) -> Result<usize, Error> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(|_| KeyPolicyViolation::Malformed)?;
    check_spki(&spki)
}

/// Checks the key policy and returns the modulus length in bits.
pub(crate) fn check_spki(spki: &SubjectPublicKeyInfoRef<'_>) -> Result<usize, Error> {
    if spki.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
        return Err(KeyPolicyViolation::NotRsa.into());
    }
    let bits: BitStringRef<'_> = spki.subject_public_key;
    let bytes = bits.as_bytes().ok_or(KeyPolicyViolation::Malformed)?;
    let key = RsaPublicKey::from_der(bytes).map_err(|_| KeyPolicyViolation::Malformed)?;
    let n = key.modulus.as_bytes();
    let n_bits = match n.first() {
        Some(&first) if first != 0 => n.len() * 8 - first.leading_zeros() as usize,
        _ => return Err(KeyPolicyViolation::Malformed.into()),
    };
    if key.public_exponent.as_bytes() != [0x01, 0x00, 0x01] {
        return Err(KeyPolicyViolation::Exponent.into());
    }
    if n_bits < MIN_RSA_BITS {
        return Err(KeyPolicyViolation::TooSmall { bits: n_bits }.into());
    }
    if n_bits > MAX_RSA_BITS {
        return Err(KeyPolicyViolation::TooLarge { bits: n_bits }.into());
    }
    Ok(n_bits)
}

/// Agent and tenant ids: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
pub(crate) fn check_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(id.to_owned()))
    }
}

/// Free-text name parts (common names): 1 to 64 printable ASCII characters without the
/// distinguished-name metacharacters.
pub(crate) fn check_text(text: &str) -> Result<(), Error> {
    let ok = !text.is_empty()
        && text.len() <= MAX_ID_LEN
        && !text.starts_with(' ')
        && !text.ends_with(' ')
        && text
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !b",+=\"\\<>;#".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(check_id("agent-01.a_b").is_ok());
        for bad in ["", "a b", "a,b", "a:b", "é", &"x".repeat(65)] {
            assert!(
                matches!(check_id(bad), Err(Error::InvalidName(_))),
                "{bad:?}"
            );
        }
        assert!(check_text("pta tenant CA").is_ok());
        for bad in ["", " x", "x ", "a,b", "a=b", "a+b", "a\nb"] {
            assert!(check_text(bad).is_err(), "{bad:?}");
        }
    }

    /// A DER SubjectPublicKeyInfo of an RSA key with a modulus of `bits` bits (all ones: the
    /// policy reads sizes, not primes) and exponent 65537.
    fn rsa_spki(bits: usize) -> Vec<u8> {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match body.len() {
                n if n < 0x80 => out.push(n as u8),
                n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
                n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
            }
            out.extend_from_slice(body);
            out
        }
        let mut modulus = vec![0x00];
        modulus.extend(std::iter::repeat_n(0xff, bits / 8));
        let key = [tlv(0x02, &modulus), tlv(0x02, &[0x01, 0x00, 0x01])].concat();
        let mut bit_string = vec![0x00];
        bit_string.extend(tlv(0x30, &key));
        // rsaEncryption with NULL parameters.
        let algorithm = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00";
        tlv(
            0x30,
            &[algorithm.as_slice(), &tlv(0x03, &bit_string)].concat(),
        )
    }

    #[test]
    fn rsa_sizes_envelopes_can_seal_for_and_no_others() {
        for bits in [2048, 3072, 4096] {
            assert_eq!(check_spki_der(&rsa_spki(bits)).unwrap(), bits);
        }
        assert!(matches!(
            check_spki_der(&rsa_spki(1024)),
            Err(Error::KeyPolicy(KeyPolicyViolation::TooSmall {
                bits: 1024
            }))
        ));
        for bits in [4104, 8192] {
            assert!(matches!(
                check_spki_der(&rsa_spki(bits)),
                Err(Error::KeyPolicy(KeyPolicyViolation::TooLarge { bits: b })) if b == bits
            ));
        }
    }

    #[test]
    fn non_rsa_and_garbage() {
        assert!(matches!(
            check_spki_der(b"\x30\x00"),
            Err(Error::KeyPolicy(KeyPolicyViolation::Malformed))
        ));
    }
}
