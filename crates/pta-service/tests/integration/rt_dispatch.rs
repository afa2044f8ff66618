//! The dispatcher and the sign-in pipeline over real TLS: isolation, spreading, retry rules,
//! session-key resend, reply authentication, lockout.

use std::sync::Arc;
use std::time::Duration;

use pta_service::{DecidedBy, MemoryStore, Service, SignInError, Store, SystemClock};
use pta_wire::{ErrorCode, Verdict};

use crate::rt_support::{
    Behaviour, bounded, connect, ctx, eventually, issue, metric, options, password, register,
    service, tenant, tenant_authority, users,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_isolated() {
    bounded(async {
        let svc = service().await;
        let a = tenant(&svc, "a.example").await;
        let b = tenant(&svc, "b.example").await;
        let reg_a = register(&svc, &a.id).await;
        let reg_b = register(&svc, &b.id).await;
        let u = users(&[("alice", "pw-a")]);
        let agent_a = connect(&reg_a, u.clone(), Behaviour::Answer).await.unwrap();
        let agent_b = connect(&reg_b, u, Behaviour::Answer).await.unwrap();

        for _ in 0..10 {
            let r = svc
                .sign_in(&b.id, "alice", password("pw-a"), ctx())
                .await
                .unwrap();
            assert_eq!(r.verdict, Verdict::Success);
            assert_eq!(r.decided_by, DecidedBy::Agent(reg_b.id));
        }
        assert_eq!(agent_a.received(), 0, "A's agent got B's sign-ins");
        assert_eq!(agent_b.received(), 10);

        // A certificate that names tenant B (and B's agent) but was issued by A's CA.
        let store = svc.store();
        let forged_ca = tenant_authority(store.as_ref(), &a.id, &b.id).await;
        let (key, chain) = issue(&forged_ca, &reg_b.id);
        let forged = reg_b.with_credential(key, chain);
        assert!(
            connect(&forged, users(&[]), Behaviour::Answer)
                .await
                .is_err()
        );

        // A's CA, naming A, but for the agent id registered in B.
        let a_ca = tenant_authority(store.as_ref(), &a.id, &a.id).await;
        let (key, chain) = issue(&a_ca, &reg_b.id);
        let mut moved = reg_b.with_credential(key, chain);
        moved.tenant = a.id;
        assert!(
            connect(&moved, users(&[]), Behaviour::Answer)
                .await
                .is_err()
        );

        // The genuine agents still work.
        assert!(!agent_a.is_closed() && !agent_b.is_closed());
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_spread_over_two_agents_and_only_live_ones() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "spread.example").await;
        let u = users(&[("alice", "pw")]);
        let r1 = register(&svc, &t.id).await;
        let r2 = register(&svc, &t.id).await;
        let a1 = connect(&r1, u.clone(), Behaviour::Answer).await.unwrap();
        let a2 = connect(&r2, u.clone(), Behaviour::Answer).await.unwrap();
        for _ in 0..40 {
            let r = svc
                .sign_in(&t.id, "alice", password("pw"), ctx())
                .await
                .unwrap();
            assert_eq!(r.verdict, Verdict::Success);
        }
        assert_eq!(a1.received() + a2.received(), 40);
        assert!(
            a1.received() > 0 && a2.received() > 0,
            "{} / {}",
            a1.received(),
            a2.received()
        );
        let gauge = format!("pta_agents_connected{{tenant=\"{}\"}}", t.id);
        assert_eq!(metric(&svc, &gauge), 2);
        assert_eq!(metric(&svc, "pta_sign_ins_total{verdict=\"success\"}"), 40);

        // Agent 1 drains: it gets nothing more.
        a1.drain().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = a1.received();
        for _ in 0..10 {
            let r = svc
                .sign_in(&t.id, "alice", password("pw"), ctx())
                .await
                .unwrap();
            assert_eq!(r.decided_by, DecidedBy::Agent(r2.id));
        }
        assert_eq!(a1.received(), before);

        // Agent 2's connection is gone: nothing is live.
        a2.abort();
        let tenant_id = t.id;
        let svc2 = svc.clone();
        let mut gone = false;
        for _ in 0..100 {
            let views = svc2.agents(&tenant_id).await.unwrap();
            if views
                .iter()
                .find(|v| v.record.id == r2.id)
                .unwrap()
                .connections
                == 0
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone);
        let e = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::NoAgentAvailable), "{e:?}");
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_agent_available_without_agents() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "empty.example").await;
        let _registered_but_offline = register(&svc, &t.id).await;
        let e = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::NoAgentAvailable), "{e:?}");
        let unknown = pta_service::TenantId::random().unwrap();
        let e = svc
            .sign_in(&unknown, "alice", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::UnknownTenant), "{e:?}");
        let e = svc
            .sign_in(&t.id, "", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::InvalidRequest(_)), "{e:?}");
        let e = svc
            .sign_in(&t.id, "alice", password(&"x".repeat(1025)), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::InvalidRequest(_)), "{e:?}");
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_loss_is_retried_once_on_another_agent() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "retry.example").await;
        let u = users(&[("alice", "pw")]);
        let r1 = register(&svc, &t.id).await;
        let r2 = register(&svc, &t.id).await;
        let dying = connect(&r1, u.clone(), Behaviour::CloseOnRequest)
            .await
            .unwrap();
        let good = connect(&r2, u.clone(), Behaviour::Answer).await.unwrap();
        let mut calls = 0;
        while dying.received() == 0 && calls < 50 {
            let r = svc
                .sign_in(&t.id, "alice", password("pw"), ctx())
                .await
                .unwrap();
            calls += 1;
            assert_eq!(r.verdict, Verdict::Success);
            assert_eq!(r.decided_by, DecidedBy::Agent(r2.id));
        }
        assert_eq!(dying.received(), 1, "the dying agent was never picked");
        // Every call reached the good agent exactly once: the lost one was retried once.
        assert_eq!(good.received(), calls);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_after_a_timeout() {
    bounded(async {
        let mut o = options();
        o.sign_in_deadline = Duration::from_millis(800);
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let t = tenant(&svc, "timeout.example").await;
        let u = users(&[("alice", "pw")]);
        let r1 = register(&svc, &t.id).await;
        let r2 = register(&svc, &t.id).await;
        let silent = connect(&r1, u.clone(), Behaviour::Silent).await.unwrap();
        let good = connect(&r2, u.clone(), Behaviour::Answer).await.unwrap();
        let (mut timeouts, mut successes) = (0, 0);
        while timeouts == 0 && successes < 50 {
            let started = std::time::Instant::now();
            match svc.sign_in(&t.id, "alice", password("pw"), ctx()).await {
                Ok(r) => {
                    assert_eq!(r.decided_by, DecidedBy::Agent(r2.id));
                    successes += 1;
                }
                Err(SignInError::Timeout) => {
                    assert!(started.elapsed() >= Duration::from_millis(700));
                    assert!(started.elapsed() < Duration::from_secs(3));
                    timeouts += 1;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(timeouts, 1);
        assert_eq!(silent.received(), 1);
        assert_eq!(
            good.received(),
            successes,
            "a timed-out request was retried"
        );
        assert_eq!(
            metric(&svc, "pta_sign_in_errors_total{kind=\"timeout\"}"),
            1
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_session_key_is_resent_with_the_grant() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "grant.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("alice", "pw")]), Behaviour::Answer)
            .await
            .unwrap();
        let first = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap();
        assert_eq!(first.verdict, Verdict::Success);
        assert_eq!(agent.received(), 1);
        // The agent restarts its opener: it no longer holds the session key.
        agent.reset_opener().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap();
        assert_eq!(second.verdict, Verdict::Success);
        assert_eq!(
            agent.received(),
            3,
            "one UnknownSessionKey answer, then one resend"
        );
        // The next one needs no grant again.
        svc.sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap();
        assert_eq!(agent.received(), 4);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_misaddressed_replies_are_rejected_and_counted() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "forge.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("alice", "pw")]), Behaviour::ForgeMac)
            .await
            .unwrap();
        let e = svc
            .sign_in(&t.id, "alice", password("wrong"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::BadReply), "{e:?}");
        assert_eq!(metric(&svc, "pta_bad_replies_total"), 1);
        assert_eq!(metric(&svc, "pta_sign_ins_total{verdict=\"success\"}"), 0);

        // A reply naming a request id the service never sent: dropped, counted, no verdict.
        agent.set_behaviour(Behaviour::WrongId);
        let e = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(
            matches!(e, SignInError::NoAgentAvailable | SignInError::Timeout),
            "{e:?}"
        );
        // The session closes (protocol error) after it aborted the request: the count follows.
        assert!(
            eventually(Duration::from_secs(2), || metric(
                &svc,
                "pta_unknown_replies_total"
            ) == 1)
            .await
        );
        assert_eq!(metric(&svc, "pta_sign_ins_total{verdict=\"success\"}"), 0);
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_stops_attempts_before_the_agent() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "lockout.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(
            &r,
            users(&[("alice", "right"), ("bob", "right")]),
            Behaviour::Answer,
        )
        .await
        .unwrap();
        // One account however its login is cased or padded (directories match logins that
        // way): the ten guesses share one failure budget.
        let spellings = ["Alice", "alice", " ALICE", "alice ", "\talice"];
        for i in 0..10 {
            let login = spellings[i % spellings.len()];
            let res = svc
                .sign_in(&t.id, login, password(&format!("guess-{i}")), ctx())
                .await
                .unwrap();
            assert_eq!(res.verdict, Verdict::InvalidCredentials, "{login:?}");
        }
        assert_eq!(agent.received(), 10);
        for login in ["alice", " Alice  "] {
            let locked = svc
                .sign_in(&t.id, login, password("right"), ctx())
                .await
                .unwrap();
            assert_eq!(locked.verdict, Verdict::AccountLocked, "{login:?}");
            assert!(matches!(locked.decided_by, DecidedBy::Lockout { .. }));
        }
        assert_eq!(agent.received(), 10, "a locked attempt reached the agent");
        let status = svc.lockout_status(&t.id, "ALICE").await.unwrap();
        assert!(status.unfamiliar.locked_until.is_some(), "{status:?}");
        assert!(svc.unlock_user(&t.id, "alice").await.unwrap());

        // Agent errors never count toward lockout.
        agent.set_behaviour(Behaviour::Fail(ErrorCode::DirectoryUnavailable));
        for i in 0..15 {
            let e = svc
                .sign_in(&t.id, "bob", password(&format!("nope-{i}")), ctx())
                .await
                .unwrap_err();
            assert!(
                matches!(e, SignInError::Agent(ErrorCode::DirectoryUnavailable)),
                "{e:?}"
            );
        }
        agent.set_behaviour(Behaviour::Answer);
        let ok = svc
            .sign_in(&t.id, "bob", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        assert_eq!(ok.decided_by, DecidedBy::Agent(r.id));
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sign_ins_all_reach_a_verdict() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "load.example").await;
        let u = users(&[("alice", "pw")]);
        let r1 = register(&svc, &t.id).await;
        let r2 = register(&svc, &t.id).await;
        let a1 = connect(&r1, u.clone(), Behaviour::Answer).await.unwrap();
        let a2 = connect(&r2, u, Behaviour::Answer).await.unwrap();
        const TOTAL: usize = 400;
        const TASKS: usize = 16;
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..TASKS {
            let svc = svc.clone();
            let tenant = t.id;
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                for _ in 0..TOTAL / TASKS {
                    let r = svc
                        .sign_in(&tenant, "alice", password("pw"), ctx())
                        .await
                        .unwrap();
                    assert_eq!(r.verdict, Verdict::Success);
                    latencies.push(r.latency_ms);
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = started.elapsed();
        latencies.sort_unstable();
        assert_eq!(latencies.len(), TOTAL);
        // Exactly once each: requests reach a connection in the order they were sealed, so none
        // overtakes the first of its epoch (which carries the session key) and needs a resend.
        assert_eq!(a1.received() + a2.received(), TOTAL);
        assert!(a1.received() > TOTAL / 5 && a2.received() > TOTAL / 5);
        println!(
            "{TOTAL} sign-ins, {TASKS} concurrent, 2 agents: {elapsed:?} ({:.0}/s), latency p50 {} ms, p99 {} ms",
            TOTAL as f64 / elapsed.as_secs_f64(),
            latencies[TOTAL / 2],
            latencies[TOTAL * 99 / 100]
        );
        assert_eq!(
            metric(&svc, "pta_sign_in_duration_seconds_count"),
            TOTAL as u64
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_and_sprays_are_answered_without_the_agent() {
    bounded(async {
        let svc = service().await;
        let t = tenant(&svc, "spray.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("carol", "right")]), Behaviour::Answer)
            .await
            .unwrap();
        let first = svc
            .sign_in(&t.id, "carol", password("stale"), ctx())
            .await
            .unwrap();
        assert_eq!(first.verdict, Verdict::InvalidCredentials);
        assert_eq!(first.decided_by, DecidedBy::Agent(r.id));
        let again = svc
            .sign_in(&t.id, "carol", password("stale"), ctx())
            .await
            .unwrap();
        assert_eq!(again.verdict, Verdict::InvalidCredentials);
        assert_eq!(again.decided_by, DecidedBy::RepeatRejected);
        assert_eq!(agent.received(), 1);

        // One source failing against many accounts is blocked.
        let sprayer = pta_service::ClientContext::new("203.0.113.9".parse().unwrap());
        let mut blocked = None;
        for i in 0..40 {
            match svc
                .sign_in(
                    &t.id,
                    &format!("user{i}"),
                    password("Winter2026!"),
                    sprayer.clone(),
                )
                .await
            {
                Ok(res) => assert_eq!(res.verdict, Verdict::InvalidCredentials),
                Err(SignInError::SourceBlocked { until_ms }) => {
                    blocked = Some((i, until_ms));
                    break;
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        let (at, _) = blocked.expect("the spraying source was never blocked");
        assert_eq!(
            agent.received(),
            1 + at,
            "a blocked attempt reached the agent"
        );
        // Another source is not affected.
        let ok = svc
            .sign_in(&t.id, "carol", password("right"), ctx())
            .await
            .unwrap();
        assert_eq!(ok.verdict, Verdict::Success);
        assert!(
            svc.unblock_source("203.0.113.9".parse().unwrap())
                .await
                .unwrap()
        );
        svc.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_in_flight_cap_waits_for_a_slot() {
    bounded(async {
        let mut o = options();
        o.max_in_flight_per_agent = 2;
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let svc = Service::start(store, o, Arc::new(SystemClock))
            .await
            .unwrap();
        let t = tenant(&svc, "burst.example").await;
        let r = register(&svc, &t.id).await;
        let agent = connect(&r, users(&[("alice", "pw")]), Behaviour::Answer)
            .await
            .unwrap();
        // 40 at once against a cap of 2: all but two must wait for a slot, none may be refused.
        const BURST: usize = 40;
        let mut tasks = Vec::new();
        for _ in 0..BURST {
            let svc = svc.clone();
            let tenant = t.id;
            tasks.push(tokio::spawn(async move {
                svc.sign_in(&tenant, "alice", password("pw"), ctx()).await
            }));
        }
        for task in tasks {
            let r = task.await.unwrap().unwrap();
            assert_eq!(r.verdict, Verdict::Success);
        }
        assert_eq!(agent.received(), BURST);

        // An agent that never answers holds its two slots: the next request waits for at most
        // half the deadline (2.5 s here), then gets NoAgentAvailable, not a timeout.
        *agent.behaviour.lock().unwrap() = Behaviour::Silent;
        let mut held = Vec::new();
        for _ in 0..2 {
            let svc = svc.clone();
            let tenant = t.id;
            held.push(tokio::spawn(async move {
                svc.sign_in(&tenant, "alice", password("pw"), ctx()).await
            }));
        }
        assert!(eventually(Duration::from_secs(5), || agent.received() == BURST + 2).await);
        let started = std::time::Instant::now();
        let e = svc
            .sign_in(&t.id, "alice", password("pw"), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, SignInError::NoAgentAvailable), "{e:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(2_000) && waited < Duration::from_millis(4_500),
            "waited {waited:?}"
        );
        for h in held {
            assert!(matches!(h.await.unwrap(), Err(SignInError::Timeout)));
        }
        svc.shutdown().await;
    })
    .await;
}
