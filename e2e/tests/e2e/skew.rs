//! Agents whose clocks are five minutes ahead or behind the service's (the binary under
//! `faketime`).

use pta_service::DecidedBy;
use pta_testkit::{Role, Slapd};
use pta_wire::Verdict;

use crate::support::{AgentProc, AgentSetup, Stack, WAIT, slapd_directory, unix_ms};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_five_minutes_ahead_and_behind_still_work() {
    let slapd = Slapd::start().expect("slapd starts");
    let stack = Stack::start().await;
    let good = slapd.user(Role::Good).unwrap();
    for (name, offset, skew_ms) in [("ahead", "+5m", 300_000i64), ("behind", "-5m", -300_000)] {
        let directory = if skew_ms > 0 {
            slapd_directory(
                &stack.dir.path().join(name),
                &slapd.ldaps_url(),
                slapd.ca_pem(),
            )
        } else {
            // The fixture's LDAPS certificate was minted a moment ago with notBefore = now
            // (OpenSSL 3.0's `x509 -req` cannot backdate), so an agent five minutes behind
            // rightly refuses it (Misconfigured). A real directory's certificate is older:
            // this agent talks plain LDAP to the fixture instead.
            slapd_directory(
                &stack.dir.path().join(name),
                &slapd.ldap_url(),
                slapd.ca_pem(),
            )
            .replace("dialect = ", "tls = \"none\"\ndialect = ")
        };
        // Registration and the session both run under the skewed clock.
        let mut agent = AgentProc::register_and_run(
            &stack,
            name,
            AgentSetup {
                directory,
                faketime: Some(offset.to_owned()),
                ..AgentSetup::default()
            },
        )
        .await;
        stack.wait_connected(&agent.id).await;
        // The agent's wall clock really is off: status.json carries its time of connection
        // (Unix seconds).
        let start = std::time::Instant::now();
        let since = loop {
            let status = pta_agent::status(&agent.state_dir).unwrap();
            match status.connection.filter(|c| c.state == "connected") {
                Some(c) => break c.since,
                None => {
                    assert!(start.elapsed() < WAIT, "{name}: no status");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        };
        let measured = i64::try_from(since).unwrap() * 1000 - i64::try_from(unix_ms()).unwrap();
        eprintln!("skew {name}: agent clock {measured} ms off");
        assert!(
            (measured - skew_ms).abs() < 60_000,
            "{name}: measured skew {measured} ms"
        );
        for _ in 0..5 {
            let r = stack.sign_in(good.login, good.password).await.unwrap();
            assert_eq!(r.verdict, Verdict::Success, "{name}");
            assert_eq!(
                r.decided_by,
                DecidedBy::Agent(agent.id.parse().unwrap()),
                "{name}"
            );
        }
        assert_eq!(
            stack.verdict(good.login, "Wrong-Passw0rd!").await,
            Verdict::InvalidCredentials,
            "{name}"
        );
        agent.kill();
        while stack.connections(&agent.id).await > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
