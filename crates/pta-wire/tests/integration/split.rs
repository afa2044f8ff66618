//! Bytes delivered whole, one at a time, and split at every position give the same events.

use pta_wire::{
    AgentConfig, AgentEvent, AgentSession, ErrorCode, ErrorMessage, Message, Outcome, RequestId,
    ServiceConfig, ServiceEvent, ServiceSession, SignInRequest, SignInResponse, Verdict,
};

use crate::pair::{Pair, UNIX_EPOCH_OFFSET};

fn requests() -> Vec<SignInRequest> {
    (1..=4u128)
        .map(|i| SignInRequest {
            request_id: RequestId::from(i),
            deadline_unix_ms: UNIX_EPOCH_OFFSET + 5_000,
            login: format!("user{i}@corp.example"),
            envelope: vec![i as u8; 30 + 20 * i as usize],
        })
        .collect()
}

/// A recorded conversation: every byte each side sent.
fn record() -> Pair {
    let mut p = Pair::default_established();
    for r in requests() {
        p.service.send_sign_in(0, r).unwrap();
    }
    p.drive();
    for i in [3u128, 1, 4, 2] {
        let outcome = if i == 4 {
            Outcome::Error(ErrorCode::DirectoryUnavailable)
        } else {
            Outcome::Verdict(Verdict::from_code(i as u32))
        };
        let mac = if i == 4 { vec![] } else { vec![i as u8; 32] };
        let r = SignInResponse {
            request_id: RequestId::from(i),
            outcome,
            warnings: vec![],
            mac,
        };
        p.agent.send_sign_in_response(0, r).unwrap();
    }
    p.agent
        .send_error(
            0,
            ErrorMessage {
                code: ErrorCode::Internal,
                request_id: None,
                detail: "x".into(),
            },
        )
        .unwrap();
    p.drive();
    p
}

fn agent_events(chunks: &[&[u8]]) -> Vec<AgentEvent> {
    let mut a = AgentSession::new(AgentConfig::default(), 0);
    let mut out = Vec::new();
    for c in chunks {
        let n = a.handle_input(0, c);
        assert_eq!(n, c.len());
        while let Some(e) = a.poll_event() {
            out.push(e);
        }
    }
    out
}

fn service_events(hello: &[u8], chunks: &[&[u8]]) -> Vec<ServiceEvent> {
    let mut s = ServiceSession::new(ServiceConfig::default(), 0, UNIX_EPOCH_OFFSET);
    s.handle_input(0, hello);
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        out.push(e);
    }
    for r in requests() {
        s.send_sign_in(0, r).unwrap();
    }
    for c in chunks {
        assert_eq!(s.handle_input(0, c), c.len());
        while let Some(e) = s.poll_event() {
            out.push(e);
        }
    }
    out
}

#[test]
fn agent_sees_the_same_events_for_every_split() {
    let p = record();
    let stream = &p.bytes_to_agent;
    let whole = agent_events(&[stream]);
    assert_eq!(whole.len(), 5, "{whole:?}");
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(agent_events(&bytes), whole);
    for k in 0..=stream.len() {
        let (a, b) = stream.split_at(k);
        assert_eq!(agent_events(&[a, b]), whole, "split at {k}");
    }
}

#[test]
fn service_sees_the_same_events_for_every_split() {
    let p = record();
    let stream = &p.bytes_to_service;
    // The first frame is the agent's Hello: 4 header bytes plus the 24-bit body length.
    let hello_len =
        4 + (usize::from(stream[1]) << 16 | usize::from(stream[2]) << 8 | usize::from(stream[3]));
    assert!(matches!(
        Message::decode(&stream[..hello_len]),
        Ok(Message::Hello(_))
    ));
    let (hello, rest) = stream.split_at(hello_len);
    let whole = service_events(hello, &[rest]);
    // Established, four responses, one error.
    assert_eq!(whole.len(), 6, "{whole:?}");
    let bytes: Vec<&[u8]> = rest.chunks(1).collect();
    assert_eq!(service_events(hello, &bytes), whole);
    for k in 0..=rest.len() {
        let (a, b) = rest.split_at(k);
        assert_eq!(service_events(hello, &[a, b]), whole, "split at {k}");
    }
}
