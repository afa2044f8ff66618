//! Property tests: round trips, single-bit tampering, addressing, bound data.

use proptest::prelude::*;
use pta_envelope::fuzzing::CounterRng;
use pta_envelope::{
    Envelope, Identity, MAX_SECRET, OpenError, Opener, OpenerConfig, Recipient, Sealer,
    SealerConfig, SessionKey, open, seal,
};

use crate::{BOUND, rsa};

fn keys(seeds: &[[u8; 32]]) -> Vec<SessionKey> {
    seeds.iter().map(|s| SessionKey::from_bytes(*s)).collect()
}

fn distinct_seeds(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<[u8; 32]>> {
    prop::collection::hash_set(any::<[u8; 32]>(), n).prop_map(|s| s.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any secret up to the limit, 1..=40 recipients (an RSA-2048 one among them when
    /// `with_rsa`): every recipient opens it, the binary encoding round-trips.
    #[test]
    fn round_trip(
        secret in prop::collection::vec(any::<u8>(), 0..=MAX_SECRET),
        seeds in distinct_seeds(1..=40),
        with_rsa in any::<bool>(),
    ) {
        let ks = keys(&seeds);
        let rsa_r = rsa(2048).to_recipient();
        let mut rs: Vec<&dyn Recipient> = ks.iter().map(|k| k as &dyn Recipient).collect();
        if with_rsa && rs.len() < 40 {
            rs.insert(rs.len() / 2, &rsa_r);
        }
        let sealed = seal(&rs, &secret, BOUND).unwrap();
        let bytes = sealed.envelope.to_bytes();
        let e = Envelope::decode(&bytes).unwrap();
        prop_assert_eq!(&e, &sealed.envelope);
        prop_assert_eq!(e.stanzas().len(), rs.len());
        for k in &ks {
            let o = open(k, &e, BOUND).unwrap();
            prop_assert_eq!(o.secret.expose(), &secret[..]);
        }
        if with_rsa && ks.len() < 40 {
            let o = open(rsa(2048), &e, BOUND).unwrap();
            prop_assert_eq!(o.secret.expose(), &secret[..]);
        }
    }

    /// Flipping any one bit of an envelope with an RSA stanza makes opening fail for both
    /// identities.
    #[test]
    fn any_bit_flip_fails_with_rsa(secret in prop::collection::vec(any::<u8>(), 0..64), bit in any::<prop::sample::Index>()) {
        let sk = SessionKey::from_bytes([9; 32]);
        let rsa_r = rsa(2048).to_recipient();
        let sealed = seal(&[&sk, &rsa_r], &secret, BOUND).unwrap();
        let mut bytes = sealed.envelope.to_bytes();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        if let Ok(e) = Envelope::decode(&bytes) {
            prop_assert!(open(&sk, &e, BOUND).is_err());
            prop_assert!(open(rsa(2048), &e, BOUND).is_err());
        }
    }

    /// A recipient the envelope does not address gets not-mine from every stanza.
    #[test]
    fn not_addressed(seeds in distinct_seeds(1..=8), other in any::<[u8; 32]>()) {
        prop_assume!(!seeds.contains(&other));
        let ks = keys(&seeds);
        let rsa_r = rsa(2048).to_recipient();
        let mut rs: Vec<&dyn Recipient> = ks.iter().map(|k| k as &dyn Recipient).collect();
        rs.push(&rsa_r);
        let e = seal(&rs, b"pw", BOUND).unwrap().envelope;
        let outsider = SessionKey::from_bytes(other);
        let other_rsa = rsa(3072);
        for s in e.stanzas() {
            prop_assert!(outsider.unwrap(s, e.nonce()).is_none());
            prop_assert!(other_rsa.unwrap(s, e.nonce()).is_none());
        }
        prop_assert_eq!(open(&outsider, &e, BOUND).unwrap_err(), OpenError::NotAddressed);
        prop_assert_eq!(open(other_rsa, &e, BOUND).unwrap_err(), OpenError::NotAddressed);
    }

    /// Any other bound data makes opening fail with the one decryption error.
    #[test]
    fn wrong_bound_data(bound in prop::collection::vec(any::<u8>(), 0..128), other in prop::collection::vec(any::<u8>(), 0..128)) {
        prop_assume!(bound != other);
        let sk = SessionKey::from_bytes([4; 32]);
        let e = seal(&[&sk], b"pw", &bound).unwrap().envelope;
        prop_assert_eq!(open(&sk, &e, &other).unwrap_err(), OpenError::Decrypt);
        let o = open(&sk, &e, &bound).unwrap();
        prop_assert_eq!(o.secret.expose(), b"pw");
    }
}

/// Every single-bit flip of a session-key envelope (three recipients) fails, for the plain
/// identity and for an opener holding the key: checked exhaustively.
#[test]
fn every_bit_flip_fails() {
    // The opener learns the middle key through a grant from a sealer whose generator is
    // replayed here to know that key.
    let middle = SessionKey::generate(&mut CounterRng(5)).unwrap();
    let mut sealer = Sealer::with_rng(SealerConfig::default(), CounterRng(5));
    let g = sealer
        .seal(0, &rsa(2048).to_recipient(), b"x", BOUND)
        .unwrap();
    let mut opener = Opener::new(rsa(2048), OpenerConfig::default());
    opener.open(0, &g.envelope, BOUND).unwrap();
    let ks = vec![
        SessionKey::from_bytes([1; 32]),
        middle,
        SessionKey::from_bytes([3; 32]),
    ];
    let rs: Vec<&dyn Recipient> = ks.iter().map(|k| k as &dyn Recipient).collect();
    let bytes = seal(&rs, b"correct horse battery", BOUND)
        .unwrap()
        .envelope
        .to_bytes();
    assert!(
        opener
            .open(1, &Envelope::decode(&bytes).unwrap(), BOUND)
            .is_ok()
    );
    let mut checked = 0;
    for i in 0..bytes.len() * 8 {
        let mut v = bytes.clone();
        v[i / 8] ^= 1 << (i % 8);
        let Ok(e) = Envelope::decode(&v) else {
            continue;
        };
        checked += 1;
        for k in &ks {
            assert!(open(k, &e, BOUND).is_err(), "bit {i}");
        }
        assert!(opener.open(1, &e, BOUND).is_err(), "bit {i}");
    }
    assert!(
        checked > bytes.len() * 4,
        "most flips still decode: {checked}"
    );
    // And the unmodified envelope opens.
    let e = Envelope::decode(&bytes).unwrap();
    assert_eq!(
        open(&ks[1], &e, BOUND).unwrap().secret.expose(),
        b"correct horse battery"
    );
}
