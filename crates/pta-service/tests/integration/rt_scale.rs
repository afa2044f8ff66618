//! One service node holding 1,000 agent connections (25 tenants x 40 agents, the default
//! per-tenant limit), simulated in this process over real mutual TLS on 127.0.0.1: every agent
//! gets sign-ins, and the process's resident set stays within the goal.
//!
//! Ignored by default (key generation for 1,000 agents takes about a minute); run it with
//! `cargo test --release -p pta-service --test integration -- --ignored --nocapture rt_scale`
//! (`scripts/bench.sh` does). It prints the figures for BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pta_cert::{Csr, KeyPair, KeySize};
use pta_service::{Registration, Service, TenantId};
use pta_wire::Verdict;
use rustls::pki_types::CertificateDer;

use crate::rt_support::{
    Behaviour, Registered, RunningAgent, connect, ctx, password, service, tenant, users,
};

const TENANTS: usize = 25;
const PER_TENANT: usize = 40;
const SIGN_INS_PER_AGENT: usize = 20;
const CONCURRENCY: usize = 64;
/// Goal: 1,000 agent connections within 256 MiB of service RSS.
const RSS_GOAL_KIB: u64 = 256 * 1024;

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `n` RSA-2048 keys, generated on every core.
fn keys(n: usize) -> Vec<KeyPair> {
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let per = n.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let count = per.min(n.saturating_sub(t * per));
            std::thread::spawn(move || {
                (0..count)
                    .map(|_| KeyPair::generate(KeySize::Rsa2048).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

async fn register_with(service: &Service, tenant: &TenantId, key: KeyPair) -> Registered {
    let token = service.create_token(tenant, None).await.unwrap();
    let csr = Csr::new(&key, "scale-agent").unwrap().to_pem().unwrap();
    let (reg, _): (Registration, Vec<String>) = service
        .register(
            &token,
            &csr,
            "127.0.0.1".parse().unwrap(),
            "scale-agent 1.0",
        )
        .await
        .unwrap();
    Registered {
        id: reg.agent_id,
        tenant: reg.tenant,
        key: Arc::new(key),
        chain: reg
            .certificate_chain_der
            .into_iter()
            .map(CertificateDer::from)
            .collect(),
        service_ca: CertificateDer::from(service.service_ca_der()),
        addr: service.agent_addr(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1,000 agents: about a minute of key generation; run by scripts/bench.sh"]
async fn thousand_agent_connections_share_sign_ins() {
    tokio::time::timeout(Duration::from_secs(480), async {
        let t0 = Instant::now();
        let all_keys = tokio::task::spawn_blocking(|| keys(TENANTS * PER_TENANT))
            .await
            .unwrap();
        eprintln!("rt_scale: {} keys in {:.1?}", all_keys.len(), t0.elapsed());
        let rss_before = vm_rss_kib();
        let svc = Arc::new(service().await);
        let u = users(&[("alice", "pw")]);
        let mut tenants = Vec::new();
        let mut agents: Vec<(TenantId, Registered, RunningAgent)> = Vec::new();
        let mut keys = all_keys.into_iter();
        let t1 = Instant::now();
        for t in 0..TENANTS {
            let tn = tenant(&svc, &format!("scale-{t}.example")).await;
            for _ in 0..PER_TENANT {
                let reg = register_with(&svc, &tn.id, keys.next().unwrap()).await;
                let agent = connect(&reg, u.clone(), Behaviour::Answer).await.unwrap();
                agents.push((tn.id, reg, agent));
            }
            tenants.push(tn.id);
        }
        let connected = agents.len();
        eprintln!(
            "rt_scale: {connected} agents registered and connected in {:.1?}",
            t1.elapsed()
        );
        assert_eq!(connected, TENANTS * PER_TENANT);
        assert!(agents.iter().all(|(_, _, a)| !a.is_closed()));

        // Sign-ins spread over the tenants, CONCURRENCY at a time.
        let total = connected * SIGN_INS_PER_AGENT;
        let t2 = Instant::now();
        let tenants = Arc::new(tenants);
        let mut tasks = Vec::new();
        for w in 0..CONCURRENCY {
            let (svc, tenants) = (svc.clone(), tenants.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while i < total {
                    let t = &tenants[i % tenants.len()];
                    let r = svc
                        .sign_in(t, "alice", password("pw"), ctx())
                        .await
                        .unwrap();
                    assert_eq!(r.verdict, Verdict::Success);
                    i += CONCURRENCY;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = t2.elapsed();
        let counts: Vec<usize> = agents.iter().map(|(_, _, a)| a.received()).collect();
        let rss_after = vm_rss_kib();
        let (min, max) = (
            counts.iter().min().copied().unwrap(),
            counts.iter().max().copied().unwrap(),
        );
        let sum: usize = counts.iter().sum();
        eprintln!(
            "rt_scale: {total} sign-ins in {elapsed:.1?} ({:.0}/s); per agent min {min} \
             max {max} mean {:.1}; agents with none: {}",
            total as f64 / elapsed.as_secs_f64(),
            sum as f64 / connected as f64,
            counts.iter().filter(|&&c| c == 0).count()
        );
        eprintln!(
            "rt_scale: VmRSS {} KiB before the service, {} KiB with 1,000 connections and \
             sign-ins done (service and the 1,000 simulated agents in one process)",
            rss_before, rss_after
        );
        assert_eq!(sum, total, "every sign-in reached exactly one agent");
        assert!(min > 0, "an agent got no sign-in");
        assert!(
            rss_after <= RSS_GOAL_KIB,
            "VmRSS {rss_after} KiB over the goal {RSS_GOAL_KIB} KiB"
        );
        assert!(agents.iter().all(|(_, _, a)| !a.is_closed()));
    })
    .await
    .expect("rt_scale timed out");
}
