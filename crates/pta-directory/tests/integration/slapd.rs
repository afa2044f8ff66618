//! The LDAP backend against OpenLDAP.

use std::sync::Arc;

use pta_directory::{
    Dialect, Directory, DirectoryError, LdapConfig, LdapDirectory, LoginResolution,
    Misconfiguration, Password, PasswordRejection, ServiceAccount, Verdict,
};
use pta_testkit::{Role, Slapd, SlapdOptions, TestCa, TestUser};

use crate::expected_verdict;

pub(crate) fn config(slapd: &Slapd, url: String) -> LdapConfig {
    let mut config = LdapConfig::new([url]);
    config.ca_pem = Some(slapd.ca_pem().to_owned());
    let svc = slapd.user(Role::Service).unwrap();
    config.service_account = Some(ServiceAccount {
        bind_name: svc.dn.to_owned(),
        password: svc.password.into(),
    });
    config
}

#[tokio::test]
async fn every_matrix_user_by_uid_mail_and_dn() {
    let slapd = Slapd::start().expect("slapd starts");
    let dir = LdapDirectory::new(config(&slapd, slapd.ldap_url())).unwrap();
    assert_eq!(dir.dialect().await.unwrap(), Dialect::OpenLdap);
    for user in slapd.users() {
        let Some(expected) = expected_verdict(user.role) else {
            continue;
        };
        let out = dir
            .authenticate(user.login, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{}", user.login);
        assert_eq!(
            out.user.as_ref().map(|u| u.dn.as_str()),
            Some(user.dn),
            "{}",
            user.login
        );
        if let Some(mail) = user.mail {
            let out = dir.authenticate(mail, &user.password.into()).await.unwrap();
            assert_eq!(out.verdict, expected, "{mail}");
        }
        assert_wrong_password(&dir, user, user.login).await;
    }
    let out = dir.authenticate("nobody", &"x".into()).await.unwrap();
    assert_eq!((out.verdict, out.user), (Verdict::InvalidCredentials, None));

    // Direct binds with the DN as login, no search.
    let mut direct = config(&slapd, slapd.ldaps_url());
    direct.resolution = LoginResolution::Direct;
    direct.service_account = None;
    direct.dialect = Dialect::OpenLdap;
    let dir = LdapDirectory::new(direct).unwrap();
    for user in slapd.users() {
        let Some(expected) = expected_verdict(user.role) else {
            continue;
        };
        let out = dir
            .authenticate(user.dn, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{} by DN over LDAPS", user.dn);
    }
    let out = dir
        .authenticate("alice", &"Alice-Passw0rd!".into())
        .await
        .unwrap();
    assert_eq!(
        out.verdict,
        Verdict::InvalidCredentials,
        "a uid is not a DN"
    );
}

#[tokio::test]
async fn tls_trust_and_service_account_failures_are_errors() {
    let slapd = Slapd::start().expect("slapd starts");
    let other = tempfile::tempdir().unwrap();
    let stranger = TestCa::create(other.path()).unwrap();
    for url in [slapd.ldap_url(), slapd.ldaps_url()] {
        let mut c = config(&slapd, url.clone());
        c.ca_pem = Some(stranger.ca_pem().to_owned());
        let dir = LdapDirectory::new(c).unwrap();
        let err = dir
            .authenticate("alice", &"Alice-Passw0rd!".into())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DirectoryError::Misconfigured(Misconfiguration::TlsTrust)
            ),
            "{url}: {err:?}"
        );
    }
    let mut c = config(&slapd, slapd.ldap_url());
    c.service_account.as_mut().unwrap().password = "wrong".into();
    let dir = LdapDirectory::new(c).unwrap();
    let err = dir
        .authenticate("alice", &"Alice-Passw0rd!".into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::Misconfigured(Misconfiguration::ServiceAccountRejected)
        ),
        "{err:?}"
    );

    // A login attribute that many entries share: ambiguous, an error, not a verdict.
    let mut c = config(&slapd, slapd.ldap_url());
    c.login_attributes = vec!["sn".into()];
    let dir = LdapDirectory::new(c).unwrap();
    let err = dir
        .authenticate("Test", &"Alice-Passw0rd!".into())
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::Ambiguous { matches } if matches >= 2),
        "{err:?}"
    );
}

/// `login` of `user` with a wrong password: invalid credentials, or locked for a locked account
/// (OpenLDAP's ppolicy answers locked before it checks the password).
async fn assert_wrong_password(dir: &LdapDirectory, user: &TestUser, login: &str) {
    let wrong = dir.authenticate(login, &"not-it".into()).await.unwrap();
    let want = if matches!(user.role, Role::AdminLocked | Role::FailureLocked) {
        Verdict::AccountLocked
    } else {
        Verdict::InvalidCredentials
    };
    assert_eq!(wrong.verdict, want, "{login} with a wrong password");
}

/// Each login, with `password`: invalid credentials and no matched entry.
async fn assert_invalid_without_a_user(dir: &LdapDirectory, logins: &[&str], password: &str) {
    for login in logins {
        let out = dir.authenticate(login, &password.into()).await.unwrap();
        assert_eq!(
            (out.verdict, out.user),
            (Verdict::InvalidCredentials, None),
            "{login:?}"
        );
    }
}

/// Bind requests for `dn` in the slapd log: slapd logs each request once with its method (and
/// a successful bind a second time with its mechanism, which [`binds_for`] also counts).
fn bind_requests(log: &str, dn: &str) -> usize {
    let request = format!(" BIND dn=\"{dn}\" method=");
    log.lines().filter(|l| l.contains(&request)).count()
}

fn binds_for(log: &str, dn: &str) -> usize {
    log.lines()
        .filter(|l| l.contains(" BIND dn=") && l.contains(&format!("\"{dn}\"")))
        .count()
}

#[tokio::test]
async fn empty_passwords_and_injection_never_reach_a_bind() {
    let mut options = SlapdOptions::default();
    options.allow_empty_password_binds = true;
    options.log_operations = true;
    options.bulk_users = 0;
    let slapd = Slapd::start_with(options).expect("slapd starts");
    let alice = slapd.user(Role::Good).unwrap();
    let dir = LdapDirectory::new(config(&slapd, slapd.ldap_url())).unwrap();

    // The server would accept DN + empty password as an anonymous bind.
    for password in ["", "\0", "Alice\0-Passw0rd!"] {
        let out = dir.authenticate("alice", &password.into()).await.unwrap();
        assert_eq!(out.verdict, Verdict::InvalidCredentials, "{password:?}");
    }
    assert_invalid_without_a_user(
        &dir,
        &[
            "*",
            "alice)(uid=*",
            "a\\00",
            "*)(|(mail=*",
            "al*",
            "alice\0",
            "(uid=alice)",
        ],
        alice.password,
    )
    .await;
    let log = slapd.log();
    assert_eq!(
        binds_for(&log, alice.dn),
        0,
        "no bind as alice was sent:\n{log}"
    );

    // The log does show binds when they happen.
    let out = dir.authenticate("alice", &"wrong".into()).await.unwrap();
    assert_eq!(out.verdict, Verdict::InvalidCredentials);
    assert_eq!(binds_for(&slapd.log(), alice.dn), 1);
}

#[tokio::test]
async fn dn_template_binds_once_without_a_search() {
    let mut options = SlapdOptions::default();
    options.log_operations = true;
    options.bulk_users = 0;
    let slapd = Slapd::start_with(options).expect("slapd starts");
    let template = format!("uid={{login}},ou=people,{}", pta_testkit::SLAPD_BASE_DN);
    let mut c = config(&slapd, slapd.ldap_url());
    c.service_account = None;
    c.dialect = Dialect::OpenLdap;
    c.base_dn = Some(pta_testkit::SLAPD_BASE_DN.into());
    c.dn_template = Some(template.clone());
    // `Auto` picks the template when one is set.
    let dir = LdapDirectory::new(c).unwrap();
    let mut checked = 0;
    for user in slapd.users() {
        let Some(expected) = expected_verdict(user.role) else {
            continue;
        };
        assert_eq!(template.replace("{login}", user.login), user.dn);
        let out = dir
            .authenticate(user.login, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{}", user.login);
        assert_wrong_password(&dir, user, user.login).await;
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} users checked");
    let alice = slapd.user(Role::Good).unwrap();
    // Alice's right and wrong password, one request each.
    assert_eq!(bind_requests(&slapd.log(), alice.dn), 2);

    // Unknown users, an empty login, and logins that would change the DN's structure if
    // they were not escaped: invalid credentials, never alice's (or anyone's) entry.
    assert_invalid_without_a_user(
        &dir,
        &[
            "nobody",
            "",
            "alice,ou=people,dc=example,dc=test",
            "alice+cn=x",
            "alice\\",
            // Unescaped, `uid=#616c696365` would be the BER-encoded value "alice".
            "#616c696365",
        ],
        alice.password,
    )
    .await;
    let log = slapd.log();
    assert_eq!(bind_requests(&log, alice.dn), 2, "{log}");
    assert!(
        !log.lines().any(|l| l.contains(" SRCH ")),
        "a template resolution searched:\n{log}"
    );
    // Spaces around a value are insignificant to uid's matching rule (RFC 4518): the escaped
    // `\ alice` is alice's entry, as `(uid= alice)` would be in a search.
    let out = dir
        .authenticate(" alice ", &alice.password.into())
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::Success);

    // Template resolution needs a template; a template needs exactly one `{login}`.
    let mut c = config(&slapd, slapd.ldap_url());
    c.resolution = LoginResolution::Template;
    assert!(matches!(
        LdapDirectory::new(c.clone()).unwrap_err(),
        DirectoryError::Misconfigured(Misconfiguration::BadDnTemplate)
    ));
    c.dn_template = Some("uid=alice,ou=people,dc=example,dc=test".into());
    assert!(matches!(
        LdapDirectory::new(c).unwrap_err(),
        DirectoryError::Misconfigured(Misconfiguration::BadDnTemplate)
    ));
}

#[tokio::test]
async fn password_change_and_policy_rejections() {
    let slapd = Slapd::start().expect("slapd starts");
    let dir = LdapDirectory::new(config(&slapd, slapd.ldap_url())).unwrap();
    let alice = slapd.user(Role::Good).unwrap();
    let (old, new): (Password, Password) = (alice.password.into(), "New-Passw0rd-1".into());

    let err = dir
        .change_password("alice", &old, &"short".into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::PasswordRejected(PasswordRejection::TooShort)
        ),
        "{err:?}"
    );
    let out = dir
        .change_password("alice", &"wrong-old".into(), &new)
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::InvalidCredentials);

    let out = dir.change_password("alice", &old, &new).await.unwrap();
    assert_eq!(out.verdict, Verdict::Success);
    assert_eq!(
        dir.authenticate("alice", &new).await.unwrap().verdict,
        Verdict::Success
    );
    assert_eq!(
        dir.authenticate("alice", &old).await.unwrap().verdict,
        Verdict::InvalidCredentials
    );
    let err = dir.change_password("alice", &new, &old).await.unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::PasswordRejected(PasswordRejection::InHistory)
        ),
        "{err:?}"
    );

    // A must-change user changes the password and is then an ordinary user.
    let frank = slapd.user(Role::MustChange).unwrap();
    let out = dir
        .change_password("frank", &frank.password.into(), &"Frank-Passw0rd-2".into())
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::Success);
    assert_eq!(
        dir.authenticate("frank", &"Frank-Passw0rd-2".into())
            .await
            .unwrap()
            .verdict,
        Verdict::Success
    );
    // A locked user cannot.
    let carol = slapd.user(Role::AdminLocked).unwrap();
    let out = dir
        .change_password("carol", &carol.password.into(), &"Carol-Passw0rd-2".into())
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::AccountLocked);
}

#[tokio::test]
async fn many_concurrent_sign_ins_through_a_small_pool() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut c = config(&slapd, slapd.ldap_url());
    c.bind_pool_size = 2;
    c.search_pool_size = 1;
    let dir = Arc::new(LdapDirectory::new(c).unwrap());
    let mut tasks = Vec::new();
    for i in 0..64 {
        let dir = dir.clone();
        let (uid, _) = slapd.bulk_user(i).unwrap();
        tasks.push(tokio::spawn(async move {
            let good = dir
                .authenticate(&uid, &pta_testkit::SLAPD_BULK_PASSWORD.into())
                .await
                .unwrap();
            let bad = dir.authenticate(&uid, &"wrong".into()).await.unwrap();
            (good.verdict, bad.verdict)
        }));
    }
    for t in tasks {
        assert_eq!(
            t.await.unwrap(),
            (Verdict::Success, Verdict::InvalidCredentials)
        );
    }
}
