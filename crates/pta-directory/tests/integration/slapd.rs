//! The LDAP backend against OpenLDAP.

use std::sync::Arc;

use pta_directory::{
    Dialect, Directory, DirectoryError, LdapConfig, LdapDirectory, LoginResolution,
    Misconfiguration, Password, PasswordRejection, ServiceAccount, Verdict,
};
use pta_testkit::{Role, Slapd, SlapdOptions, TestCa};

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
        let wrong = dir
            .authenticate(user.login, &"not-it".into())
            .await
            .unwrap();
        let locked = matches!(user.role, Role::AdminLocked | Role::FailureLocked);
        let want = if locked {
            Verdict::AccountLocked
        } else {
            Verdict::InvalidCredentials
        };
        assert_eq!(wrong.verdict, want, "{} with a wrong password", user.login);
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
    for login in [
        "*",
        "alice)(uid=*",
        "a\\00",
        "*)(|(mail=*",
        "al*",
        "alice\0",
        "(uid=alice)",
    ] {
        let out = dir
            .authenticate(login, &alice.password.into())
            .await
            .unwrap();
        assert_eq!(
            (out.verdict, out.user),
            (Verdict::InvalidCredentials, None),
            "{login:?}"
        );
    }
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
