//! pta-cert: CSR verify + issue (by CA key size), CSR build + sign, CRL build (empty, 1,000 and
//! 10,000 entries), identity extraction from a peer certificate.

#![allow(clippy::unwrap_used)] // A bench that fails must stop loudly.
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pta_cert::{
    Authority, AuthorityConfig, Csr, KeyPair, KeySize, Revocation, RevocationReason, Serial,
    TenantTrust,
};

fn authority(size: KeySize) -> Authority {
    let mut cfg = AuthorityConfig::for_tenant("bench");
    cfg.common_name = Some(format!("bench CA {}", size.bits()));
    Authority::create_root(cfg, KeyPair::generate(size).unwrap(), SystemTime::now()).unwrap()
}

fn issue(c: &mut Criterion) {
    let now = SystemTime::now();
    let agent = KeyPair::generate(KeySize::Rsa3072).unwrap();
    let csr = Csr::new(&agent, "agent-1").unwrap();
    let mut g = c.benchmark_group("cert_issue");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    for size in [KeySize::Rsa2048, KeySize::Rsa3072] {
        let ca = authority(size);
        // CSR from an RSA-3072 agent key; parse + verify + build + sign with the CA key.
        g.bench_with_input(
            BenchmarkId::new("csr_verify_and_issue/ca_rsa", size.bits()),
            &ca,
            |b, ca| {
                b.iter(|| {
                    let csr = Csr::from_der(black_box(csr.as_der())).unwrap();
                    black_box(ca.issue_agent(&csr, "agent-1", now).unwrap())
                })
            },
        );
    }
    // The agent side: build a CSR and sign it with the RSA-3072 agent key (RustCrypto rsa).
    g.bench_function("csr_build_and_sign/agent_rsa/3072", |b| {
        b.iter(|| black_box(Csr::new(black_box(&agent), "agent-1").unwrap()))
    });
    g.bench_function("csr_verify/agent_rsa/3072", |b| {
        b.iter(|| {
            black_box(
                Csr::from_der(black_box(csr.as_der()))
                    .unwrap()
                    .verify()
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn crl(c: &mut Criterion) {
    let now = SystemTime::now();
    let ca = authority(KeySize::Rsa3072);
    let mut g = c.benchmark_group("cert_crl");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    // No entries: almost all of it is the CA's signature (aws-lc-rs).
    g.throughput(Throughput::Elements(1));
    g.bench_function("build_and_sign/empty", |b| {
        b.iter(|| black_box(ca.crl(black_box(&[]), 1, now).unwrap()))
    });
    for entries in [1_000usize, 10_000] {
        let revoked: Vec<Revocation> = (0..entries as u64)
            .map(|i| {
                let mut serial = [0u8; 16];
                serial[0] = 0x40;
                serial[8..].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
                Revocation::new(
                    Serial::from_bytes(&serial).unwrap(),
                    now,
                    Some(RevocationReason::KeyCompromise),
                )
            })
            .collect();
        g.throughput(Throughput::Elements(entries as u64));
        g.bench_with_input(
            BenchmarkId::new("build_and_sign", entries),
            &revoked,
            |b, revoked| b.iter(|| black_box(ca.crl(black_box(revoked), 1, now).unwrap())),
        );
    }
    g.finish();
}

fn identity(c: &mut Criterion) {
    let now = SystemTime::now();
    let ca = authority(KeySize::Rsa2048);
    let agent = KeyPair::generate(KeySize::Rsa3072).unwrap();
    let issued = ca
        .issue_agent(&Csr::new(&agent, "agent-1").unwrap(), "agent-1", now)
        .unwrap();
    let mut trust = TenantTrust::new();
    trust.insert_authority(&ca).unwrap();
    let mut g = c.benchmark_group("cert_identity");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    g.bench_function("identify/agent_rsa/3072", |b| {
        b.iter(|| black_box(trust.identify(black_box(&issued.chain)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, issue, crl, identity);
criterion_main!(benches);
