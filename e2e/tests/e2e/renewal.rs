//! Certificate renewal under load, with certificates that live minutes.

use std::time::{Duration, Instant};

use pta_testkit::Slapd;
use pta_wire::Verdict;

use crate::support::{Stack, WAIT, hex, one_agent, options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_under_load_fails_no_sign_in() {
    let slapd = Slapd::start().expect("slapd starts");
    let mut opts = options();
    // Minutes: the renewal threshold (30 days before notAfter) has passed at once, so the
    // agent renews at every check.
    opts.registrar.agent_certificate_lifetime = Duration::from_secs(10 * 60);
    let stack = Stack::start_with(opts).await;
    let agent = one_agent(
        &stack,
        &slapd,
        &slapd.ldaps_url(),
        "[renewal]\ncheck_interval = \"1s\"\nmax_jitter = \"0s\"\nretry = \"1s\"\n",
    )
    .await;
    let first_serial = agent.serial();
    let end = Instant::now() + Duration::from_secs(8);
    let mut done = 0;
    let mut serials = std::collections::HashSet::new();
    while Instant::now() < end {
        let mut batch = tokio::task::JoinSet::new();
        for i in 0..10 {
            let (login, _) = slapd.bulk_user((done + i) % 300).unwrap();
            let password = pta_testkit::SLAPD_BULK_PASSWORD.to_owned();
            let service = stack.service.clone();
            let tenant = stack.tenant;
            batch.spawn(async move {
                service
                    .sign_in(
                        &tenant,
                        &login,
                        pta_service::Password::new(password.into_bytes()),
                        pta_service::ClientContext::new([198, 51, 100, 8].into()),
                    )
                    .await
            });
        }
        while let Some(r) = batch.join_next().await {
            let r = r.unwrap();
            assert_eq!(r.map(|r| r.verdict).unwrap(), Verdict::Success);
            done += 1;
        }
        serials.insert(hex(&stack.record(&agent.id).await.certificate_serial));
    }
    // Renewals happened during the load, and the store holds the agent's current serial.
    let start = Instant::now();
    loop {
        let stored = hex(&stack.record(&agent.id).await.certificate_serial);
        if stored == agent.serial() {
            break;
        }
        assert!(
            start.elapsed() < WAIT,
            "store {stored} vs agent {}",
            agent.serial()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "renewal: {done} sign-ins, none failed; {} serials seen in the store",
        serials.len()
    );
    assert_ne!(agent.serial(), first_serial, "the agent renewed");
    assert!(serials.len() >= 2, "renewed while signing in: {serials:?}");
    let metrics = stack.service.metrics_text();
    assert!(metrics.contains("pta_renewals_total"), "{metrics}");
}
