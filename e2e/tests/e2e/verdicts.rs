//! Every verdict through the whole path, on OpenLDAP and on Samba AD.

use pta_testkit::{Role, SambaAd, Slapd};
use pta_wire::Verdict;

use crate::support::{AgentProc, AgentSetup, Stack, samba_directory, slapd_directory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slapd_every_verdict_through_the_whole_path() {
    let slapd = Slapd::start().expect("slapd starts");
    let stack = Stack::start().await;
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
    let user = |role| slapd.user(role).unwrap();

    let good = user(Role::Good);
    let r = stack.sign_in(good.login, good.password).await.unwrap();
    assert_eq!(r.verdict, Verdict::Success);
    assert_eq!(
        r.decided_by,
        pta_service::DecidedBy::Agent(agent.id.parse().unwrap())
    );
    assert_eq!(
        stack.verdict(good.login, "Wrong-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
    assert_eq!(
        stack.verdict("nobody-here", "Some-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
    let cases = [
        (Role::AdminLocked, Verdict::AccountLocked),
        (Role::FailureLocked, Verdict::AccountLocked),
        (Role::PasswordExpired, Verdict::PasswordExpired),
        (Role::MustChange, Verdict::MustChangePassword),
        (Role::Spare, Verdict::Success),
    ];
    for (role, expected) in cases {
        let u = user(role);
        assert_eq!(
            stack.verdict(u.login, u.password).await,
            expected,
            "{role:?}"
        );
    }
    // Alternate login ID: the mail address, resolved by search-then-bind.
    let bob = user(Role::AlternateLogin);
    let mail = bob.mail.unwrap();
    assert_eq!(stack.verdict(mail, bob.password).await, Verdict::Success);
    assert_eq!(
        stack.verdict(mail, "Wrong-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samba_every_verdict_and_upn_suffix_routing() {
    let samba = SambaAd::start().expect("samba starts");
    let stack = Stack::start().await;
    let directory = samba_directory(&stack.dir.path().join("a1"), samba.ca_pem(), true);
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
    let user = |role| samba.user(role).unwrap();

    let good = user(Role::Good);
    assert_eq!(
        stack.verdict(good.login, good.password).await,
        Verdict::Success
    );
    assert_eq!(
        stack.verdict(good.login, "Wrong-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
    assert_eq!(
        stack.verdict("nobody@example.test", "Some-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
    let cases = [
        (Role::Disabled, Verdict::AccountDisabled),
        (Role::FailureLocked, Verdict::AccountLocked),
        (Role::PasswordExpired, Verdict::PasswordExpired),
        (Role::MustChange, Verdict::MustChangePassword),
        (Role::AccountExpired, Verdict::AccountExpired),
    ];
    for (role, expected) in cases {
        let u = user(role);
        assert_eq!(
            stack.verdict(u.login, u.password).await,
            expected,
            "{role:?}"
        );
    }
    // UPN suffix routing: bob's UPN is in the forest's alternate suffix alt.test, routed to
    // the same domain; his mail is an alternate login ID.
    let bob = user(Role::AlternateLogin);
    assert!(bob.login.ends_with(pta_testkit::SAMBA_ALT_SUFFIX));
    assert_eq!(
        stack.verdict(bob.login, bob.password).await,
        Verdict::Success
    );
    assert_eq!(
        stack.verdict(bob.login, "Wrong-Passw0rd!").await,
        Verdict::InvalidCredentials
    );
    assert_eq!(
        stack.verdict(bob.mail.unwrap(), bob.password).await,
        Verdict::Success
    );
    // A suffix no route names is invalid credentials, without any directory.
    assert_eq!(
        stack.verdict("alice@unrouted.test", good.password).await,
        Verdict::InvalidCredentials
    );
}
