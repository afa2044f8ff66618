//! Authority behaviour beyond what openssl checks: names, identity, validity caps, reloading.

use std::time::SystemTime;

use pta_cert::{
    AgentIdentity, Authority, AuthorityConfig, CertValidity, Csr, Error, RenewalDecision,
    RenewalPolicy, SanEntry, TenantTrust,
};

use crate::common::*;

#[test]
fn identity_round_trip_and_refusals() {
    let now = SystemTime::now();
    let ca = root_a(now);
    let issued = issue(&ca, &key("agent-1"), "agent-1", now);
    let id = AgentIdentity::read_unverified(&issued.der).unwrap();
    assert_eq!((id.agent_id.as_str(), id.tenant.as_str()), ("agent-1", "a"));

    let mut trust = TenantTrust::new();
    assert!(matches!(trust.identify(&issued.chain), Err(Error::UnknownTenant(t)) if t == "a"));
    trust.insert_authority(&ca).unwrap();
    assert_eq!(trust.identify(&issued.chain).unwrap(), id);
    assert!(matches!(trust.identify(&[]), Err(Error::NoAgentIdentity)));

    // A server certificate carries no agent identity.
    let csr = Csr::new(&key("service"), "svc").unwrap();
    let server = ca
        .issue_server(&csr, &[SanEntry::Dns("svc.example".into())], now)
        .unwrap();
    assert!(matches!(
        trust.identify(&server.chain),
        Err(Error::NoAgentIdentity)
    ));
    // Nor does a CA certificate, and garbage is malformed.
    assert!(matches!(
        trust.identify(ca.chain()),
        Err(Error::NoAgentIdentity)
    ));
    let garbage = rustls::pki_types::CertificateDer::from(vec![0x30, 0x03, 1, 2, 3]);
    assert!(matches!(
        trust.identify(&[garbage]),
        Err(Error::MalformedCertificate)
    ));
}

#[test]
fn ca_names_must_be_unique_across_tenants() {
    let now = SystemTime::now();
    let a = root_a(now);
    // Same default common name "pta agent CA a", other key, registered for tenant c.
    let copy = Authority::create_root(config("a"), key("ca-b"), now).unwrap();
    let mut trust = TenantTrust::new();
    trust.insert_authority(&a).unwrap();
    assert!(matches!(trust.insert("c", copy.chain()), Err(Error::DuplicateCaName(t)) if t == "a"));
    // Replacing tenant a's own CA is allowed.
    trust.insert("a", copy.chain()).unwrap();
    assert_eq!(trust.len(), 1);
    assert!(trust.remove("a"));
    assert!(trust.is_empty());
    // A leaf is not a CA.
    let leaf = issue(&a, &key("agent-1"), "agent-1", now);
    assert!(matches!(
        trust.insert("x", &leaf.chain),
        Err(Error::MalformedCertificate)
    ));
}

#[test]
fn names_are_validated() {
    let now = SystemTime::now();
    let ca = root_a(now);
    let csr = Csr::new(&key("agent-1"), "agent-1").unwrap();
    for bad in ["", "a b", "x,O=evil", "urn:pta:agent:x", &"y".repeat(65)] {
        assert!(
            matches!(ca.issue_agent(&csr, bad, now), Err(Error::InvalidName(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Authority::create_root(config("bad tenant"), key("ca-b"), now),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        ca.issue_server(&csr, &[], now),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        ca.issue_server(&csr, &[SanEntry::Dns("*.example".into())], now),
        Err(Error::InvalidName(_))
    ));
}

#[test]
fn lifetimes_are_configurable_and_capped_by_the_ca() {
    let now = SystemTime::now();
    let mut cfg = config("a");
    cfg.agent_lifetime = 30 * DAY;
    cfg.ca_lifetime = 100 * DAY;
    let ca = Authority::create_root(cfg.clone(), key("ca-a"), now).unwrap();
    let issued = issue(&ca, &key("agent-1"), "agent-1", now);
    let v = CertValidity::from_certificate_der(&issued.der).unwrap();
    assert_eq!(v.not_before, issued.not_before);
    assert_eq!(
        v.not_after.duration_since(v.not_before).unwrap().as_secs(),
        30 * 86_400 + 300
    );
    // Issued 90 days later: capped at the CA's notAfter (day 100).
    let late = issue(&ca, &key("agent-1"), "agent-1", now + 90 * DAY);
    assert_eq!(late.not_after, ca.not_after());
    // After the CA expired nothing can be issued.
    let csr = Csr::new(&key("agent-1"), "agent-1").unwrap();
    assert!(matches!(
        ca.issue_agent(&csr, "agent-1", now + 101 * DAY),
        Err(Error::InvalidValidity)
    ));
    // Serials are distinct.
    assert_ne!(issued.serial, late.serial);
}

#[test]
fn authority_reloads_from_parts_and_refuses_wrong_key() {
    let now = SystemTime::now();
    let (_, intermediate) = intermediate_a(now);
    let pem = intermediate.key().to_pkcs8_pem().unwrap();
    let reloaded = Authority::from_parts(
        intermediate.config().clone(),
        pta_cert::KeyPair::from_pkcs8_pem(pem.expose()).unwrap(),
        intermediate.chain().to_vec(),
    )
    .unwrap();
    let issued = issue(&reloaded, &key("agent-1"), "agent-1", now);
    let mut trust = TenantTrust::new();
    trust.insert_authority(&intermediate).unwrap();
    assert_eq!(trust.identify(&issued.chain).unwrap().agent_id, "agent-1");
    assert!(matches!(
        Authority::from_parts(
            AuthorityConfig::for_tenant("a"),
            key("ca-b"),
            intermediate.chain().to_vec()
        ),
        Err(Error::KeyMismatch)
    ));
    assert!(matches!(
        Authority::from_parts(AuthorityConfig::for_tenant("a"), key("ca-b"), vec![]),
        Err(Error::MalformedCertificate)
    ));
}

#[test]
fn renewal_policy_on_an_issued_certificate() {
    let now = SystemTime::now();
    let ca = root_a(now);
    let issued = issue(&ca, &key("agent-1"), "agent-1", now);
    let v = CertValidity::from_certificate_der(&issued.der).unwrap();
    let p = RenewalPolicy::default();
    assert!(matches!(
        p.decide(&v, now, 7),
        RenewalDecision::NotYet { .. }
    ));
    assert_eq!(p.decide(&v, now + 130 * DAY, 7), RenewalDecision::RenewNow);
    assert_eq!(p.decide(&v, now + 181 * DAY, 7), RenewalDecision::Expired);
}
