//! Hooks for the fuzz targets in `fuzz/`: each asserts an invariant and panics if it breaks.
//! Not part of the API.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use crate::{
    AgentConfig, AgentEvent, AgentSession, FrameDecoder, Message, Outcome, RequestId,
    ServiceConfig, ServiceSession, SignInRequest, SignInResponse, Verdict,
};

/// Decode one frame; whatever decodes must encode, and decode again to an equal message.
pub fn message(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        round_trip(&m);
    }
}

fn round_trip(m: &Message) {
    let mut out = Vec::new();
    m.encode(&mut out).expect("a decoded message encodes");
    assert_eq!(out.len(), m.encoded_len());
    let again = Message::decode(&out).expect("an encoded message decodes");
    assert_eq!(&again, m);
}

/// Feed a stream to the frame decoder in chunks whose size comes from the first byte; every
/// message round-trips, and whole-stream and chunked feeding give the same messages.
pub fn frame(data: &[u8]) {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk % 17) + 1;
    let whole = feed(stream, stream.len().max(1));
    let pieces = feed(stream, chunk);
    assert_eq!(whole, pieces);
    for m in whole.iter().flatten() {
        round_trip(m);
    }
}

fn feed(stream: &[u8], chunk: usize) -> Vec<Result<Message, crate::Error>> {
    let mut d = FrameDecoder::new(4096);
    let mut out = Vec::new();
    for piece in stream.chunks(chunk) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (n, r) = d.push(rest);
            assert!(d.buffered() <= 4096);
            if let Some(r) = r {
                out.push(r);
            }
            if n == 0 {
                return out;
            }
            rest = &rest[n..];
        }
    }
    out
}

/// A session pair after a real handshake, then driven by `data` as a list of operations:
/// arbitrary bytes to either side, time steps, requests, answers, polls. Asserts that nothing
/// panics and that buffers, queues and tables stay within their bounds.
pub fn session(data: &[u8]) {
    let ac = AgentConfig {
        max_in_flight: 8,
        max_queued_events: 16,
        max_transmit_bytes: 4096,
        expired_memory: 8,
        ..AgentConfig::default()
    };
    let sc = ServiceConfig {
        max_in_flight: 16,
        max_queued_events: 16,
        max_transmit_bytes: 4096,
        expired_memory: 8,
        heartbeat_interval_ms: 100,
        idle_timeout_ms: 300,
        ..ServiceConfig::default()
    };
    let mut now = 0u64;
    let mut agent = AgentSession::new(ac, now);
    let mut service = ServiceSession::new(sc, now, 1_000_000);
    let mut buf = Vec::new();
    agent.poll_transmit(&mut buf);
    service.handle_input(now, &buf);
    buf.clear();
    service.poll_transmit(&mut buf);
    agent.handle_input(now, &buf);
    buf.clear();

    let mut next_id = 0u128;
    let mut pending: Vec<RequestId> = Vec::new();
    let mut ops = data;
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let len = usize::from(ops.first().copied().unwrap_or(0) % 64);
        let arg = ops.get(1..1 + len).unwrap_or_default();
        match op % 8 {
            0 => {
                agent.handle_input(now, arg);
                ops = ops.get(1 + len..).unwrap_or_default();
            }
            1 => {
                service.handle_input(now, arg);
                ops = ops.get(1 + len..).unwrap_or_default();
            }
            2 => {
                now += u64::from(ops.first().copied().unwrap_or(1)) * 4;
                ops = ops.get(1..).unwrap_or_default();
                agent.handle_timeout(now);
                service.handle_timeout(now);
                for t in [agent.poll_timeout(), service.poll_timeout()]
                    .into_iter()
                    .flatten()
                {
                    assert!(t > now, "a deadline at or before now after handle_timeout");
                }
            }
            3 => {
                next_id += 1;
                let _ = service.send_sign_in(
                    now,
                    SignInRequest {
                        request_id: RequestId::from(next_id),
                        deadline_unix_ms: service.unix_time(now) + 50,
                        login: "u@example.com".into(),
                        envelope: vec![7; 24],
                    },
                );
            }
            4 => {
                if let Some(id) = pending.pop() {
                    let _ = agent.send_sign_in_response(
                        now,
                        SignInResponse {
                            request_id: id,
                            outcome: Outcome::Verdict(Verdict::Success),
                            warnings: vec![],
                            mac: vec![1; 32],
                        },
                    );
                }
            }
            5 => {
                // Deliver both directions.
                buf.clear();
                service.poll_transmit(&mut buf);
                let n = agent.handle_input(now, &buf);
                assert!(n <= buf.len());
                buf.clear();
                agent.poll_transmit(&mut buf);
                service.handle_input(now, &buf);
                buf.clear();
            }
            6 => {
                while let Some(e) = agent.poll_event() {
                    if let AgentEvent::SignInRequest { request, .. } = e {
                        pending.push(request.request_id);
                        pending.truncate(64);
                    }
                }
                while service.poll_event().is_some() {}
            }
            _ => {
                if op & 0x80 != 0 {
                    let _ = agent.drain(now);
                } else {
                    buf.clear();
                    agent.poll_transmit(&mut buf);
                    buf.clear();
                    service.poll_transmit(&mut buf);
                    buf.clear();
                }
            }
        }
        check_agent(&agent);
        check_service(&service);
    }
}

fn check_agent(a: &AgentSession) {
    let (queued, events, table, reader) = a.footprint();
    let (c, max_in_flight) = a.limits();
    assert!(
        queued <= c.max_transmit_bytes + 2 * c.max_frame_size as usize,
        "agent tx {queued}"
    );
    assert!(
        events <= c.max_queued_events + c.max_in_flight as usize + 4,
        "agent events {events}"
    );
    assert!(a.in_flight() <= max_in_flight);
    assert!(
        table <= 4 * c.max_in_flight as usize + 2 * c.expired_memory + 130,
        "agent table"
    );
    assert!(reader <= c.max_frame_size as usize);
}

fn check_service(s: &ServiceSession) {
    let (queued, events, table, reader) = s.footprint();
    let (c, max_in_flight) = s.limits();
    assert!(
        queued <= c.max_transmit_bytes + 2 * c.max_frame_size as usize,
        "service tx {queued}"
    );
    assert!(
        events <= c.max_queued_events + c.max_in_flight as usize + 4,
        "service events"
    );
    assert!(s.in_flight() <= max_in_flight);
    assert!(
        table <= 4 * c.max_in_flight as usize + 2 * c.expired_memory + 130,
        "service table"
    );
    assert!(reader <= c.max_frame_size as usize);
}
