//! pta-envelope: seal and open for N = 1, 3, 10, 40 recipients with session keys and with
//! RSA-2048 (both backends); the sealer/opener hot path (cached session key); an RSA-3072
//! open; and the encoded size for each N (printed before the timings).
//!
//! `cargo bench -p pta-benches --bench envelope` (about 2 min).

// Setup that cannot fail with the test keys; if it did, the bench is broken, not a runtime.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pta_envelope::{
    AwsLcRsaIdentity, AwsLcRsaRecipient, Envelope, Identity, Opener, OpenerConfig, Recipient,
    RsaIdentity, Sealer, SealerConfig, SessionKey, open, seal,
};

const NS: [usize; 4] = [1, 3, 10, 40];
const PASSWORD: &[u8; 16] = b"Tr0ub4dor&3xyzzy";
const BOUND: &[u8] = b"request id (16) | tenant | alice@contoso.com | agent key id | 1700000005000";

const PK8_2048: &[u8] = include_bytes!("../crates/pta-envelope/tests/keys/rsa2048.pk8.der");
const PK8_3072: &[u8] = include_bytes!("../crates/pta-envelope/tests/keys/rsa3072.pk8.der");

fn session_keys(n: usize) -> Vec<SessionKey> {
    (0..n)
        .map(|i| SessionKey::from_bytes([i as u8 + 1; 32]))
        .collect()
}

fn sizes() {
    let rsa = RsaIdentity::from_pkcs8_der(PK8_2048)
        .expect("key")
        .to_recipient();
    let rsa3072 = RsaIdentity::from_pkcs8_der(PK8_3072)
        .expect("key")
        .to_recipient();
    eprintln!("envelope sizes, 16-byte password (bytes):");
    eprintln!("| N | session keys | goal 120 + 60 N | RSA-2048 | RSA-3072 |");
    for n in NS {
        let ks = session_keys(n);
        let rs: Vec<&dyn Recipient> = ks.iter().map(|k| k as &dyn Recipient).collect();
        let s = seal(&rs, PASSWORD, BOUND)
            .expect("seal")
            .envelope
            .encoded_len();
        let r2: Vec<&dyn Recipient> = (0..n).map(|_| &rsa as &dyn Recipient).collect();
        let r = seal(&r2, PASSWORD, BOUND)
            .expect("seal")
            .envelope
            .encoded_len();
        let r3: Vec<&dyn Recipient> = (0..n).map(|_| &rsa3072 as &dyn Recipient).collect();
        let r3 = seal(&r3, PASSWORD, BOUND)
            .expect("seal")
            .envelope
            .encoded_len();
        eprintln!("| {n} | {s} | {} | {r} | {r3} |", 120 + 60 * n);
    }
}

fn session(c: &mut Criterion) {
    sizes();
    let mut g = c.benchmark_group("envelope_session");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    for n in NS {
        let ks = session_keys(n);
        let rs: Vec<&dyn Recipient> = ks.iter().map(|k| k as &dyn Recipient).collect();
        g.bench_with_input(BenchmarkId::new("seal", n), &rs, |b, rs| {
            b.iter(|| seal(black_box(rs), PASSWORD, BOUND).expect("seal"))
        });
        let e = seal(&rs, PASSWORD, BOUND).expect("seal").envelope;
        let bytes = e.to_bytes();
        // The last recipient opens: the whole header is scanned.
        let last = ks.last().expect("n >= 1");
        g.bench_with_input(BenchmarkId::new("decode+open", n), &bytes, |b, bytes| {
            b.iter(|| {
                let e = Envelope::decode(black_box(bytes)).expect("decode");
                open(last, &e, BOUND).expect("open")
            })
        });
    }
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    let identity = RsaIdentity::from_pkcs8_der(PK8_2048).expect("key");
    let agent = identity.to_recipient();
    let mut sealer = Sealer::new(SealerConfig::default());
    let mut opener = Opener::new(identity, OpenerConfig::default());
    let first = sealer.seal(0, &agent, PASSWORD, BOUND).expect("seal");
    opener.open(0, &first.envelope, BOUND).expect("open");
    let mut g = c.benchmark_group("envelope_hot_path");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("sealer_seal", 1), |b| {
        b.iter(|| {
            sealer
                .seal(1, &agent, black_box(PASSWORD), BOUND)
                .expect("seal")
        })
    });
    // A fresh epoch for the opener (the loop above may have rotated the sealer's key).
    let first = sealer
        .seal_with_grant(2, &agent, PASSWORD, BOUND)
        .expect("seal");
    opener.open(2, &first.envelope, BOUND).expect("open");
    let bytes = sealer
        .seal(2, &agent, PASSWORD, BOUND)
        .expect("seal")
        .envelope
        .to_bytes();
    g.bench_function(BenchmarkId::new("opener_decode+open", 1), |b| {
        b.iter(|| {
            let e = Envelope::decode(black_box(&bytes)).expect("decode");
            opener.open(2, &e, BOUND).expect("open")
        })
    });
    g.finish();
}

fn rsa_backend(c: &mut Criterion, name: &str, recipient: &dyn Recipient, identity: &dyn Identity) {
    let mut g = c.benchmark_group(format!("envelope_{name}"));
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    for n in NS {
        let rs: Vec<&dyn Recipient> = (0..n).map(|_| recipient).collect();
        g.bench_with_input(BenchmarkId::new("seal", n), &rs, |b, rs| {
            b.iter(|| seal(black_box(rs), PASSWORD, BOUND).expect("seal"))
        });
        // One RSA decryption whatever N (the identity's stanza), plus the header.
        let e = seal(&rs, PASSWORD, BOUND).expect("seal").envelope;
        g.bench_with_input(BenchmarkId::new("open", n), &e, |b, e| {
            b.iter(|| open(identity, black_box(e), BOUND).expect("open"))
        });
    }
    g.finish();
}

fn rsa(c: &mut Criterion) {
    let rc = RsaIdentity::from_pkcs8_der(PK8_2048).expect("key");
    let rc_r = rc.to_recipient();
    rsa_backend(c, "rsa2048_rustcrypto", &rc_r, &rc);
    let spki = rc_r.to_spki_der().expect("spki");
    let aws = AwsLcRsaIdentity::from_pkcs8_der(PK8_2048).expect("key");
    let aws_r = AwsLcRsaRecipient::from_spki_der(&spki).expect("key");
    rsa_backend(c, "rsa2048_aws_lc", &aws_r, &aws);

    // RSA-3072 (the agents' default key size), one recipient, both backends.
    let rc3 = RsaIdentity::from_pkcs8_der(PK8_3072).expect("key");
    let aws3 = AwsLcRsaIdentity::from_pkcs8_der(PK8_3072).expect("key");
    let e = seal(&[&rc3.to_recipient()], PASSWORD, BOUND)
        .expect("seal")
        .envelope;
    let mut g = c.benchmark_group("envelope_rsa3072");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("open_rustcrypto", 1), |b| {
        b.iter(|| open(&rc3, black_box(&e), BOUND).expect("open"))
    });
    g.bench_function(BenchmarkId::new("open_aws_lc", 1), |b| {
        b.iter(|| open(&aws3, black_box(&e), BOUND).expect("open"))
    });
    g.finish();
}

criterion_group!(benches, session, hot_path, rsa);
criterion_main!(benches);
