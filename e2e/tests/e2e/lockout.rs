//! Smart lockout through the whole path: the cloud locks before the directory does, and the
//! directory's own failure counter moves only by the attempts that reached it.

use pta_service::DecidedBy;
use pta_testkit::{Role, SambaAd, Slapd, TestUser};
use pta_wire::Verdict;

use crate::support::{
    AgentProc, AgentSetup, Stack, ldap_values, options, samba_directory, slapd_directory,
};

/// The service's threshold: below the fixtures' (3 bad binds).
const THRESHOLD: u8 = 2;

async fn stack() -> Stack {
    let mut opts = options();
    opts.lockout.threshold = THRESHOLD;
    Stack::start_with(opts).await
}

/// Two different wrong passwords reach the directory and are counted; then the cloud answers
/// `AccountLocked` itself, even for the right password.
async fn lock_in_the_cloud(stack: &Stack, user: &TestUser) {
    for (i, wrong) in ["Wrong-1-Passw0rd!", "Wrong-2-Passw0rd!"]
        .iter()
        .enumerate()
    {
        let r = stack.sign_in(user.login, wrong).await.unwrap();
        assert_eq!(r.verdict, Verdict::InvalidCredentials, "attempt {i}");
        assert!(
            matches!(r.decided_by, DecidedBy::Agent(_)),
            "attempt {i}: {r:?}"
        );
    }
    for password in [user.password, "Wrong-3-Passw0rd!"] {
        let r = stack.sign_in(user.login, password).await.unwrap();
        assert_eq!(r.verdict, Verdict::AccountLocked);
        assert!(matches!(r.decided_by, DecidedBy::Lockout { .. }), "{r:?}");
    }
    let status = stack
        .service
        .lockout_status(&stack.tenant, user.login)
        .await
        .unwrap();
    assert!(
        status.familiar.locked_until.is_some() || status.unfamiliar.locked_until.is_some(),
        "{status:?}"
    );
}

/// After a cloud unlock the right password works: the directory did not lock the account.
async fn directory_not_locked(stack: &Stack, user: &TestUser) {
    assert!(
        stack
            .service
            .unlock_user(&stack.tenant, user.login)
            .await
            .unwrap()
    );
    assert_eq!(
        stack.verdict(user.login, user.password).await,
        Verdict::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_cloud_lockout_before_the_directory() {
    let slapd = Slapd::start().expect("slapd starts");
    let stack = stack().await;
    let directory = slapd_directory(
        &stack.dir.path().join("a1"),
        &slapd.ldaps_url(),
        slapd.ca_pem(),
    );
    let agent = AgentProc::register_and_run(
        &stack,
        "a1",
        AgentSetup {
            directory,
            ..AgentSetup::default()
        },
    )
    .await;
    stack.wait_connected(&agent.id).await;
    let grace = slapd.user(Role::Spare).unwrap();
    lock_in_the_cloud(&stack, grace).await;

    let ca = stack.dir.path().join("a1").join("slapd-ca.pem");
    let failures = ldap_values(
        &slapd.ldaps_url(),
        &ca,
        &format!("cn=svc-pta,ou=services,{}", pta_testkit::SLAPD_BASE_DN),
        "Service-Passw0rd!",
        grace.dn,
        "pwdFailureTime",
    );
    assert_eq!(
        failures.len(),
        usize::from(THRESHOLD),
        "pwdFailureTime: {failures:?}"
    );
    directory_not_locked(&stack, grace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_cloud_lockout_before_the_directory() {
    let samba = SambaAd::start().expect("samba starts");
    let stack = stack().await;
    let directory = samba_directory(&stack.dir.path().join("a1"), samba.ca_pem(), false);
    let agent = AgentProc::register_and_run(
        &stack,
        "a1",
        AgentSetup {
            directory,
            ..AgentSetup::default()
        },
    )
    .await;
    stack.wait_connected(&agent.id).await;
    let grace = samba.user(Role::Spare).unwrap();
    lock_in_the_cloud(&stack, grace).await;

    let ca = stack.dir.path().join("a1").join("samba-ca.pem");
    let bad = ldap_values(
        &samba.ldaps_url(),
        &ca,
        "Administrator@example.test",
        "Admin-Passw0rd!",
        grace.dn,
        "badPwdCount",
    );
    assert_eq!(bad, vec![THRESHOLD.to_string()], "badPwdCount");
    directory_not_locked(&stack, grace).await;
}
