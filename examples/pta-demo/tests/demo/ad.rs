//! pta-demo's agents on a real Active Directory (the test kit's Samba AD DC) over LDAPS with a
//! service account, as docs/DEPLOY.md configures them, checked through pta-signin.

use std::os::unix::fs::PermissionsExt;

use pta_testkit::{Role, SambaAd};

use super::{pta_signin_binary, signin, start_serving};

#[test]
fn serving_demo_on_active_directory_over_ldaps() {
    let ad = SambaAd::start().unwrap_or_else(|e| panic!("Samba AD: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ad-ca.pem");
    std::fs::write(&ca, ad.ca_pem()).unwrap();
    let account = ad.user(Role::Service).unwrap();
    let password_file = dir.path().join("bind-password");
    std::fs::write(&password_file, format!("{}\n", account.password)).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let signin_binary = pta_signin_binary();

    let url = ad.ldaps_url();
    let demo = start_serving(&[
        "--ldap-url",
        &url,
        "--ldap-ca-file",
        ca.to_str().unwrap(),
        "--ldap-dialect",
        "ad",
        "--ldap-bind-dn",
        account.dn,
        "--ldap-bind-password-file",
        password_file.to_str().unwrap(),
    ]);
    assert!(
        demo.printed
            .contains("--ldap-url given: no sample sign-ins"),
        "{}",
        demo.printed
    );
    let api_key = demo.field("api key").to_owned();

    let good = ad.user(Role::Good).unwrap();
    let args = demo.signin_args(good.login);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ok = signin(&signin_binary, &args, &api_key, good.password);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        out.contains("verdict:    success") && out.contains("decided by: agent"),
        "{out}"
    );

    let wrong = signin(&signin_binary, &args, &api_key, "Not-Alice-Passw0rd!");
    let out = String::from_utf8_lossy(&wrong.stdout);
    assert_eq!(wrong.status.code(), Some(1), "{out}");
    assert!(out.contains("verdict:    invalid_credentials"), "{out}");

    let disabled = ad.user(Role::Disabled).unwrap();
    let args = demo.signin_args(disabled.login);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let answer = signin(&signin_binary, &args, &api_key, disabled.password);
    let out = String::from_utf8_lossy(&answer.stdout);
    assert_eq!(answer.status.code(), Some(1), "{out}");
    assert!(out.contains("verdict:    account_disabled"), "{out}");

    demo.interrupt();
    drop(ad);
}
