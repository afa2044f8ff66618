//! The Samba AD fixture's bind matrix and behaviour.

use pta_testkit::{Role, SambaAd};

use crate::ldap::{RawBind, Transport, bind, bind_once, connect, search_dns};

fn expect_outcome(out: &RawBind, rc: u32, data: Option<u16>, who: &str) {
    assert_eq!(out.rc, rc, "{who}: result code ({out:?})");
    assert_eq!(out.ad_data, data, "{who}: data sub-code ({out:?})");
    assert_eq!(out.ppolicy, None, "{who}: AD sends no ppolicy control");
}

#[tokio::test]
async fn samba_matrix_names_and_tls() {
    let ad = SambaAd::start().expect("samba starts");
    eprintln!("samba fixture start: {:?}", ad.start_report());
    let url = ad.ldap_url();

    for user in ad.users() {
        let out = bind_once(&url, Transport::Plain, user.login, user.password).await;
        expect_outcome(&out, user.expected.rc, user.expected.ad_data, user.login);
    }

    let alice = ad.user(Role::Good).expect("good user");
    // Every documented bind-name form works; bare names and mail addresses do not.
    for name in [
        alice.login.to_owned(),
        alice.dn.to_owned(),
        "EXAMPLE\\alice".to_owned(),
        "alice@EXAMPLE.TEST".to_owned(),
    ] {
        expect_outcome(
            &bind_once(&url, Transport::Plain, &name, alice.password).await,
            0,
            None,
            &name,
        );
    }
    let bob = ad.user(Role::AlternateLogin).expect("alternate UPN user");
    for name in ["bob@alt.test", "bob@example.test", "EXAMPLE\\bob"] {
        expect_outcome(
            &bind_once(&url, Transport::Plain, name, bob.password).await,
            0,
            None,
            name,
        );
    }
    for name in ["alice", bob.mail.expect("mail"), "nobody@example.test"] {
        let out = bind_once(&url, Transport::Plain, name, alice.password).await;
        expect_outcome(&out, 49, Some(0x52e), name);
    }
    let out = bind_once(&url, Transport::Plain, alice.login, "wrong").await;
    expect_outcome(&out, 49, Some(0x52e), "alice, wrong password");

    // TLS with the pinned test CA, both ways.
    let ca = ad.ca_pem();
    let out = bind_once(&url, Transport::StartTls(ca), alice.login, alice.password).await;
    expect_outcome(&out, 0, None, "alice over StartTLS");
    let out = bind_once(
        &ad.ldaps_url(),
        Transport::Ldaps(ca),
        alice.login,
        alice.password,
    )
    .await;
    expect_outcome(&out, 0, None, "alice over LDAPS");

    // The service account finds users by UPN, sAMAccountName and mail, exactly once each.
    let svc = ad.user(Role::Service).expect("service account");
    let mut ldap = connect(&url, Transport::Plain).await.expect("connects");
    expect_outcome(
        &bind(&mut ldap, svc.login, svc.password).await,
        0,
        None,
        "svc",
    );
    for filter in [
        "(userPrincipalName=bob@alt.test)".to_owned(),
        "(sAMAccountName=bob)".to_owned(),
        format!("(mail={})", bob.mail.expect("mail")),
    ] {
        let found = search_dns(&mut ldap, ad.base_dn(), &filter)
            .await
            .expect("search");
        assert_eq!(found, vec![bob.dn.to_owned()], "{filter}");
    }
}

#[tokio::test]
async fn samba_spare_locks_after_three_failures_and_empty_password_is_52e() {
    let ad = SambaAd::start().expect("samba starts");
    let url = ad.ldap_url();
    let grace = ad.user(Role::Spare).expect("spare user");
    let mut ldap = connect(&url, Transport::Plain).await.expect("connects");
    for _ in 0..3 {
        expect_outcome(
            &bind(&mut ldap, grace.login, "wrong").await,
            49,
            Some(0x52e),
            "bad",
        );
    }
    // Locked: 775 with the right password and with a wrong one.
    expect_outcome(
        &bind(&mut ldap, grace.login, grace.password).await,
        49,
        Some(0x775),
        "right",
    );
    expect_outcome(
        &bind(&mut ldap, grace.login, "wrong").await,
        49,
        Some(0x775),
        "wrong",
    );

    // An empty password is a plain bad password on Samba (Windows AD would treat it as an
    // unauthenticated bind): never send one.
    let alice = ad.user(Role::Good).expect("good user");
    expect_outcome(
        &bind(&mut ldap, alice.login, "").await,
        49,
        Some(0x52e),
        "empty password",
    );
}
