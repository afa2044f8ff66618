//! pta-wire: encode + decode of the two hot messages, and a full request/response exchange
//! through both sessions.

#![allow(clippy::unwrap_used)] // A bench that fails must stop loudly.
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pta_wire::{
    AgentConfig, AgentEvent, AgentSession, Message, Outcome, RequestId, ServiceConfig,
    ServiceEvent, ServiceSession, SignInRequest, SignInResponse, Verdict,
};

fn request(envelope_len: usize) -> Message {
    Message::SignInRequest(SignInRequest {
        request_id: RequestId([0x42; 16]),
        deadline_unix_ms: 1_900_000_000_000,
        login: "alice.smith@contoso.example".into(),
        envelope: vec![0xa5; envelope_len],
    })
}

fn response() -> Message {
    Message::SignInResponse(SignInResponse {
        request_id: RequestId([0x42; 16]),
        outcome: Outcome::Verdict(Verdict::Success),
        warnings: vec![],
        mac: vec![0x5c; 32],
    })
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire_codec");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    // Envelope sizes: session-key envelope (~100 B) and one with an RSA-3072-wrapped key (~600 B).
    for envelope in [100usize, 600] {
        let m = request(envelope);
        g.bench_with_input(BenchmarkId::new("sign_in_request", envelope), &m, |b, m| {
            let mut buf = Vec::with_capacity(1024);
            b.iter(|| {
                buf.clear();
                black_box(m).encode(&mut buf).unwrap();
                black_box(Message::decode(black_box(&buf)).unwrap())
            })
        });
    }
    let m = response();
    g.bench_with_input(BenchmarkId::new("sign_in_response", 32), &m, |b, m| {
        let mut buf = Vec::with_capacity(128);
        b.iter(|| {
            buf.clear();
            black_box(m).encode(&mut buf).unwrap();
            black_box(Message::decode(black_box(&buf)).unwrap())
        })
    });
    g.finish();
}

fn sessions(c: &mut Criterion) {
    let mut g = c.benchmark_group("wire_session");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let batch = 256u64;
    g.throughput(Throughput::Elements(batch));
    g.bench_function(BenchmarkId::new("round_trip_batch", batch), |b| {
        let mut ac = AgentConfig::default();
        ac.max_in_flight = batch as u32;
        let mut agent = AgentSession::new(ac, 0);
        let mut service = ServiceSession::new(ServiceConfig::default(), 0, 1_700_000_000_000);
        let mut wire = Vec::new();
        agent.poll_transmit(&mut wire);
        service.handle_input(0, &wire);
        wire.clear();
        service.poll_transmit(&mut wire);
        agent.handle_input(0, &wire);
        wire.clear();
        while agent.poll_event().is_some() {}
        while service.poll_event().is_some() {}
        let mut next = 0u128;
        b.iter(|| {
            for _ in 0..batch {
                next += 1;
                let r = SignInRequest {
                    request_id: RequestId::from(next),
                    deadline_unix_ms: 1_700_000_000_000 + 60_000,
                    login: "alice.smith@contoso.example".into(),
                    envelope: vec![0xa5; 100],
                };
                service.send_sign_in(0, r).unwrap();
            }
            service.poll_transmit(&mut wire);
            agent.handle_input(0, &wire);
            wire.clear();
            while let Some(e) = agent.poll_event() {
                if let AgentEvent::SignInRequest { request, .. } = e {
                    let resp = SignInResponse {
                        request_id: request.request_id,
                        outcome: Outcome::Verdict(Verdict::Success),
                        warnings: vec![],
                        mac: vec![0x5c; 32],
                    };
                    agent.send_sign_in_response(0, resp).unwrap();
                }
            }
            agent.poll_transmit(&mut wire);
            service.handle_input(0, &wire);
            wire.clear();
            let mut n = 0;
            while let Some(e) = service.poll_event() {
                n += u64::from(matches!(e, ServiceEvent::SignInResponse(_)));
            }
            assert_eq!(n, batch);
        })
    });
    g.finish();
}

criterion_group!(benches, codec, sessions);
criterion_main!(benches);
