//! The per-sign-in work of both runtimes without I/O, and the bytes on the wire.
//!
//! - `signin_pipeline/service_seal+encode`: what the service does per request once an agent's
//!   session key is set up: build the envelope binding, `Sealer::seal`, encode the
//!   `SignInRequest` frame.
//! - `signin_pipeline/agent_decode+open+mac+encode`: what the agent does per request besides
//!   the directory bind: decode the frame and the envelope, `Opener::open` (session key
//!   cached), MAC the verdict, encode the `SignInResponse` frame.
//! - `signin_pipeline/service_decode+verify`: the service decoding the response and checking
//!   its MAC.
//!
//! Before the timings it prints the frame sizes of a `SignInRequest` (steady state and first
//! of an epoch, with the RSA grant) with 1, 3, 10 and 40 agents registered with the sealer,
//! and of a `SignInResponse`. The service seals each request for ONE agent, so the request
//! size does not depend on how many agents are registered.
//!
//! `cargo bench -p pta-benches --bench signin` (about 1 min plus 40 RSA key generations).

// Setup that cannot fail with the test keys; if it did, the bench is broken, not a runtime.
#![allow(clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pta_cert::{KeyPair, KeySize};
use pta_envelope::{
    AgentRecipient, AwsLcRsaIdentity, AwsLcRsaRecipient, Envelope, Opener, OpenerConfig, Reply,
    ReplyKey, Sealer, SealerConfig,
};
use pta_wire::{
    Message, Operation, Outcome, RequestId, SignInRequest, SignInResponse, Verdict,
    envelope_binding, warnings_mac_input,
};

const NS: [usize; 4] = [1, 3, 10, 40];
const PASSWORD: &[u8] = b"Bulk-Passw0rd!";
const LOGIN: &str = "bulk00042";
const TENANT: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const DEADLINE: u64 = 1_764_000_010_000;
/// TLS 1.3 record overhead with AES-GCM: 5-byte header, 1 content-type byte, 16-byte tag.
const TLS_RECORD: usize = 22;

struct Agent {
    pkcs8: Vec<u8>,
    recipient: AwsLcRsaRecipient,
}

impl Agent {
    fn opener(&self) -> Opener<AwsLcRsaIdentity> {
        let identity = AwsLcRsaIdentity::from_pkcs8_der(&self.pkcs8).expect("identity");
        Opener::new(identity, OpenerConfig::default())
    }
}

fn agents(n: usize) -> Vec<Agent> {
    (0..n)
        .map(|_| {
            let key = KeyPair::generate(KeySize::Rsa2048).expect("key");
            let pkcs8 = key.to_pkcs8_der().expect("pkcs8").to_vec();
            let recipient = AwsLcRsaRecipient::from_spki_der(&key.public_key_der().expect("spki"))
                .expect("recipient");
            Agent { pkcs8, recipient }
        })
        .collect()
}

/// The service's side: binding, seal, encode; the frame, the binding and the reply key kept.
fn request(
    sealer: &mut Sealer,
    agent: &Agent,
    id: u8,
    grant: bool,
) -> (Vec<u8>, Vec<u8>, ReplyKey) {
    let request_id = RequestId([id; 16]);
    let binding = envelope_binding(
        Operation::SignIn,
        &request_id,
        TENANT,
        LOGIN,
        &agent.recipient.key_id().0,
        DEADLINE,
    );
    let sealed = if grant {
        sealer.seal_with_grant(0, &agent.recipient, PASSWORD, &binding)
    } else {
        sealer.seal(0, &agent.recipient, PASSWORD, &binding)
    }
    .expect("seal");
    let mut frame = Vec::new();
    Message::SignInRequest(SignInRequest {
        request_id,
        deadline_unix_ms: DEADLINE,
        login: LOGIN.into(),
        envelope: sealed.envelope.to_bytes(),
    })
    .encode(&mut frame)
    .expect("encode");
    (frame, binding, sealed.reply_key)
}

/// The agent's side: decode, open, MAC, encode the response.
fn agent_answer(opener: &mut Opener<AwsLcRsaIdentity>, frame: &[u8], binding: &[u8]) -> Vec<u8> {
    let Ok(Message::SignInRequest(req)) = Message::decode(frame) else {
        panic!("not a request")
    };
    let envelope = Envelope::decode(&req.envelope).expect("envelope");
    let opened = opener.open(0, &envelope, binding).expect("open");
    let w = warnings_mac_input(&[]);
    let mac = opened.reply_key.mac(&Reply {
        request_id: &req.request_id.0,
        verdict: Verdict::Success.code(),
        warnings: &w,
    });
    let mut out = Vec::new();
    Message::SignInResponse(SignInResponse {
        request_id: req.request_id,
        outcome: Outcome::Verdict(Verdict::Success),
        warnings: Vec::new(),
        mac: mac.0.to_vec(),
    })
    .encode(&mut out)
    .expect("encode");
    out
}

fn sizes(all: &[Agent]) {
    eprintln!("SignInRequest / SignInResponse frames (bytes, frame header included; login");
    eprintln!("`{LOGIN}`, 14-byte password; +{TLS_RECORD} per TLS 1.3 record on the wire):");
    eprintln!(
        "| agents registered | request | request, first of epoch (RSA-2048 grant) | response | goal 512 + 100 N |"
    );
    for n in NS {
        let mut sealer = Sealer::new(SealerConfig::default());
        // Every registered agent has a session key with this sealer (one grant each).
        for a in &all[..n] {
            let _ = request(&mut sealer, a, 1, true);
        }
        let (first, first_binding, _) = request(&mut sealer, &all[0], 2, true);
        let (steady, binding, _) = request(&mut sealer, &all[0], 3, false);
        let mut opener = all[0].opener();
        let _ = agent_answer(&mut opener, &first, &first_binding);
        let response = agent_answer(&mut opener, &steady, &binding);
        eprintln!(
            "| {n} | {} | {} | {} | {} |",
            steady.len(),
            first.len(),
            response.len(),
            512 + 100 * n
        );
    }
}

fn pipeline(c: &mut Criterion) {
    let all = agents(40);
    sizes(&all);
    let agent = &all[0];
    let mut sealer = Sealer::new(SealerConfig::default());
    let mut opener = agent.opener();
    let (first, binding, _) = request(&mut sealer, agent, 1, true);
    let _ = agent_answer(&mut opener, &first, &binding);

    let mut g = c.benchmark_group("signin_pipeline");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("service_seal+encode", 1), |b| {
        b.iter(|| request(&mut sealer, black_box(agent), 7, false))
    });
    // The loop above may have rotated the session key: a fresh epoch for the opener.
    let (first, binding, _) = request(&mut sealer, agent, 8, true);
    let _ = agent_answer(&mut opener, &first, &binding);
    let (frame, binding, reply_key) = request(&mut sealer, agent, 9, false);
    g.bench_function(BenchmarkId::new("agent_decode+open+mac+encode", 1), |b| {
        b.iter(|| agent_answer(&mut opener, black_box(&frame), &binding))
    });
    let response = agent_answer(&mut opener, &frame, &binding);
    g.bench_function(BenchmarkId::new("service_decode+verify", 1), |b| {
        b.iter(|| {
            let Ok(Message::SignInResponse(r)) = Message::decode(black_box(&response)) else {
                panic!("not a response")
            };
            let w = warnings_mac_input(&r.warnings);
            reply_key
                .verify(
                    &Reply {
                        request_id: &r.request_id.0,
                        verdict: Verdict::Success.code(),
                        warnings: &w,
                    },
                    &r.mac,
                )
                .expect("mac")
        })
    });
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
