//! pta-lockout: check and check + record against an in-memory store holding 1 M accounts, on
//! one thread and on two; the cost of a password tag; and the memory per tracked account.
//!
//! `cargo bench -p pta-benches --bench lockout`. Before the timings, the bench prints the
//! store's own estimate of its memory and the process's resident-set growth while filling it.

// Setup that cannot fail with these constants; if it did, the bench is broken, not a runtime.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pta_lockout::{
    Attempt, Location, LockoutSecret, MemoryStore, MemoryStoreLimits, Outcome, PasswordTag, Policy,
    Source, UserKey,
};

const USERS: u64 = 1_000_000;
/// Each account always comes from the same source, 20 accounts per source: below the spray
/// threshold, so the bench measures account lookups rather than the blocked-source shortcut.
const SOURCES: u64 = USERS / 20;
const START: u64 = 1_700_000_000_000;

/// A keyed-hash-like user key for account `n` (splitmix64: spread like real derived keys).
fn user_key(n: u64) -> UserKey {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    UserKey::from_raw(z ^ (z >> 31))
}

/// The `i`-th attempt of a run: accounts in a scattered order, a new password each time.
fn attempt(i: u64) -> Attempt {
    let n = i.wrapping_mul(0x9E37_79B9) % USERS;
    Attempt::new(
        user_key(n),
        Source::from_raw(u128::from(n % SOURCES)),
        Location::from_raw(1 + n % 3),
        PasswordTag::from_raw(i as u32),
    )
}

/// One failure in four, like a busy tenant under a slow guessing attack.
fn outcome(i: u64) -> Outcome {
    if i.is_multiple_of(4) {
        Outcome::InvalidCredentials
    } else {
        Outcome::Success
    }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The store with 1 M accounts (each with one failure, from one of 50 000 sources), built once;
/// prints its memory on first use.
fn store() -> &'static MemoryStore {
    static STORE: OnceLock<MemoryStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut limits = MemoryStoreLimits::default();
        limits.max_users = 1_100_000; // headroom: shards fill unevenly
        let before = resident_bytes();
        let store = MemoryStore::new(Policy::default(), limits).expect("valid limits");
        let t = Instant::now();
        for n in 0..USERS {
            let a = Attempt::new(
                user_key(n),
                Source::from_raw(u128::from(n % SOURCES)),
                Location::from_raw(1 + n % 3),
                PasswordTag::from_raw(u32::MAX),
            );
            store.record(START, &a, Outcome::InvalidCredentials);
        }
        let filled = t.elapsed();
        let after = resident_bytes();
        let usage = store.memory_usage();
        eprintln!(
            "lockout memory: {} users, {} sources filled in {:.2?}",
            usage.users, usage.sources, filled
        );
        eprintln!(
            "lockout memory: estimate {} bytes/user (user tables {} B), sources {} B",
            usage.user_bytes / usage.users,
            usage.user_bytes,
            usage.source_bytes
        );
        if let (Some(b), Some(a)) = (before, after) {
            let total = a.saturating_sub(b);
            let users_part = total.saturating_sub(usage.source_bytes as u64);
            eprintln!(
                "lockout memory: RSS grew {} B = {} bytes/user all in, {} bytes/user without \
                 the source tables",
                total,
                total / USERS,
                users_part / USERS
            );
        }
        store
    })
}

fn bench_store(c: &mut Criterion) {
    let store = store();
    let mut group = c.benchmark_group("lockout");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));

    let mut i = 0u64;
    group.bench_function(BenchmarkId::new("check", "1M-users"), |b| {
        b.iter(|| {
            i += 1;
            black_box(store.check(START + i, &attempt(i)))
        })
    });

    let mut i = 0u64;
    group.bench_function(BenchmarkId::new("check+record", "1M-users"), |b| {
        b.iter(|| {
            i += 1;
            let now = START + 1_000_000 + i;
            let a = attempt(i);
            if store.check(now, &a).is_allow() {
                store.record(now, &a, outcome(i));
            }
        })
    });

    group.throughput(Throughput::Elements(2));
    let mut round = 0u64;
    group.bench_function(
        BenchmarkId::new("check+record-2-threads", "1M-users"),
        |b| {
            b.iter_custom(|iters| {
                round += 1;
                let base = round * 1_000_000_000;
                let t = Instant::now();
                std::thread::scope(|s| {
                    for thread in 0..2u64 {
                        s.spawn(move || {
                            for k in 0..iters {
                                let i = base + k * 2 + thread;
                                let now = START + 10_000_000 + k;
                                let a = attempt(i);
                                if store.check(now, &a).is_allow() {
                                    store.record(now, &a, outcome(i));
                                }
                            }
                        });
                    }
                });
                t.elapsed()
            })
        },
    );
    group.finish();
}

fn bench_tag(c: &mut Criterion) {
    let secret = LockoutSecret::from_bytes(&[7; 32]).expect("32 bytes");
    let user = secret.user_key("contoso", "alice@contoso.com");
    let mut group = c.benchmark_group("lockout");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("password_tag", "16-byte-password"), |b| {
        b.iter(|| black_box(secret.password_tag(user, black_box(b"Tr0ub4dor&3xyzzy"))))
    });
    group.bench_function(BenchmarkId::new("user_key", "upn"), |b| {
        b.iter(|| black_box(secret.user_key("contoso", black_box("alice@contoso.com"))))
    });
    group.finish();
}

criterion_group!(benches, bench_store, bench_tag);
criterion_main!(benches);
