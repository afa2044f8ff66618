//! An agent SIGKILLed under load: its sign-ins move to the second agent.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pta_service::{DecidedBy, SignInError};
use pta_testkit::Slapd;
use pta_wire::Verdict;

use crate::support::{AgentProc, AgentSetup, DEADLINE, Stack, slapd_directory};

/// Concurrent sign-ins in flight when the first agent dies.
const N: usize = 200;

/// The service's log lines, captured (the runtime is current-thread, so the thread's default
/// subscriber sees every task of the service).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn sigkill_under_load_hands_off_to_the_second_agent() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let slapd = Slapd::start().expect("slapd starts");
    let stack = Stack::start().await;
    let mut agents = Vec::new();
    for name in ["a1", "a2"] {
        let directory = slapd_directory(
            &stack.dir.path().join(name),
            &slapd.ldaps_url(),
            slapd.ca_pem(),
        );
        let agent = AgentProc::register_and_run(
            &stack,
            name,
            AgentSetup {
                directory,
                // Room for all N on one agent: the survivor takes the victim's share.
                max_in_flight: Some(256),
                ..AgentSetup::default()
            },
        )
        .await;
        stack.wait_connected(&agent.id).await;
        agents.push(agent);
    }
    let victim_id: pta_service::AgentId = agents[0].id.parse().unwrap();
    let survivor_id: pta_service::AgentId = agents[1].id.parse().unwrap();
    let from = crate::support::unix_ms();

    // The first agent hangs (SIGSTOP): the requests the service gives it stay in flight there
    // until it is killed. N sign-ins of distinct bulk users, all in flight together.
    let victim_pid = agents[0].pid();
    let stopped = std::process::Command::new("kill")
        .arg("-STOP")
        .arg(victim_pid.to_string())
        .status()
        .unwrap();
    assert!(stopped.success());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let (login, _) = slapd.bulk_user(i).unwrap();
        let password = pta_testkit::SLAPD_BULK_PASSWORD.to_owned();
        let service = stack.service.clone();
        let tenant = stack.tenant;
        tasks.spawn(async move {
            let started = Instant::now();
            let result = tokio::time::timeout(
                DEADLINE + Duration::from_secs(5),
                service.sign_in(
                    &tenant,
                    &login,
                    pta_service::Password::new(password.into_bytes()),
                    pta_service::ClientContext::new([198, 51, 100, 7].into()),
                ),
            )
            .await;
            (i, started.elapsed(), result)
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    agents[0].kill();
    assert!(!pta_testkit::process_is_alive(victim_pid));

    let mut per_task: HashMap<usize, usize> = HashMap::new();
    let mut request_ids = HashSet::new();
    let (mut on_victim, mut on_survivor, mut errors) = (0, 0, Vec::new());
    while let Some(joined) = tasks.join_next().await {
        let (i, elapsed, result) = joined.unwrap();
        *per_task.entry(i).or_default() += 1;
        let result = result.unwrap_or_else(|_| panic!("sign-in {i} got nothing in time"));
        assert!(
            elapsed <= DEADLINE + Duration::from_secs(1),
            "sign-in {i}: {elapsed:?}"
        );
        match result {
            Ok(r) => {
                assert_eq!(r.verdict, Verdict::Success, "sign-in {i}");
                assert!(
                    request_ids.insert(r.request_id),
                    "request id answered twice"
                );
                match r.decided_by {
                    DecidedBy::Agent(a) if a == victim_id => on_victim += 1,
                    DecidedBy::Agent(a) if a == survivor_id => on_survivor += 1,
                    other => panic!("sign-in {i} decided by {other:?}"),
                }
            }
            // A typed error, never a verdict; never a lost request.
            Err(
                e @ (SignInError::Timeout | SignInError::Agent(_) | SignInError::NoAgentAvailable),
            ) => errors.push(e),
            Err(e) => panic!("sign-in {i}: unexpected error {e:?}"),
        }
    }
    // The service gave the hung agent some requests and retried each on the survivor once.
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let retried = log.matches("retrying elsewhere").count();
    eprintln!("failover: {retried} requests were in flight on the killed agent and retried");
    assert!(retried >= 1, "nothing was in flight on the killed agent");
    assert_eq!(per_task.len(), N);
    assert!(per_task.values().all(|&n| n == 1));
    eprintln!(
        "failover: {N} sign-ins: {on_victim} on the killed agent before it died, {on_survivor} \
         on the survivor, {} typed errors {errors:?}",
        errors.len()
    );
    assert!(on_survivor > 0, "the survivor took over");
    // Requests in flight on the killed agent were retried on the survivor: none failed.
    assert!(errors.is_empty(), "errors: {errors:?}");

    // Afterwards everything goes to the survivor.
    for i in N..N + 20 {
        let (login, _) = slapd.bulk_user(i).unwrap();
        let password = pta_testkit::SLAPD_BULK_PASSWORD.to_owned();
        let r = stack.sign_in(&login, &password).await.unwrap();
        assert_eq!(r.verdict, Verdict::Success);
        assert_eq!(r.decided_by, DecidedBy::Agent(survivor_id));
    }
    assert_eq!(stack.connections(&agents[0].id).await, 0);

    // The agents' side: each verdict the survivor returned was answered there exactly once
    // (its debug log has one "answered" line per request); the victim answered at least the
    // ones it was credited with (a reply lost with the process was asked again elsewhere).
    let answered = |agent: &AgentProc| agent.log_text().matches("answered").count();
    let (victim_answered, survivor_answered) = (answered(&agents[0]), answered(&agents[1]));
    eprintln!(
        "failover: agents' logs: victim answered {victim_answered}, survivor {survivor_answered}"
    );
    assert_eq!(survivor_answered, on_survivor + 20);
    assert!(victim_answered >= on_victim);

    // The service's own record agrees: one audited sign-in per request, no double answers.
    stack.service.flush_audit().await;
    let events = stack
        .service
        .store()
        .audit_events(&pta_service::AuditQuery::new(
            stack.tenant,
            from,
            u64::MAX,
            1000,
        ))
        .await
        .unwrap();
    let sign_ins = events
        .iter()
        .filter(|e| e.kind == pta_service::AuditKind::SignIn)
        .count();
    assert_eq!(sign_ins, N + 20, "audited sign-ins");
}
