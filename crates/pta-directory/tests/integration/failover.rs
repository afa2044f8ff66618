//! Failover between servers, and all servers down.

use std::time::{Duration, Instant};

use pta_directory::{Directory, DirectoryError, LdapConfig, LdapDirectory, Verdict};
use pta_testkit::{Role, Slapd, SlapdOptions};

use crate::slapd::config;

#[tokio::test]
async fn primary_stops_mid_run_and_the_secondary_answers() {
    let mut options = SlapdOptions::default();
    options.bulk_users = 20;
    let primary = Slapd::start_with(options.clone()).expect("primary starts");
    options.log_operations = true;
    let secondary = Slapd::start_with(options).expect("secondary starts");

    let mut c = config(&primary, primary.ldap_url());
    c.servers.push(secondary.ldap_url());
    c.ca_pem = Some(format!("{}{}", primary.ca_pem(), secondary.ca_pem()));
    c.connect_timeout = Duration::from_secs(2);
    let dir = LdapDirectory::new(c).unwrap();
    let alice = primary.user(Role::Good).unwrap();

    for _ in 0..5 {
        assert_eq!(
            dir.authenticate("alice", &alice.password.into())
                .await
                .unwrap()
                .verdict,
            Verdict::Success
        );
    }
    assert!(
        !secondary.log().contains(" BIND "),
        "the primary served while it was up"
    );

    primary.stop();
    for i in 0..20 {
        let (uid, _) = secondary.bulk_user(i).unwrap();
        let out = dir
            .authenticate(&uid, &pta_testkit::SLAPD_BULK_PASSWORD.into())
            .await
            .unwrap();
        assert_eq!(
            out.verdict,
            Verdict::Success,
            "{uid} after the primary stopped"
        );
    }
    assert!(
        secondary.log().contains(" BIND dn=\"uid=bulk00019"),
        "the secondary served"
    );

    // Everything down: Unavailable, promptly.
    secondary.stop();
    let start = Instant::now();
    let err = dir
        .authenticate("alice", &alice.password.into())
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Unavailable { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn unreachable_server_is_unavailable_within_the_timeout() {
    // A port nobody listens on: bind one, note it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = LdapConfig::new([format!("ldap://127.0.0.1:{port}")]);
    c.starttls = false;
    c.allow_insecure = true;
    c.dialect = pta_directory::Dialect::ActiveDirectory;
    c.base_dn = Some("DC=example,DC=test".into());
    c.connect_timeout = Duration::from_secs(1);
    let dir = LdapDirectory::new(c).unwrap();
    let start = Instant::now();
    let err = dir
        .authenticate("alice@example.test", &"x".into())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::Unavailable { tried: 1 }),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(2));
}
