//! The service's own TLS identity, the offline admin functions, and shutdown.

use std::sync::Arc;
use std::time::Duration;

use pta_cert::KeySize;
use pta_service::{
    AuditKind, AuditQuery, CaFingerprint, JoinToken, MemoryStore, Store, create_join_token,
    load_or_create_service_ca,
};
use pta_store_sqlite::SqliteStore;
use pta_wire::CloseReason;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::rt_support::{Behaviour, bounded, connect, register, service, tenant, users};
use crate::support::T0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_config_presents_the_service_ca_and_offers_http1_only() {
    bounded(async {
        let svc = service().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(svc.https_server_config());
        let server = tokio::spawn(async move {
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut tls = acceptor.accept(tcp).await.unwrap();
                tls.write_all(b"ok").await.unwrap();
                tls.shutdown().await.unwrap();
            }
        });
        let ca = CertificateDer::from(svc.service_ca_der());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Both default server names (a DNS SAN and an IP SAN) verify.
        for name in ["localhost", "127.0.0.1"] {
            let tcp = tokio::net::TcpStream::connect(addr).await;
            let mut tls = TlsConnector::from(Arc::new(config.clone()))
                .connect(ServerName::try_from(name).unwrap(), tcp.unwrap())
                .await
                .unwrap();
            let mut got = Vec::new();
            tls.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, b"ok");
            let (_, conn) = tls.get_ref();
            assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]));
            let chain = conn.peer_certificates().unwrap();
            assert_eq!(chain.len(), 2);
            assert_eq!(chain[1], ca, "the service CA is not in the chain");
            // PROTOCOL.md 13.2: one certificate of the chain has the token's fingerprint.
            assert!(svc.service_ca().fingerprint().matches(&chain[1]));
        }
        server.await.unwrap();
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_service_ca_creation_has_one_winner() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        let (x, y) = tokio::join!(
            load_or_create_service_ca(&a, KeySize::Rsa2048, T0),
            load_or_create_service_ca(&b, KeySize::Rsa2048, T0),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.fingerprint(), y.fingerprint());
        let again = load_or_create_service_ca(&a, KeySize::Rsa2048, T0 + 1)
            .await
            .unwrap();
        assert_eq!(again.certificate_der, x.certificate_der);
        let stored = a.service_authority().await.unwrap().unwrap();
        assert_eq!(stored.certificate, x.certificate_der);
        assert!(format!("{stored:?}").contains("[redacted]"));

        let memory = MemoryStore::new();
        let (m1, m2) = tokio::join!(
            load_or_create_service_ca(&memory, KeySize::Rsa2048, T0),
            load_or_create_service_ca(&memory, KeySize::Rsa2048, T0),
        );
        assert_eq!(m1.unwrap().fingerprint(), m2.unwrap().fingerprint());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_token_pins_the_service_ca_and_is_audited() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "offline.example").await;
        let store = svc.store();
        let ca = load_or_create_service_ca(store.as_ref(), KeySize::Rsa2048, T0)
            .await
            .unwrap();
        assert_eq!(ca.certificate_der, svc.service_ca_der());
        let printed = create_join_token(store.as_ref(), &ca, &t.id, 60_000, T0)
            .await
            .unwrap();
        let parsed = JoinToken::parse(&printed).unwrap();
        assert_eq!(
            parsed.ca_fingerprint(),
            CaFingerprint::of_certificate(&svc.service_ca_der())
        );
        let unknown = pta_service::TenantId::random().unwrap();
        assert!(
            create_join_token(store.as_ref(), &ca, &unknown, 60_000, T0)
                .await
                .is_err()
        );
        let events = store
            .audit_events(&AuditQuery::new(t.id, 0, u64::MAX, 100))
            .await
            .unwrap();
        assert!(events.iter().any(|e| e.kind == AuditKind::TokenCreated));
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sessions_and_stops_accepting() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "shutdown.example").await;
        let r = register(&svc, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        svc.shutdown().await;
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(2))
            .await
            .expect("not closed");
        assert_eq!(reason, CloseReason::ShuttingDown);
        assert!(connect(&r, users(&[]), Behaviour::Answer).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_are_closed() {
    bounded(async {
        let mut o = crate::rt_support::options();
        o.wire.handshake_timeout_ms = 300;
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = pta_service::Service::start(store, o, Arc::new(pta_service::SystemClock))
            .await
            .unwrap();
        let t = tenant(&svc, "stall.example").await;
        let r = register(&svc, &t.id).await;

        // TCP only, no TLS ClientHello.
        let started = std::time::Instant::now();
        let mut tcp = tokio::net::TcpStream::connect(svc.agent_addr())
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), tcp.read(&mut buf))
            .await
            .expect("never closed")
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert!(started.elapsed() >= Duration::from_millis(250));

        // A client that does not offer ALPN pta/1 is refused.
        let mut no_alpn = pta_cert::TlsOptions::default();
        no_alpn.alpn = Vec::new();
        let config = pta_cert::client_config(&r.service_ca, &r.chain, &r.key, &no_alpn).unwrap();
        let tcp = tokio::net::TcpStream::connect(svc.agent_addr())
            .await
            .unwrap();
        let mut tls = TlsConnector::from(config)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let mut got = Vec::new();
        let started = std::time::Instant::now();
        let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut got))
            .await
            .expect("a client without ALPN was kept open");
        assert!(got.is_empty(), "the service spoke to a client without ALPN");
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "not refused at once"
        );

        // TLS completes, but no Hello follows.
        let config = pta_cert::client_config(
            &r.service_ca,
            &r.chain,
            &r.key,
            &pta_cert::TlsOptions::default(),
        )
        .unwrap();
        let tcp = tokio::net::TcpStream::connect(svc.agent_addr())
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut tls = TlsConnector::from(config)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let mut got = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut got)).await;
        assert!(ended.is_ok(), "a session without Hello was kept open");
        assert!(started.elapsed() >= Duration::from_millis(250));
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_service_closes_sessions() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "dropped.example").await;
        let r = register(&svc, &t.id).await;
        let mut agent = connect(&r, users(&[]), Behaviour::Answer).await.unwrap();
        let clone = svc.clone();
        drop(svc);
        assert!(!agent.is_closed(), "closed while a clone is alive");
        drop(clone);
        let (reason, _) = agent
            .wait_closed(Duration::from_secs(2))
            .await
            .expect("not closed");
        assert_eq!(reason, CloseReason::ShuttingDown);
    })
    .await;
}

/// The loaded tenants, by id or by name, from memory: a tenant that another process created on
/// the same store is not among them until the next poll of the store (the HTTP layer's
/// `Api::sign_in_tenant` then asks the store; pta-service-http tests that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_tenant_resolves_ids_and_names() {
    bounded(async {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc =
            crate::rt_support::service_with(store.clone(), Arc::new(pta_service::SystemClock))
                .await;
        let contoso = tenant(&svc, "contoso").await;
        assert_eq!(svc.loaded_tenant("contoso"), Some(contoso.id));
        assert_eq!(svc.loaded_tenant(&contoso.id.to_string()), Some(contoso.id));
        assert_eq!(svc.loaded_tenant("nope"), None);
        assert_eq!(svc.loaded_tenant("Contoso"), None);
    })
    .await;
}
