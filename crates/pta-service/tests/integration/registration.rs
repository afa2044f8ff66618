//! Agent registration through the `Registrar`: tokens, limit, CSR refusals, races, tenants.

use std::sync::Arc;

use pta_cert::{AgentIdentity, Csr, KeyPair, KeyPolicyViolation, KeySize};
use pta_service::{
    AgentStatus, AuditError, AuditKind, AuditOutcome, AuditQuery, CaFingerprint, CsrInput,
    DEFAULT_TOKEN_LIFETIME_MS, JoinToken, MemoryStore, PresentedToken, Registrar, Registration,
    RegistrationToken, ServiceError, Store, StoreError, Tenant, TokenError, TokenRecord,
};
use pta_store_sqlite::SqliteStore;

use crate::support::{MIN, SqliteFixture, T0, ip};

const AGENT_1: &str = include_str!("../../../pta-cert/tests/data/keys/agent-1.pem");
const AGENT_2: &str = include_str!("../../../pta-cert/tests/data/keys/agent-2.pem");
const WEAK_1024_CSR: &[u8] = include_bytes!("../data/weak-1024.csr.der");
const EXP3_CSR: &[u8] = include_bytes!("../data/exp3-2048.csr.der");

fn registrar() -> Registrar {
    let mut r = Registrar::new();
    r.ca_key_size = KeySize::Rsa2048;
    r
}

/// A DER CSR signed with one of pta-cert's 2048-bit test keys.
fn csr(key_pem: &str) -> Vec<u8> {
    let key = KeyPair::from_pkcs8_pem(key_pem).unwrap();
    Csr::new(&key, "agent").unwrap().as_der().to_vec()
}

/// Stores a fresh token for `tenant` created at `now`; returns its printed form.
async fn token(store: &dyn Store, tenant: &Tenant, now: u64) -> String {
    let t = RegistrationToken::generate().unwrap();
    store
        .insert_token(&TokenRecord::new(
            &t,
            tenant.id,
            now,
            DEFAULT_TOKEN_LIFETIME_MS,
        ))
        .await
        .unwrap();
    JoinToken::new(t, CaFingerprint::of_certificate(b"service CA"))
        .to_printed()
        .to_string()
}

async fn register(
    store: &dyn Store,
    printed: &str,
    csr_der: &[u8],
    now: u64,
) -> Result<Registration, ServiceError> {
    registrar()
        .register(
            store,
            printed,
            CsrInput::Der(csr_der),
            ip("192.0.2.7"),
            "1.0.0",
            now,
        )
        .await
}

fn token_kind<T>(r: Result<T, ServiceError>) -> Option<TokenError> {
    r.err().and_then(|e| e.token_error())
}

async fn registration_events(store: &dyn Store, tenant: &Tenant) -> Vec<AuditOutcome> {
    store
        .audit_events(&AuditQuery::new(tenant.id, 0, u64::MAX, 1_000))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::Registration)
        .map(|e| e.outcome)
        .collect()
}

async fn happy_path(store: &dyn Store) {
    let t = registrar()
        .create_tenant(store, "contoso.com", T0)
        .await
        .unwrap();
    assert_eq!(store.tenant(&t.id).await.unwrap(), Some(t.clone()));
    assert!(matches!(
        registrar().create_tenant(store, "contoso.com", T0).await,
        Err(ServiceError::Store(StoreError::TenantExists))
    ));

    let printed = token(store, &t, T0).await;
    let der = csr(AGENT_1);
    let reg = register(store, &printed, &der, T0 + MIN).await.unwrap();
    assert_eq!(reg.tenant, t.id);

    // The certificate names the returned agent and tenant.
    assert_eq!(reg.certificate_chain_der.len(), 2);
    let who = AgentIdentity::read_unverified(&reg.certificate_chain_der[0]).unwrap();
    assert_eq!(who.agent_id, reg.agent_id.to_string());
    assert_eq!(who.tenant, t.id.to_string());
    // The chain ends with the tenant's stored CA certificate.
    let stored = store.authority(&t.id).await.unwrap().unwrap();
    assert_eq!(reg.ca_certificate_der, stored.certificate);
    assert_eq!(reg.certificate_chain_der[1], reg.ca_certificate_der);
    assert!(
        std::str::from_utf8(stored.key.expose())
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    // The agent record.
    let agent = store.agent(&reg.agent_id).await.unwrap().unwrap();
    assert_eq!(agent.tenant, t.id);
    assert_eq!(agent.status, AgentStatus::Active);
    assert_eq!(agent.software_version, "1.0.0");
    assert_eq!(agent.last_source, Some(ip("192.0.2.7")));
    assert_eq!((agent.first_seen, agent.last_seen), (T0 + MIN, T0 + MIN));
    let key = KeyPair::from_pkcs8_pem(AGENT_1).unwrap();
    assert_eq!(agent.public_key, key.public_key_der().unwrap());
    assert!(!agent.certificate_serial.is_empty());

    // The audit event: registration, agent, source; no token.
    let events = store
        .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 100))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, AuditKind::Registration);
    assert_eq!(events[0].outcome, AuditOutcome::Ok);
    assert_eq!(events[0].agent, Some(reg.agent_id));
    assert_eq!(events[0].source, Some(ip("192.0.2.7")));
    assert_eq!(events[0].time, T0 + MIN);

    // The token is spent.
    assert_eq!(
        token_kind(register(store, &printed, &der, T0 + 2 * MIN).await),
        Some(TokenError::AlreadyUsed)
    );
    assert_eq!(store.agents(&t.id).await.unwrap().len(), 1);

    // A parsed token and a PEM CSR work too.
    let printed = token(store, &t, T0).await;
    let join = JoinToken::parse(&printed).unwrap();
    let pem = Csr::from_der(&csr(AGENT_2)).unwrap().to_pem().unwrap();
    let reg2 = registrar()
        .register(
            store,
            PresentedToken::from(&join),
            CsrInput::Pem(&pem),
            ip("2001:db8::1"),
            "1.0.1",
            T0 + 3 * MIN,
        )
        .await
        .unwrap();
    assert_ne!(reg2.agent_id, reg.agent_id);
    assert_eq!(store.agents(&t.id).await.unwrap().len(), 2);
}

async fn refused_tokens(store: &dyn Store) {
    let t = registrar()
        .create_tenant(store, "fabrikam", T0)
        .await
        .unwrap();
    let der = csr(AGENT_1);

    // Unknown: well formed, never stored.
    let never = JoinToken::new(
        RegistrationToken::generate().unwrap(),
        CaFingerprint::of_certificate(b"service CA"),
    )
    .to_printed();
    assert_eq!(
        token_kind(register(store, &never, &der, T0).await),
        Some(TokenError::Unknown)
    );

    // Malformed.
    assert_eq!(
        token_kind(register(store, "pta1.nope", &der, T0).await),
        Some(TokenError::Malformed)
    );

    // Expired at exactly its lifetime, and not spent by the refusal.
    let printed = token(store, &t, T0).await;
    let expiry = T0 + DEFAULT_TOKEN_LIFETIME_MS;
    assert_eq!(
        token_kind(register(store, &printed, &der, expiry).await),
        Some(TokenError::Expired)
    );
    let hash = JoinToken::parse(&printed).unwrap().token().hash();
    assert_eq!(store.token(&hash).await.unwrap().unwrap().used_at, None);

    // Reused.
    let printed = token(store, &t, T0).await;
    register(store, &printed, &der, T0 + 1).await.unwrap();
    assert_eq!(
        token_kind(register(store, &printed, &der, T0 + 2).await),
        Some(TokenError::AlreadyUsed)
    );

    assert_eq!(store.agents(&t.id).await.unwrap().len(), 1);
    // Oldest first: the expired attempt came last in time.
    assert_eq!(
        registration_events(store, &t).await,
        [
            AuditOutcome::Ok,
            AuditOutcome::Error(AuditError::TokenReused),
            AuditOutcome::Error(AuditError::TokenExpired),
        ]
    );
}

async fn limit_does_not_burn_tokens(store: &dyn Store) {
    let t = registrar()
        .create_tenant(store, "limited", T0)
        .await
        .unwrap();
    store.set_agent_limit(&t.id, 1).await.unwrap();
    let der = csr(AGENT_1);
    let first = register(store, &token(store, &t, T0).await, &der, T0)
        .await
        .unwrap();

    // At the limit: refused, and the token stays unused.
    let second = token(store, &t, T0).await;
    let refused = register(store, &second, &der, T0 + 1).await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Store(StoreError::AgentLimitReached {
                limit: 1
            }))
        ),
        "{refused:?}"
    );
    let hash = JoinToken::parse(&second).unwrap().token().hash();
    assert_eq!(store.token(&hash).await.unwrap().unwrap().used_at, None);

    // Raising the limit lets the same token through.
    store.set_agent_limit(&t.id, 2).await.unwrap();
    register(store, &second, &der, T0 + 2).await.unwrap();

    // Removing an agent does too.
    let third = token(store, &t, T0).await;
    assert!(matches!(
        register(store, &third, &der, T0 + 3).await,
        Err(ServiceError::Store(StoreError::AgentLimitReached {
            limit: 2
        }))
    ));
    assert!(store.delete_agent(&first.agent_id).await.unwrap());
    register(store, &third, &der, T0 + 4).await.unwrap();
    assert_eq!(store.agents(&t.id).await.unwrap().len(), 2);
    assert!(
        registration_events(store, &t)
            .await
            .contains(&AuditOutcome::Error(AuditError::AgentLimitReached))
    );
}

async fn bad_csrs(store: &dyn Store) {
    let t = registrar()
        .create_tenant(store, "csr.example", T0)
        .await
        .unwrap();
    let printed = token(store, &t, T0).await;

    let weak = register(store, &printed, WEAK_1024_CSR, T0).await;
    assert!(
        matches!(
            weak,
            Err(ServiceError::KeyPolicy(KeyPolicyViolation::TooSmall {
                bits: 1024
            }))
        ),
        "{weak:?}"
    );
    let e3 = register(store, &printed, EXP3_CSR, T0).await;
    assert!(
        matches!(
            e3,
            Err(ServiceError::KeyPolicy(KeyPolicyViolation::Exponent))
        ),
        "{e3:?}"
    );
    let mut broken = csr(AGENT_1);
    let last = broken.len() - 1;
    broken[last] ^= 0x01;
    let bad_sig = register(store, &printed, &broken, T0).await;
    assert!(
        matches!(bad_sig, Err(ServiceError::CsrSignatureInvalid)),
        "{bad_sig:?}"
    );
    let garbage = register(store, &printed, b"not a CSR", T0).await;
    assert!(
        matches!(garbage, Err(ServiceError::MalformedCsr)),
        "{garbage:?}"
    );

    // None of them spent the token or registered anything.
    assert!(store.agents(&t.id).await.unwrap().is_empty());
    register(store, &printed, &csr(AGENT_1), T0 + 1)
        .await
        .unwrap();
}

async fn tenant_isolation(store: &dyn Store) {
    let a = registrar()
        .create_tenant(store, "a.example", T0)
        .await
        .unwrap();
    let b = registrar()
        .create_tenant(store, "b.example", T0)
        .await
        .unwrap();
    let ca_a = store.authority(&a.id).await.unwrap().unwrap().certificate;
    let ca_b = store.authority(&b.id).await.unwrap().unwrap().certificate;
    assert_ne!(ca_a, ca_b);

    let reg = register(store, &token(store, &a, T0).await, &csr(AGENT_1), T0)
        .await
        .unwrap();
    assert_eq!(reg.tenant, a.id);
    assert_eq!(reg.ca_certificate_der, ca_a);
    let who = AgentIdentity::read_unverified(&reg.certificate_chain_der[0]).unwrap();
    assert_eq!(who.tenant, a.id.to_string());
    assert_eq!(store.agents(&a.id).await.unwrap().len(), 1);
    assert!(store.agents(&b.id).await.unwrap().is_empty());
    assert_eq!(registration_events(store, &a).await, [AuditOutcome::Ok]);
    assert!(registration_events(store, &b).await.is_empty());
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                super::$name(&pta_service::MemoryStore::new()).await;
            }

            #[tokio::test]
            async fn sqlite() {
                super::$name(&crate::support::SqliteFixture::new().store).await;
            }
        }
    )*};
}

on_both_stores!(
    happy_path,
    refused_tokens,
    limit_does_not_burn_tokens,
    bad_csrs,
    tenant_isolation,
);

/// Several registrations race with one token: exactly one succeeds, the rest are told the
/// token is used, and only one agent exists. `stores` share one state.
async fn race(stores: Vec<Arc<dyn Store>>) {
    let t = registrar()
        .create_tenant(stores[0].as_ref(), "race.example", T0)
        .await
        .unwrap();
    let der = Arc::new(csr(AGENT_1));
    for round in 0..3 {
        let printed = Arc::new(token(stores[0].as_ref(), &t, T0).await);
        let mut tasks = Vec::new();
        for i in 0..4 {
            let store = Arc::clone(&stores[i % stores.len()]);
            let (printed, der) = (Arc::clone(&printed), Arc::clone(&der));
            tasks.push(tokio::spawn(async move {
                register(store.as_ref(), &printed, &der, T0 + 1).await
            }));
        }
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(reg) => {
                    assert_eq!(reg.tenant, t.id);
                    won += 1;
                }
                Err(e) => assert_eq!(e.token_error(), Some(TokenError::AlreadyUsed), "{e}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
        let agents = stores[0].agents(&t.id).await.unwrap();
        assert_eq!(agents.len(), round + 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_memory() {
    race(vec![Arc::new(MemoryStore::new())]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_sqlite_two_connections() {
    let f = SqliteFixture::new();
    let second = SqliteStore::open(f.path()).unwrap();
    race(vec![Arc::new(f.store.clone()), Arc::new(second)]).await;
}
