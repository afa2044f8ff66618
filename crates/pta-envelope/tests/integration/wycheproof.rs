//! Wycheproof vectors: RSA-OAEP (SHA-256, MGF1-SHA-256) at 2048, 3072 and 4096 bits for both
//! RSA backends, and AES-256-GCM (96-bit nonce, 128-bit tag) for the content cipher.

use pta_envelope::RsaIdentity;
use pta_envelope::fuzzing::{aes256gcm_open, aes256gcm_seal};
use wycheproof::TestResult;
use wycheproof::rsa_oaep::{TestName, TestSet};

const OAEP_SETS: [TestName; 3] = [
    TestName::Rsa2048Sha256Mgf1Sha256,
    TestName::Rsa3072Sha256Mgf1Sha256,
    TestName::Rsa4096Sha256Mgf1Sha256,
];

/// Runs every vector through `decrypt` (built from the group's PKCS#8 key) and returns the
/// comments of invalid vectors that decrypted anyway.
fn run_oaep<K>(
    load: impl Fn(&[u8]) -> K,
    decrypt: impl Fn(&K, &[u8], &[u8]) -> Option<Vec<u8>>,
) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut accepted_invalid = Vec::new();
    for name in OAEP_SETS {
        let set = TestSet::load(name).unwrap();
        for group in set.test_groups {
            let key = load(&group.pkcs8);
            for t in group.tests {
                ran += 1;
                let got = decrypt(&key, &t.ct, &t.label);
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(got.as_deref(), Some(&t.pt[..]), "{name:?} tc {}", t.tc_id)
                    }
                    TestResult::Invalid => {
                        if got.is_some() {
                            accepted_invalid.push(t.comment.clone());
                        }
                    }
                    TestResult::Acceptable => {
                        if let Some(p) = got {
                            assert_eq!(p, &t.pt[..], "{name:?} tc {}", t.tc_id);
                        }
                    }
                }
            }
        }
    }
    (ran, accepted_invalid)
}

fn label(l: &[u8]) -> Option<&[u8]> {
    (!l.is_empty()).then_some(l)
}

#[test]
fn rsa_oaep_rustcrypto() {
    let (ran, accepted) = run_oaep(
        |der| RsaIdentity::from_pkcs8_der(der).unwrap(),
        |k, ct, l| k.decrypt_oaep(ct, label(l)).ok().map(|p| p.to_vec()),
    );
    assert!(ran > 100, "only {ran} vectors");
    // Documented exception: rsa 0.10 ignores the first byte of the OAEP encoding (it must be
    // zero), so the one vector where it is 1 decrypts. The rest of the padding is checked,
    // and an envelope's content key is authenticated by AES-GCM anyway.
    assert!(
        accepted.iter().all(|c| c == "First byte is 1"),
        "{accepted:?}"
    );
}

#[cfg(feature = "aws-lc")]
#[test]
fn rsa_oaep_aws_lc() {
    use pta_envelope::AwsLcRsaIdentity;
    let (ran, accepted) = run_oaep(
        |der| AwsLcRsaIdentity::from_pkcs8_der(der).unwrap(),
        |k, ct, l| k.decrypt_oaep(ct, label(l)).ok().map(|p| p.to_vec()),
    );
    assert!(ran > 100, "only {ran} vectors");
    assert!(
        accepted.is_empty(),
        "aws-lc accepted invalid vectors: {accepted:?}"
    );
}

#[test]
fn aes_256_gcm() {
    use wycheproof::aead::{TestName, TestSet};
    let set = TestSet::load(TestName::AesGcm).unwrap();
    let mut ran = 0;
    for group in set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for t in group.tests {
            ran += 1;
            let key: [u8; 32] = t.key[..].try_into().unwrap();
            let nonce: [u8; 12] = t.nonce[..].try_into().unwrap();
            let mut sealed = t.ct.to_vec();
            sealed.extend_from_slice(&t.tag);
            let opened = aes256gcm_open(&key, &nonce, &t.aad, &sealed);
            match t.result {
                TestResult::Valid | TestResult::Acceptable => {
                    assert_eq!(opened.as_deref(), Some(&t.pt[..]), "tc {}", t.tc_id);
                    assert_eq!(
                        aes256gcm_seal(&key, &nonce, &t.aad, &t.pt),
                        sealed,
                        "tc {}",
                        t.tc_id
                    );
                }
                TestResult::Invalid => assert_eq!(opened, None, "tc {} {}", t.tc_id, t.comment),
            }
        }
    }
    assert!(ran > 20, "only {ran} vectors");
}
