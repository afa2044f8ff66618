//! The LDAP backend against Samba AD, and routing across two directories.

use std::sync::Arc;

use pta_directory::{
    Dialect, Directory, DirectoryError, LdapConfig, LdapDirectory, Password, PasswordRejection,
    ServiceAccount, SuffixRouter, Verdict,
};
use pta_testkit::{Role, SambaAd, Slapd};

use crate::expected_verdict;

fn config(ad: &SambaAd, service_account: bool) -> LdapConfig {
    let mut config = LdapConfig::new([ad.ldap_url()]);
    config.ca_pem = Some(ad.ca_pem().to_owned());
    if service_account {
        let svc = ad.user(Role::Service).unwrap();
        config.service_account = Some(ServiceAccount {
            bind_name: svc.login.to_owned(),
            password: svc.password.into(),
        });
    }
    config
}

#[tokio::test]
async fn samba_matrix_by_upn_and_by_search() {
    let ad = SambaAd::start().expect("samba starts");
    let direct = LdapDirectory::new(config(&ad, false)).unwrap();
    let search = LdapDirectory::new(config(&ad, true)).unwrap();
    assert_eq!(direct.dialect().await.unwrap(), Dialect::ActiveDirectory);
    for user in ad.users() {
        let Some(expected) = expected_verdict(user.role) else {
            continue;
        };
        let out = direct
            .authenticate(user.login, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{} direct", user.login);
        let out = direct
            .authenticate(user.dn, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{} direct by DN", user.dn);
        let out = search
            .authenticate(user.login, &user.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, expected, "{} by search", user.login);
        assert_eq!(out.user.as_ref().map(|u| u.dn.as_str()), Some(user.dn));
        assert_eq!(
            out.user.as_ref().and_then(|u| u.upn.as_deref()),
            Some(user.login)
        );
    }
    let bob = ad.user(Role::AlternateLogin).unwrap();
    // Alternate logins need the search: mail and sAMAccountName.
    for login in [bob.mail.unwrap(), "bob"] {
        let out = search
            .authenticate(login, &bob.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, Verdict::Success, "{login}");
        assert_eq!(out.user.unwrap().upn.as_deref(), Some("bob@alt.test"));
    }
    for login in ["*", "bob)(sAMAccountName=*", "*)(|(mail=*"] {
        let out = search
            .authenticate(login, &bob.password.into())
            .await
            .unwrap();
        assert_eq!(out.verdict, Verdict::InvalidCredentials, "{login}");
    }
    let out = direct
        .authenticate("alice@example.test", &"wrong".into())
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::InvalidCredentials);
    let out = direct
        .authenticate("alice@example.test", &"".into())
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::InvalidCredentials);
}

#[tokio::test]
async fn samba_password_change() {
    let ad = SambaAd::start().expect("samba starts");
    let dir = LdapDirectory::new(config(&ad, true)).unwrap();
    let alice = ad.user(Role::Good).unwrap();
    let (old, new): (Password, Password) = (alice.password.into(), "New-Passw0rd-1!".into());

    let err = dir
        .change_password(alice.login, &old, &"abc".into())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::PasswordRejected(PasswordRejection::TooShort)
        ),
        "{err:?}"
    );
    let out = dir.change_password(alice.login, &old, &new).await.unwrap();
    assert_eq!(out.verdict, Verdict::Success);
    assert_eq!(
        dir.authenticate(alice.login, &new).await.unwrap().verdict,
        Verdict::Success
    );
    assert_eq!(
        dir.authenticate(alice.login, &old).await.unwrap().verdict,
        Verdict::InvalidCredentials
    );
    let err = dir
        .change_password(alice.login, &new, &old)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DirectoryError::PasswordRejected(PasswordRejection::InHistory)
        ),
        "{err:?}"
    );

    // Must-change and expired users change theirs through the service account connection.
    for role in [Role::MustChange, Role::PasswordExpired] {
        let user = ad.user(role).unwrap();
        let fresh: Password = format!("{}-Renewed-9", user.password).into();
        let out = dir
            .change_password(user.login, &user.password.into(), &fresh)
            .await
            .unwrap();
        assert_eq!(out.verdict, Verdict::Success, "{}", user.login);
        assert_eq!(
            dir.authenticate(user.login, &fresh).await.unwrap().verdict,
            Verdict::Success
        );
    }
    // A disabled user cannot.
    let carol = ad.user(Role::Disabled).unwrap();
    let out = dir
        .change_password(
            carol.login,
            &carol.password.into(),
            &"Carol-Renewed-9".into(),
        )
        .await
        .unwrap();
    assert_eq!(out.verdict, Verdict::AccountDisabled);
}

#[tokio::test]
async fn router_sends_each_suffix_to_its_forest() {
    let ad = SambaAd::start().expect("samba starts");
    let slapd = Slapd::start().expect("slapd starts");
    let samba_dir: Arc<dyn Directory> = Arc::new(LdapDirectory::new(config(&ad, false)).unwrap());
    let slapd_dir: Arc<dyn Directory> =
        Arc::new(LdapDirectory::new(crate::slapd::config(&slapd, slapd.ldap_url())).unwrap());
    let router = SuffixRouter::new()
        .route("example.test", samba_dir.clone())
        .route("alt.test", samba_dir)
        .default_directory(slapd_dir);

    let check = |login: &'static str, password: &'static str, want: Verdict| {
        let router = &router;
        async move {
            let out = router.authenticate(login, &password.into()).await.unwrap();
            assert_eq!(out.verdict, want, "{login}");
        }
    };
    check("alice@example.test", "Alice-Passw0rd!", Verdict::Success).await;
    check("ALICE@Example.Test", "Alice-Passw0rd!", Verdict::Success).await;
    check("bob@alt.test", "Bob-Passw0rd!", Verdict::Success).await;
    check(
        "carol@example.test",
        "Carol-Passw0rd!",
        Verdict::AccountDisabled,
    )
    .await;
    // No suffix: the default forest (OpenLDAP, where carol is locked).
    check("alice", "Alice-Passw0rd!", Verdict::Success).await;
    check("carol", "Carol-Passw0rd!", Verdict::AccountLocked).await;
    // An unknown suffix is nobody.
    check(
        "alice@unknown.test",
        "Alice-Passw0rd!",
        Verdict::InvalidCredentials,
    )
    .await;
}
