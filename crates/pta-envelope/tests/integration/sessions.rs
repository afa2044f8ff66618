//! Sealer and opener: epochs, grants, rotation by age and use count, cache eviction and TTL,
//! the UnknownSessionKey resend, and reply authentication.

use proptest::prelude::*;
use pta_envelope::{
    Envelope, OpenError, Opened, Opener, OpenerConfig, Reply, RsaIdentity, RsaRecipient, Sealed,
    Sealer, SealerConfig, Stanza,
};

use crate::{BOUND, rsa};

fn sealer(max_age_ms: u64, max_uses: u64) -> Sealer {
    let mut c = SealerConfig::default();
    c.session_key_max_age_ms = max_age_ms;
    c.session_key_max_uses = max_uses;
    Sealer::new(c)
}

fn opener(max_keys: usize, ttl_ms: u64) -> Opener<&'static RsaIdentity> {
    let mut c = OpenerConfig::default();
    c.max_session_keys = max_keys;
    c.session_key_ttl_ms = ttl_ms;
    Opener::new(rsa(2048), c)
}

fn has_grant(e: &Envelope) -> bool {
    e.stanzas()
        .iter()
        .any(|s| matches!(s, Stanza::SessionKeyGrant { .. }))
}

/// Seal, open; on UnknownSessionKey resend with the grant, which must open.
fn deliver(
    s: &mut Sealer,
    o: &mut Opener<&'static RsaIdentity>,
    agent: &RsaRecipient,
    now: u64,
    secret: &[u8],
) -> (Sealed, Opened, bool) {
    let sealed = s.seal(now, agent, secret, BOUND).unwrap();
    let e = Envelope::decode(&sealed.envelope.to_bytes()).unwrap();
    match o.open(now, &e, BOUND) {
        Ok(opened) => (sealed, opened, false),
        Err(OpenError::UnknownSessionKey(_)) => {
            assert!(!has_grant(&e), "an envelope with a grant must open");
            let again = s.seal_with_grant(now, agent, secret, BOUND).unwrap();
            assert!(has_grant(&again.envelope));
            let opened = o
                .open(now, &again.envelope, BOUND)
                .expect("the resend opens");
            (again, opened, true)
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn grant_once_per_epoch_then_session_key_only() {
    let agent = rsa(2048).to_recipient();
    let mut s = sealer(1_000, 3);
    let mut o = opener(4, 10_000);
    let mut grants = Vec::new();
    for (i, now) in [0u64, 1, 2, 3, 4, 500, 1_003, 1_004]
        .into_iter()
        .enumerate()
    {
        let (sealed, opened, resent) = deliver(&mut s, &mut o, &agent, now, b"pw");
        assert!(!resent);
        assert_eq!(opened.secret.expose(), b"pw");
        grants.push(has_grant(&sealed.envelope));
        assert_eq!(
            sealed.envelope.stanzas().len(),
            if grants[i] { 2 } else { 1 }
        );
    }
    // Epochs: uses 0..3 (count), 3..6 (count), then age at 1003.
    assert_eq!(
        grants,
        [true, false, false, true, false, false, true, false]
    );
    assert_eq!(s.agents(), 1);
    s.expire(5_000);
    assert_eq!(s.agents(), 0);
}

#[test]
fn unknown_session_key_after_agent_restart_then_resend_opens() {
    let agent = rsa(2048).to_recipient();
    let mut s = sealer(60_000, 1_000);
    let mut o = opener(4, 120_000);
    deliver(&mut s, &mut o, &agent, 0, b"a");
    let mut restarted = opener(4, 120_000);
    let sealed = s.seal(1, &agent, b"b", BOUND).unwrap();
    let err = restarted.open(1, &sealed.envelope, BOUND).unwrap_err();
    let Stanza::SessionKey { id, .. } = &sealed.envelope.stanzas()[0] else {
        panic!()
    };
    assert_eq!(err, OpenError::UnknownSessionKey(*id));
    let again = s.seal_with_grant(1, &agent, b"b", BOUND).unwrap();
    assert_eq!(
        restarted
            .open(1, &again.envelope, BOUND)
            .unwrap()
            .secret
            .expose(),
        b"b"
    );
    // Cached now: the next envelope opens without RSA.
    let next = s.seal(2, &agent, b"c", BOUND).unwrap();
    assert!(!has_grant(&next.envelope));
    assert_eq!(
        restarted
            .open(2, &next.envelope, BOUND)
            .unwrap()
            .secret
            .expose(),
        b"c"
    );
}

#[test]
fn cache_is_bounded_and_ttl_applies() {
    let agent = rsa(2048).to_recipient();
    let mut nodes: Vec<Sealer> = (0..3).map(|_| sealer(60_000, 1_000)).collect();
    let mut o = opener(2, 10_000);
    for n in &mut nodes {
        deliver(n, &mut o, &agent, 0, b"x");
        assert!(o.cached() <= 2);
    }
    // Node 0's key was evicted (least recently used): UnknownSessionKey, then the resend.
    let (_, _, resent) = deliver(&mut nodes[0], &mut o, &agent, 1, b"x");
    assert!(resent);
    // Past the TTL every key is gone.
    let sealed = nodes[0].seal(10_001, &agent, b"x", BOUND).unwrap();
    assert!(matches!(
        o.open(10_001, &sealed.envelope, BOUND),
        Err(OpenError::UnknownSessionKey(_))
    ));
    assert_eq!(o.cached(), 0);
}

#[test]
fn reply_mac_verifies_only_for_its_request() {
    let agent = rsa(2048).to_recipient();
    let mut s = sealer(60_000, 1_000);
    let mut o = opener(4, 120_000);
    let (a, opened_a, _) = deliver(&mut s, &mut o, &agent, 0, b"a");
    let (b, _, _) = deliver(&mut s, &mut o, &agent, 1, b"b");
    let reply = Reply {
        request_id: &[1; 16],
        verdict: 2,
        warnings: b"",
    };
    let mac = opened_a.reply_key.mac(&reply);
    assert_eq!(a.reply_key.verify(&reply, &mac.0), Ok(()));
    // Moved to another request, or the verdict changed: rejected.
    assert_eq!(
        b.reply_key.verify(&reply, &mac.0),
        Err(OpenError::BadReplyMac)
    );
    let success = Reply {
        verdict: 1,
        ..reply
    };
    assert_eq!(
        a.reply_key.verify(&success, &mac.0),
        Err(OpenError::BadReplyMac)
    );
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u64),
    Seal(usize),
    RestartAgent,
    Forget(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u64..400_000).prop_map(Op::Advance),
        4 => (0usize..3).prop_map(Op::Seal),
        1 => Just(Op::RestartAgent),
        1 => (0usize..3).prop_map(Op::Forget),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Three service nodes seal for one agent through rotations (by age and count), cache
    /// evictions, TTL expiry, agent restarts and forgotten keys: every request opens, at
    /// worst after one resend with the grant.
    #[test]
    fn rotation_and_eviction_never_lose_the_ability_to_open(
        ops in prop::collection::vec(op(), 1..40),
        max_uses in 1u64..6,
        max_keys in 1usize..4,
    ) {
        let agent = rsa(2048).to_recipient();
        let mut nodes: Vec<Sealer> = (0..3).map(|_| sealer(1_000_000, max_uses)).collect();
        let mut o = opener(max_keys, 1_500_000);
        let mut now = 0u64;
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Advance(ms) => now += ms,
                Op::Seal(n) => {
                    let secret = format!("secret {i}");
                    let (sealed, opened, _) = deliver(&mut nodes[n], &mut o, &agent, now, secret.as_bytes());
                    prop_assert_eq!(opened.secret.expose(), secret.as_bytes());
                    let r = Reply { request_id: &[i as u8; 16], verdict: 1, warnings: b"w" };
                    prop_assert!(sealed.reply_key.verify(&r, &opened.reply_key.mac(&r).0).is_ok());
                    prop_assert!(o.cached() <= max_keys);
                }
                Op::RestartAgent => o = opener(max_keys, 1_500_000),
                Op::Forget(n) => nodes[n].forget(&agent_id(&agent)),
            }
        }
    }
}

fn agent_id(r: &RsaRecipient) -> pta_envelope::KeyId {
    use pta_envelope::AgentRecipient;
    *r.key_id()
}
