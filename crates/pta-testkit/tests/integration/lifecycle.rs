//! Fixtures leave nothing running, and every Samba fixture starts from the pristine domain.

use pta_testkit::{Role, SambaAd, Slapd, port_is_open, process_is_alive};

use crate::ldap::{Transport, bind, bind_once, connect};

#[tokio::test]
async fn slapd_is_gone_after_drop() {
    let started = std::time::Instant::now();
    let slapd = Slapd::start().expect("slapd starts");
    eprintln!(
        "slapd fixture start (CA, 300 bulk users, slapadd, listen): {:?}",
        started.elapsed()
    );
    let (pid, ports, dir) = (
        slapd.pid(),
        [slapd.ldap_port(), slapd.ldaps_port()],
        slapd.dir().to_owned(),
    );
    assert!(process_is_alive(pid));
    assert!(ports.iter().all(|&p| port_is_open(p)));
    assert!(dir.is_dir());
    drop(slapd);
    assert!(!process_is_alive(pid), "slapd {pid} still runs");
    for port in ports {
        assert!(!port_is_open(port), "port {port} still open");
    }
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[tokio::test]
async fn samba_is_gone_after_drop_and_the_next_fixture_is_pristine() {
    let ad = SambaAd::start().expect("samba starts");
    eprintln!("samba fixture start: {:?}", ad.start_report());
    let grace = ad.user(Role::Spare).expect("spare user");
    let pid = ad.pid();
    assert!(process_is_alive(pid));
    // Lock the spare user in this fixture.
    let mut ldap = connect(&ad.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    for _ in 0..3 {
        let _ = bind(&mut ldap, grace.login, "wrong").await;
    }
    assert_eq!(
        bind(&mut ldap, grace.login, grace.password).await.ad_data,
        Some(0x775)
    );
    drop(ldap);
    drop(ad);
    assert!(!process_is_alive(pid), "samba {pid} still runs");
    assert!(
        !port_is_open(389) && !port_is_open(636),
        "Samba's ports are still open"
    );

    // The next fixture restores the pristine copy: the spare user is unlocked again.
    let ad = SambaAd::start().expect("samba starts again");
    let report = ad.start_report();
    eprintln!("samba fixture restart: {report:?}");
    assert_eq!(report.provisioned, None, "a pristine copy existed");
    let out = bind_once(
        &ad.ldap_url(),
        Transport::Plain,
        grace.login,
        grace.password,
    )
    .await;
    assert_eq!(
        (out.rc, out.ad_data),
        (0, None),
        "spare user after restore: {out:?}"
    );
}
