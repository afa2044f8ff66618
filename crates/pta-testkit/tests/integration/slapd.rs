//! The OpenLDAP fixture's bind matrix and behaviour.

use pta_testkit::{Ppolicy, Role, SLAPD_BULK_PASSWORD, Slapd, SlapdOptions, TestCa};

use crate::ldap::{Transport, bind, bind_once, bind_without_controls, connect, search_dns};

fn expect_outcome(out: &crate::ldap::RawBind, rc: u32, ppolicy: Ppolicy, who: &str) {
    assert_eq!(out.rc, rc, "{who}: result code ({out:?})");
    assert_eq!(
        out.ppolicy.as_deref(),
        ppolicy.ber(),
        "{who}: ppolicy control ({out:?})"
    );
    assert_eq!(out.ad_data, None, "{who}: no AD sub-code on OpenLDAP");
}

#[tokio::test]
async fn every_matrix_user_gets_its_documented_outcome() {
    let slapd = Slapd::start().expect("slapd starts");
    for user in slapd.users() {
        let out = bind_once(&slapd.ldap_url(), Transport::Plain, user.dn, user.password).await;
        assert_eq!(user.expected.ad_data, None);
        expect_outcome(&out, user.expected.rc, user.expected.ppolicy, user.login);
    }
}

#[tokio::test]
async fn starttls_and_ldaps_bind_with_the_pinned_ca_only() {
    let slapd = Slapd::start().expect("slapd starts");
    let alice = slapd.user(Role::Good).expect("good user");
    let ca = slapd.ca_pem();
    for (url, transport) in [
        (slapd.ldap_url(), Transport::StartTls(ca)),
        (slapd.ldaps_url(), Transport::Ldaps(ca)),
    ] {
        let out = bind_once(&url, transport, alice.dn, alice.password).await;
        expect_outcome(&out, 0, Ppolicy::NoError, "alice over TLS");
    }
    // A CA that did not issue the server certificate is refused during the handshake.
    let other = tempfile::tempdir().expect("temp dir");
    let stranger = TestCa::create(other.path()).expect("second CA");
    assert!(
        connect(&slapd.ldaps_url(), Transport::Ldaps(stranger.ca_pem()))
            .await
            .is_err()
    );
    assert!(
        connect(&slapd.ldap_url(), Transport::StartTls(stranger.ca_pem()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn wrong_passwords_and_bad_names() {
    let slapd = Slapd::start().expect("slapd starts");
    let url = slapd.ldap_url();
    let alice = slapd.user(Role::Good).expect("good user");
    let bob = slapd
        .user(Role::AlternateLogin)
        .expect("alternate-login user");
    let dave = slapd.user(Role::FailureLocked).expect("locked user");

    let out = bind_once(&url, Transport::Plain, alice.dn, "wrong").await;
    expect_outcome(&out, 49, Ppolicy::NoError, "alice, wrong password");
    let out = bind_once(
        &url,
        Transport::Plain,
        "uid=nobody,ou=people,dc=example,dc=test",
        "x",
    )
    .await;
    expect_outcome(&out, 49, Ppolicy::Absent, "unknown DN");
    // A locked account says so whatever the password (ppolicy_use_lockout).
    let out = bind_once(&url, Transport::Plain, dave.dn, "wrong").await;
    expect_outcome(
        &out,
        49,
        Ppolicy::AccountLocked,
        "locked user, wrong password",
    );
    // Alternate login IDs are not DNs: search-then-bind is needed.
    let out = bind_once(
        &url,
        Transport::Plain,
        bob.mail.expect("mail"),
        bob.password,
    )
    .await;
    assert_eq!(out.rc, 34, "mail as bind DN: {out:?}");
    let out = bind_once(&url, Transport::Plain, alice.login, alice.password).await;
    assert_eq!(out.rc, 34, "bare uid as bind DN: {out:?}");
    // DN with an empty password: refused by default.
    let out = bind_once(&url, Transport::Plain, alice.dn, "").await;
    assert_eq!(out.rc, 53, "empty password: {out:?}");
}

#[tokio::test]
async fn without_the_control_account_states_look_like_wrong_passwords() {
    let slapd = Slapd::start().expect("slapd starts");
    let url = slapd.ldap_url();
    for role in [
        Role::AdminLocked,
        Role::FailureLocked,
        Role::PasswordExpired,
    ] {
        let user = slapd.user(role).expect("matrix user");
        let out = bind_without_controls(&url, user.dn, user.password).await;
        expect_outcome(&out, 49, Ppolicy::Absent, user.login);
    }
    // A must-change user's bind even succeeds.
    let frank = slapd.user(Role::MustChange).expect("must-change user");
    let out = bind_without_controls(&url, frank.dn, frank.password).await;
    expect_outcome(&out, 0, Ppolicy::Absent, frank.login);
}

#[tokio::test]
async fn spare_user_locks_after_three_failures() {
    let slapd = Slapd::start().expect("slapd starts");
    let grace = slapd.user(Role::Spare).expect("spare user");
    let mut ldap = connect(&slapd.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    // Two failures, then a success that clears the count.
    for _ in 0..2 {
        expect_outcome(
            &bind(&mut ldap, grace.dn, "wrong").await,
            49,
            Ppolicy::NoError,
            "bad 1-2",
        );
    }
    expect_outcome(
        &bind(&mut ldap, grace.dn, grace.password).await,
        0,
        Ppolicy::NoError,
        "good",
    );
    // Three failures lock the account.
    for _ in 0..3 {
        expect_outcome(
            &bind(&mut ldap, grace.dn, "wrong").await,
            49,
            Ppolicy::NoError,
            "bad 1-3",
        );
    }
    let out = bind(&mut ldap, grace.dn, grace.password).await;
    expect_outcome(
        &out,
        49,
        Ppolicy::AccountLocked,
        "locked spare, right password",
    );
}

#[tokio::test]
async fn empty_password_variant_binds_as_anonymous() {
    let mut options = SlapdOptions::default();
    options.allow_empty_password_binds = true;
    options.bulk_users = 0;
    let slapd = Slapd::start_with(options).expect("slapd starts");
    let alice = slapd.user(Role::Good).expect("good user");
    let out = bind_once(&slapd.ldap_url(), Transport::Plain, alice.dn, "").await;
    assert_eq!(
        out.rc, 0,
        "DN + empty password succeeds as an unauthenticated bind: {out:?}"
    );
    // It is anonymous, not alice: her entry stays unreadable.
    let mut ldap = connect(&slapd.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    let _ = bind(&mut ldap, alice.dn, "").await;
    assert_eq!(
        search_dns(&mut ldap, alice.dn, "(objectClass=*)").await,
        Err(50)
    );
    assert_eq!(slapd.bulk_user(0), None);
}

#[tokio::test]
async fn service_account_resolves_logins_and_anonymous_cannot() {
    let slapd = Slapd::start().expect("slapd starts");
    let svc = slapd.user(Role::Service).expect("service account");
    let bob = slapd
        .user(Role::AlternateLogin)
        .expect("alternate-login user");
    let base = slapd.base_dn();

    let mut anon = connect(&slapd.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    assert_eq!(search_dns(&mut anon, base, "(uid=alice)").await, Err(50));

    let mut ldap = connect(&slapd.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    expect_outcome(
        &bind(&mut ldap, svc.dn, svc.password).await,
        0,
        Ppolicy::NoError,
        "svc",
    );
    let filter = format!("(mail={})", bob.mail.expect("mail"));
    assert_eq!(
        search_dns(&mut ldap, base, &filter).await,
        Ok(vec![bob.dn.to_owned()])
    );
    let bulk = search_dns(
        &mut ldap,
        "ou=bulk,dc=example,dc=test",
        "(objectClass=inetOrgPerson)",
    )
    .await
    .expect("search bulk users");
    assert_eq!(bulk.len(), slapd.bulk_users());
    assert_eq!(bulk.len(), 300);
}

#[tokio::test]
async fn bulk_users_bind() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut ldap = connect(&slapd.ldap_url(), Transport::Plain)
        .await
        .expect("connects");
    for i in [0, 1, 150, slapd.bulk_users() - 1] {
        let (_, dn) = slapd.bulk_user(i).expect("bulk user exists");
        let out = bind(&mut ldap, &dn, SLAPD_BULK_PASSWORD).await;
        expect_outcome(&out, 0, Ppolicy::NoError, &dn);
    }
    assert_eq!(slapd.bulk_user(slapd.bulk_users()), None);
}
