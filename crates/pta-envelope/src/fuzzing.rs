//! Hooks for the fuzz targets in `fuzz/`: each asserts an invariant and panics if it breaks.
//! Not part of the API.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::sync::OnceLock;

use rand_core::{TryCryptoRng, TryRng};

use crate::{Envelope, Jwe, Opener, OpenerConfig, RsaIdentity, SessionKey, open, open_jwe};

/// A deterministic generator for fuzzing and tests (NOT random).
pub struct CounterRng(pub u64);

impl TryRng for CounterRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Ok(self.0 ^ (self.0 >> 29))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for c in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for CounterRng {}

/// Decode; whatever decodes encodes to the same bytes and decodes to an equal envelope. Text
/// that parses as a JWE exports and parses again to an equal envelope.
pub fn decode(data: &[u8]) {
    if let Ok(e) = Envelope::decode(data) {
        let mut out = Vec::new();
        e.encode(&mut out);
        assert_eq!(out, data, "encoding is canonical");
        assert_eq!(out.len(), e.encoded_len());
        assert_eq!(Envelope::decode(&out).unwrap(), e);
        let jwe = Jwe::from_json(&e.to_jwe(b"b")).expect("an export imports");
        assert_eq!(jwe.envelope(), &e);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(j) = Jwe::from_json(text)
    {
        let again = Jwe::from_json(&j.envelope().to_jwe(b"")).expect("an export imports");
        assert_eq!(again.envelope(), j.envelope());
    }
}

const BOUND: &[u8] = b"request-id|tenant|login|key-id|deadline";

fn identity() -> &'static RsaIdentity {
    static ID: OnceLock<RsaIdentity> = OnceLock::new();
    ID.get_or_init(|| {
        RsaIdentity::from_pkcs8_der(include_bytes!("../tests/keys/rsa2048.pk8.der")).unwrap()
    })
}

/// Open arbitrary bytes with a fixed identity (an opener holding an RSA key and a cached
/// session key): never panics, never opens. Then XOR `data` onto a valid envelope for that
/// session key: it opens exactly when nothing changed.
pub fn open_envelope(data: &[u8]) {
    let sk = SessionKey::from_bytes([7; 32]);
    let mut opener = Opener::new(identity(), OpenerConfig::default());
    opener.insert(0, sk.clone());
    if let Ok(e) = Envelope::decode(data) {
        assert!(opener.open(1, &e, BOUND).is_err());
        assert!(open(&sk, &e, BOUND).is_err());
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(j) = Jwe::from_json(text)
    {
        assert!(open_jwe(&sk, &j, BOUND).is_err());
    }
    let sealed = crate::seal_with_rng(&mut CounterRng(1), &[&sk], b"hunter2", BOUND).unwrap();
    let mut bytes = sealed.envelope.to_bytes();
    let mut changed = false;
    for (b, m) in bytes.iter_mut().zip(data) {
        *b ^= m;
        changed |= *m != 0;
    }
    let result = Envelope::decode(&bytes).map(|e| opener.open(2, &e, BOUND));
    match result {
        Ok(Ok(o)) => {
            assert!(!changed, "a modified envelope opened");
            assert_eq!(o.secret.expose(), b"hunter2");
        }
        _ => assert!(changed, "the unmodified envelope did not open"),
    }
}

/// AES-256-GCM as the envelope uses it (test hook for the Wycheproof vectors): ciphertext
/// followed by the tag.
pub fn aes256gcm_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    crate::aead::seal(key, nonce, aad, plaintext).unwrap()
}

/// AES-256-GCM opening (test hook for the Wycheproof vectors).
pub fn aes256gcm_open(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    crate::aead::open(key, nonce, aad, sealed)
        .ok()
        .map(|p| p.to_vec())
}
