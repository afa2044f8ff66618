//! The agent reaches the listener through a real tinyproxy on 127.0.0.1, with and without
//! basic authentication.

use std::time::Duration;

use pta_agent::{Agent, Error, ProxySection, ProxySettings, connect_tcp};
use pta_testkit::Tinyproxy;
use pta_wire::Verdict;

use crate::support::*;

async fn through(proxy: &Tinyproxy, section: ProxySection) {
    let pki = Pki::new();
    let mut listener = Listener::start(pki.clone()).await;
    let (_tmp, dir, mut config) = provisioned(&pki, vec![listener.addr.clone()]);
    config.proxy = Some(section);
    let running = Running::start(Agent::with_directory(&dir, config, memory_directory()).unwrap());
    let conn = listener.next_conn().await;
    let mut sealer = sealer();
    assert_eq!(
        conn.verdict(&mut sealer, GOOD.0, GOOD.1).await,
        Verdict::Success
    );
    let log = proxy.log();
    assert!(
        log.contains(&format!("CONNECT {}", listener.addr)),
        "proxy log: {log}"
    );
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_through_tinyproxy() {
    let proxy = Tinyproxy::start(None).expect("tinyproxy starts");
    let mut section = ProxySection::default();
    section.url = proxy.url();
    through(&proxy, section).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_through_tinyproxy_with_basic_auth() {
    let proxy = Tinyproxy::start(Some(("pta-agent", "Pr0xy-Secret"))).expect("tinyproxy starts");
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("proxy-password");
    std::fs::write(&pw, "Pr0xy-Secret\n").unwrap();
    let mut section = ProxySection::default();
    section.url = proxy.url();
    section.username = Some("pta-agent".into());
    section.password_file = Some(pw);
    through(&proxy, section).await;

    // Without credentials, or with wrong ones: 407, a typed error.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut p = ProxySettings::parse(&proxy.url()).unwrap();
    let err = connect_tcp("127.0.0.1", port, Some(&p), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProxyAuthRequired), "{err:?}");
    p = ProxySettings::parse(&format!(
        "http://pta-agent:wrong@127.0.0.1:{}",
        proxy.port()
    ))
    .unwrap();
    let err = connect_tcp("127.0.0.1", port, Some(&p), Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProxyAuthRequired), "{err:?}");
    assert!(!err.to_string().contains("wrong"));
}
