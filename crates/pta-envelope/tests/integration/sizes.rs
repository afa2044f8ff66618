//! Envelope sizes against the goals: a 16-byte password in at most 120 bytes plus 60 per
//! session-key recipient; an RSA-3072 stanza in at most 400 bytes.

use pta_envelope::{Recipient, RsaRecipient, SessionKey, Stanza, seal};

use crate::{BOUND, rsa, spki};

fn stanza_len(s: &Stanza) -> usize {
    let mut v = Vec::new();
    s.encode(&mut v);
    v.len()
}

#[test]
fn session_key_envelopes_meet_the_size_goal() {
    for n in [1usize, 3, 10, 40] {
        let keys: Vec<SessionKey> = (0..n)
            .map(|i| SessionKey::from_bytes([i as u8; 32]))
            .collect();
        let recipients: Vec<&dyn Recipient> = keys.iter().map(|k| k as &dyn Recipient).collect();
        let e = seal(&recipients, &[b'p'; 16], BOUND).unwrap().envelope;
        let len = e.to_bytes().len();
        assert_eq!(len, 14 + 57 * n + 16 + 16, "N = {n}");
        assert!(len <= 120 + 60 * n, "N = {n}: {len} bytes");
    }
}

#[test]
fn rsa_stanzas_meet_the_size_goal() {
    let r3072 = RsaRecipient::from_spki_der(&spki(3072)).unwrap();
    let e = seal(&[&r3072], &[b'p'; 16], BOUND).unwrap().envelope;
    assert_eq!(stanza_len(&e.stanzas()[0]), 1 + 8 + 2 + 384);
    assert!(stanza_len(&e.stanzas()[0]) <= 400);
    for bits in [2048, 4096] {
        let e = seal(&[&rsa(bits).to_recipient()], b"x", BOUND)
            .unwrap()
            .envelope;
        assert_eq!(stanza_len(&e.stanzas()[0]), 11 + bits / 8);
    }
}
