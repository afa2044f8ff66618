//! Agent lifecycle over real TLS: revocation, renewal, status sweep, restart, source change,
//! and secrets staying out of the store and the logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pta_cert::Csr;
use pta_service::{
    AgentStatus, AuditKind, AuditQuery, ManualClock, MemoryStore, Service, Store, SystemClock,
    revoke_agent_in_store,
};
use pta_store_sqlite::SqliteStore;
use pta_wire::{CloseReason, ErrorCode, RenewResult, Verdict};
use rustls::pki_types::CertificateDer;

use crate::rt_support::{
    Behaviour, bounded, captured_logs, connect, connect_from, ctx, eventually, issue, manual_clock,
    metric, new_key, options, password, register, service, service_with, tenant, tenant_authority,
    users,
};
use crate::support::{DAY, MIN, SqliteFixture, contains, dir_bytes};

async fn audit_kinds(store: &dyn Store, tenant: &pta_service::TenantId) -> Vec<AuditKind> {
    store
        .audit_events(&AuditQuery::new(*tenant, 0, u64::MAX, 10_000))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_disconnects_at_once_and_refuses_reconnection() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "revoke.example").await;
        let r = register(&svc, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        let crl_before = svc.crl_der(&t.id).await.unwrap();

        let started = Instant::now();
        assert!(svc.revoke_agent(&r.id).await.unwrap());
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(2))
            .await
            .expect("not closed");
        let took = started.elapsed();
        assert_eq!(reason, CloseReason::Revoked);
        assert!(took < Duration::from_secs(1), "disconnect took {took:?}");
        println!("revocation to disconnect: {took:?}");

        assert!(!svc.revoke_agent(&r.id).await.unwrap(), "revoked twice");
        let crl_after = svc.crl_der(&t.id).await.unwrap();
        assert_ne!(crl_before, crl_after);
        assert!(connect(&r, users(&[]), Behaviour::Answer).await.is_err());
        let record = svc.store().agent(&r.id).await.unwrap().unwrap();
        assert_eq!(record.status, AgentStatus::Revoked);
        svc.flush_audit().await;
        assert!(
            audit_kinds(svc.store().as_ref(), &t.id)
                .await
                .contains(&AuditKind::Revocation)
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_by_another_process_disconnects_within_two_seconds() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "cli.example").await;
        let r = register(&svc, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        let store = svc.store();
        let started = Instant::now();
        // What the offline CLI does: the store only.
        assert!(
            revoke_agent_in_store(store.as_ref(), &r.id, SystemClock.unix_ms_now())
                .await
                .unwrap()
        );
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(3))
            .await
            .expect("not closed");
        let took = started.elapsed();
        assert_eq!(reason, CloseReason::Revoked);
        assert!(
            took < Duration::from_millis(2_500),
            "disconnect took {took:?}"
        );
        println!("store revocation to disconnect: {took:?}");
        assert!(connect(&r, users(&[]), Behaviour::Answer).await.is_err());
        svc.shutdown().await;
    })
    .await;
}

trait NowMs {
    fn unix_ms_now(&self) -> u64;
}

impl NowMs for SystemClock {
    fn unix_ms_now(&self) -> u64 {
        pta_service::Clock::unix_ms(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_gives_a_working_certificate_and_is_refused_once_revoked() {
    bounded(async {
        let mut o = options();
        // Slow polling, and the revocation below written through another handle on the file
        // (which fires no change signal here), so it is not applied before the renewal.
        o.store_poll_interval = Duration::from_secs(30);
        let file = SqliteFixture::new();
        let store: Arc<dyn Store> = Arc::new(file.store.clone());
        let svc = Service::start(Arc::clone(&store), o, Arc::new(SystemClock))
            .await
            .unwrap();
        let t = tenant(&svc, "renew.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("alice", "pw")]), Behaviour::Answer)
            .await
            .unwrap();
        let before = store.agent(&r.id).await.unwrap().unwrap();

        let key = new_key();
        let csr = Csr::new(&key, "renewed").unwrap();
        let response = agent.renew(csr.as_der().to_vec()).await;
        let RenewResult::Chain(chain) = response.result else {
            panic!("renewal refused: {response:?}");
        };
        assert_eq!(chain.len(), 2);
        assert_eq!(
            chain[1],
            svc.store()
                .authority(&t.id)
                .await
                .unwrap()
                .unwrap()
                .certificate
        );
        let after = store.agent(&r.id).await.unwrap().unwrap();
        assert_ne!(after.certificate_serial, before.certificate_serial);
        assert_ne!(after.public_key, before.public_key);
        assert_eq!(after.public_key, key.public_key_der().unwrap());
        assert_eq!(metric(&svc, "pta_renewals_total{result=\"ok\"}"), 1);

        // The renewed certificate connects and serves, with no new-key alert.
        let renewed = r.with_credential(key, chain.into_iter().map(CertificateDer::from).collect());
        let second = connect(&renewed, users(&[("alice", "pw")]), Behaviour::Answer)
            .await
            .unwrap();
        drop(agent);
        let mut served = false;
        for _ in 0..20 {
            let res = svc
                .sign_in(&t.id, "alice", password("pw"), ctx())
                .await
                .unwrap();
            assert_eq!(res.verdict, Verdict::Success);
            if second.received() > 0 {
                served = true;
                break;
            }
        }
        assert!(served);
        svc.flush_audit().await;
        let kinds = audit_kinds(store.as_ref(), &t.id).await;
        assert!(kinds.contains(&AuditKind::Renewal));
        assert!(!kinds.contains(&AuditKind::AgentNewKey));

        // Revoked in the store (another process): renewal over the still-open session is refused.
        let other = SqliteStore::open(file.path()).unwrap();
        assert!(
            revoke_agent_in_store(&other, &r.id, SystemClock.unix_ms_now())
                .await
                .unwrap()
        );
        let csr = Csr::new(&new_key(), "again").unwrap();
        let response = second.renew(csr.as_der().to_vec()).await;
        assert_eq!(response.result, RenewResult::Error(ErrorCode::RenewRefused));
        assert_eq!(metric(&svc, "pta_renewals_total{result=\"refused\"}"), 1);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_marks_inactive_then_purges() {
    bounded(async {
        let clock: Arc<ManualClock> = manual_clock();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = service_with(Arc::clone(&store), clock.clone()).await;
        let t = tenant(&svc, "sweep.example").await;
        let idle = register(&svc, &t.id).await;
        let live = register(&svc, &t.id).await;
        let _connected = connect(&live, users(&[]), Behaviour::Answer).await.unwrap();

        svc.sweep().await.unwrap();
        assert_eq!(
            store.agent(&idle.id).await.unwrap().unwrap().status,
            AgentStatus::Active
        );

        clock.advance(11 * MIN);
        svc.sweep().await.unwrap();
        assert_eq!(
            store.agent(&idle.id).await.unwrap().unwrap().status,
            AgentStatus::Inactive
        );
        assert_eq!(
            store.agent(&live.id).await.unwrap().unwrap().status,
            AgentStatus::Active
        );

        clock.advance(10 * DAY);
        svc.sweep().await.unwrap();
        assert!(store.agent(&idle.id).await.unwrap().is_none(), "not purged");
        assert_eq!(
            store.agent(&live.id).await.unwrap().unwrap().status,
            AgentStatus::Active
        );
        svc.flush_audit().await;
        let kinds = audit_kinds(store.as_ref(), &t.id).await;
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == AuditKind::AgentInactive)
                .count(),
            1
        );
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == AuditKind::AgentPurged)
                .count(),
            1
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_on_sqlite() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let open = || -> Arc<dyn Store> { Arc::new(SqliteStore::open(&path).unwrap()) };
        let svc = service_with(open(), Arc::new(SystemClock)).await;
        let fingerprint = svc.service_ca().fingerprint();
        let t = tenant(&svc, "restart.example").await;
        let _token = svc.create_token(&t.id, None).await.unwrap();
        let kept = register(&svc, &t.id).await;
        let gone = register(&svc, &t.id).await;
        assert!(svc.revoke_agent(&gone.id).await.unwrap());
        svc.shutdown().await;
        drop(svc);

        let store = open();
        let svc = service_with(Arc::clone(&store), Arc::new(SystemClock)).await;
        assert_eq!(svc.service_ca().fingerprint(), fingerprint);
        assert_eq!(store.tenants().await.unwrap().len(), 1);
        assert_eq!(store.tokens(&t.id).await.unwrap().len(), 3);
        assert_eq!(store.revocations(&t.id).await.unwrap().len(), 1);
        assert_eq!(svc.agents(&t.id).await.unwrap().len(), 2);

        // The agent that pinned the old service CA connects to the new process.
        let mut kept = kept;
        kept.addr = svc.agent_addr();
        let agent = connect(&kept, users(&[("alice", "pw")]), Behaviour::Answer)
            .await
            .unwrap();
        let r = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap();
        assert_eq!(r.verdict, Verdict::Success);
        assert_eq!(agent.received(), 1);
        let mut gone = gone;
        gone.addr = svc.agent_addr();
        assert!(connect(&gone, users(&[]), Behaviour::Answer).await.is_err());
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_stay_out_of_the_store_audit_and_logs() {
    bounded(async {
        const SECRET: &str = "Zq7-unique-test-password-0xC0FFEE";
        let logs = captured_logs();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.path().join("state.db")).unwrap());
        let svc = service_with(Arc::clone(&store), Arc::new(SystemClock)).await;
        let t = tenant(&svc, "secret.example").await;
        let r = register(&svc, &t.id).await;
        // A join token, used for a registration: its secret part must not be kept either.
        let token = svc.create_token(&t.id, None).await.unwrap();
        let token_secret = token.split('.').nth(1).unwrap().to_owned();
        let csr = Csr::new(&new_key(), "x").unwrap().to_pem().unwrap();
        svc.register(&token, &csr, "127.0.0.1".parse().unwrap(), "test-agent 1.0")
            .await
            .unwrap();
        let agent = connect(&r, users(&[("alice", SECRET)]), Behaviour::Answer)
            .await
            .unwrap();
        let ok = svc
            .sign_in(&t.id, "alice", password(SECRET), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        let bad = svc
            .sign_in(&t.id, "bob", password(SECRET), ctx())
            .await
            .unwrap();
        assert_eq!(bad.verdict, Verdict::InvalidCredentials);
        agent.set_behaviour(Behaviour::Fail(ErrorCode::DirectoryUnavailable));
        assert!(
            svc.sign_in(&t.id, "alice", password(SECRET), ctx())
                .await
                .is_err()
        );
        svc.flush_audit().await;

        let events = store
            .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 100))
            .await
            .unwrap();
        let sign_ins: Vec<_> = events
            .iter()
            .filter(|e| e.kind == AuditKind::SignIn)
            .collect();
        assert_eq!(sign_ins.len(), 3);
        for e in &events {
            assert!(!format!("{e:?}").contains(SECRET));
        }
        assert!(
            !contains(&dir_bytes(dir.path()), SECRET.as_bytes()),
            "password in the database files"
        );
        svc.shutdown().await;
        assert!(
            !contains(&dir_bytes(dir.path()), SECRET.as_bytes()),
            "password in the database files"
        );

        assert!(
            !contains(&dir_bytes(dir.path()), token_secret.as_bytes()),
            "token in the database files"
        );
        let logged = logs.lock().unwrap().clone();
        assert!(contains(&logged, b"sign-in"), "log capture is not working");
        assert!(
            contains(&logged, b"agent registered"),
            "log capture is not working"
        );
        assert!(
            !contains(&logged, token_secret.as_bytes()),
            "token in the logs"
        );
        assert!(
            !contains(&logged, SECRET.as_bytes()),
            "password in the logs"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_outside_renewal_is_audited() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "newkey.example").await;
        let r = register(&svc, &t.id).await;
        let first = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        svc.flush_audit().await;
        assert!(
            !audit_kinds(svc.store().as_ref(), &t.id)
                .await
                .contains(&AuditKind::AgentNewKey)
        );

        // The same agent id, another key, a certificate from the tenant CA but no renewal.
        let ca = tenant_authority(svc.store().as_ref(), &t.id, &t.id).await;
        let (key, chain) = issue(&ca, &r.id);
        let other = r.with_credential(key, chain);
        let second = connect(&other, users(&[]), Behaviour::Answer)
            .await
            .unwrap();
        assert!(!first.is_closed() && !second.is_closed());
        svc.flush_audit().await;
        let events = svc
            .store()
            .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 100))
            .await
            .unwrap();
        let alert = events
            .iter()
            .find(|e| e.kind == AuditKind::AgentNewKey)
            .expect("no AgentNewKey event");
        assert_eq!(alert.agent, Some(r.id));
        assert_eq!(
            metric(&svc, "pta_agent_source_changes_total{kind=\"new_key\"}"),
            1
        );
        assert!(
            eventually(Duration::from_secs(1), || metric(
                &svc,
                "pta_agent_connections_total"
            ) == 2)
            .await
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_refresh_last_seen_at_most_every_interval() {
    bounded(async {
        let clock = manual_clock();
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let mut o = options();
        o.wire.heartbeat_interval_ms = 50;
        o.wire.idle_timeout_ms = 1_000;
        o.seen_write_interval = Duration::from_millis(1_000);
        let svc = Service::start(Arc::clone(&store), o, clock.clone())
            .await
            .unwrap();
        let t = tenant(&svc, "heartbeat.example").await;
        let r = register(&svc, &t.id).await;
        let connected_at = pta_service::Clock::unix_ms(clock.as_ref());
        let _agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        // The connection writes at once.
        let seen = store.agent(&r.id).await.unwrap().unwrap();
        assert_eq!(seen.last_seen, connected_at);
        assert_eq!(seen.software_version, "test-agent 1.0");

        // Heartbeats every 50 ms, but no write before the interval has passed.
        clock.advance(60_000);
        let later = connected_at + 60_000;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let early = store.agent(&r.id).await.unwrap().unwrap().last_seen;
        assert_eq!(early, connected_at, "written before the interval passed");
        let mut written = false;
        for _ in 0..150 {
            if store.agent(&r.id).await.unwrap().unwrap().last_seen == later {
                written = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(written, "heartbeats never refreshed last seen");
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_source_address_is_audited() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "moved.example").await;
        let r = register(&svc, &t.id).await;
        // Registered from 127.0.0.1: connecting from there is no change.
        let first = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        drop(first);
        let moved = connect_from(
            &r,
            "127.0.0.2".parse().unwrap(),
            users(&[]),
            Behaviour::Answer,
        )
        .await
        .unwrap();
        svc.flush_audit().await;
        let events = svc
            .store()
            .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 100))
            .await
            .unwrap();
        let alerts: Vec<_> = events
            .iter()
            .filter(|e| e.kind == AuditKind::AgentNewSource)
            .collect();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].source, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(
            metric(&svc, "pta_agent_source_changes_total{kind=\"new_source\"}"),
            1
        );
        let record = svc.store().agent(&r.id).await.unwrap().unwrap();
        assert_eq!(record.last_source, Some("127.0.0.2".parse().unwrap()));
        drop(moved);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_with_an_expired_certificate_is_refused() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "expired.example").await;
        let r = register(&svc, &t.id).await;
        // A certificate for the agent that expires two seconds from now.
        let stored = svc.store().authority(&t.id).await.unwrap().unwrap();
        let key =
            pta_cert::KeyPair::from_pkcs8_pem(std::str::from_utf8(stored.key.expose()).unwrap())
                .unwrap();
        let mut config = pta_cert::AuthorityConfig::for_tenant(&t.id.to_string());
        config.backdate = Duration::ZERO;
        config.agent_lifetime = Duration::from_secs(2);
        let short = pta_cert::Authority::from_parts(
            config,
            key,
            vec![CertificateDer::from(stored.certificate)],
        )
        .unwrap();
        let (key, chain) = issue(&short, &r.id);
        let expiring = r.with_credential(key, chain);
        let agent = connect(&expiring, users(&[]), Behaviour::Answer)
            .await
            .unwrap();
        // While it is valid, the same session renews.
        let csr = Csr::new(&new_key(), "in-time").unwrap();
        let response = agent.renew(csr.as_der().to_vec()).await;
        assert!(
            matches!(response.result, RenewResult::Chain(_)),
            "{response:?}"
        );
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        let csr = Csr::new(&new_key(), "late").unwrap();
        let response = agent.renew(csr.as_der().to_vec()).await;
        assert_eq!(response.result, RenewResult::Error(ErrorCode::RenewRefused));
        assert_eq!(metric(&svc, "pta_renewals_total{result=\"refused\"}"), 1);
        svc.shutdown().await;
    })
    .await;
}
