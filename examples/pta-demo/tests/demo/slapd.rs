//! pta-demo's agents on a real OpenLDAP (the test kit's slapd) over StartTLS with a DN
//! template and no service account, checked through pta-signin.

use pta_testkit::{Role, SLAPD_BASE_DN, Slapd};

use super::{pta_signin_binary, signin, start_serving};

#[test]
fn serving_demo_on_openldap_with_a_dn_template() {
    let slapd = Slapd::start().unwrap_or_else(|e| panic!("slapd: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ldap-ca.pem");
    std::fs::write(&ca, slapd.ca_pem()).unwrap();
    let signin_binary = pta_signin_binary();
    let url = slapd.ldap_url();
    let template = format!("uid={{login}},ou=people,{SLAPD_BASE_DN}");
    let demo = start_serving(&[
        "--ldap-url",
        &url,
        "--ldap-ca-file",
        ca.to_str().unwrap(),
        "--ldap-dialect",
        "openldap",
        "--ldap-dn-template",
        &template,
    ]);
    let api_key = demo.field("api key").to_owned();

    let check = |login: &str, password: &str, code: i32, verdict: &str| {
        let args = demo.signin_args(login);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let answer = signin(&signin_binary, &args, &api_key, password);
        let out = String::from_utf8_lossy(&answer.stdout);
        assert_eq!(
            answer.status.code(),
            Some(code),
            "{login}: {out}{}",
            String::from_utf8_lossy(&answer.stderr)
        );
        assert!(
            out.contains(&format!("verdict:    {verdict}")),
            "{login}: {out}"
        );
        assert!(out.contains("decided by: agent"), "{login}: {out}");
    };
    let good = slapd.user(Role::Good).unwrap();
    check(good.login, good.password, 0, "success");
    check(good.login, "Not-Alice-Passw0rd!", 1, "invalid_credentials");
    check("nobody", good.password, 1, "invalid_credentials");
    let expired = slapd.user(Role::PasswordExpired).unwrap();
    check(expired.login, expired.password, 1, "password_expired");

    demo.interrupt();
    drop(slapd);
}
