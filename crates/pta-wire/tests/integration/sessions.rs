//! Both sessions driven against each other on virtual time.

use pta_wire::{
    AgentConfig, AgentEvent, AgentState, Capabilities, CloseReason, Error, ErrorCode, Message,
    Outcome, RenewRequest, RenewResponse, RenewResult, RequestId, ServiceConfig, ServiceEvent,
    ServiceState, SignInRequest, SignInResponse, Verdict, Warning, WarningKind,
};

use crate::pair::{Link, Pair, UNIX_EPOCH_OFFSET};

fn request(p: &Pair, id: u128, budget_ms: u64) -> SignInRequest {
    SignInRequest {
        request_id: RequestId::from(id),
        deadline_unix_ms: p.service.unix_time(p.now) + budget_ms,
        login: format!("user{id}@example.com"),
        envelope: vec![0x5a; 64],
    }
}

fn verdict_for(id: RequestId) -> Verdict {
    Verdict::from_code(u32::from(id.0[15]) % 9)
}

fn answer(id: RequestId) -> SignInResponse {
    SignInResponse {
        request_id: id,
        outcome: Outcome::Verdict(verdict_for(id)),
        warnings: vec![],
        mac: id.0.repeat(2),
    }
}

fn take_requests(p: &mut Pair) -> Vec<RequestId> {
    let mut ids = Vec::new();
    p.agent_events.retain(|e| match e {
        AgentEvent::SignInRequest { request, .. } => {
            ids.push(request.request_id);
            false
        }
        _ => true,
    });
    ids
}

fn closed_agent(p: &Pair) -> Option<(CloseReason, bool, Option<Error>)> {
    p.agent_events.iter().find_map(|e| match e {
        AgentEvent::Closed {
            reason,
            by_peer,
            error,
        } => Some((*reason, *by_peer, *error)),
        _ => None,
    })
}

fn closed_service(p: &Pair) -> Option<(CloseReason, bool, Option<Error>)> {
    p.service_events.iter().find_map(|e| match e {
        ServiceEvent::Closed {
            reason,
            by_peer,
            error,
        } => Some((*reason, *by_peer, *error)),
        _ => None,
    })
}

#[test]
fn handshake_negotiates_parameters() {
    let mut ac = AgentConfig::default();
    ac.max_in_flight = 32;
    let mut sc = ServiceConfig::default();
    sc.heartbeat_interval_ms = 5_000;
    sc.idle_timeout_ms = 20_000;
    let mut p = Pair::new(ac, sc);
    p.drive();
    let Some(AgentEvent::Established(w)) = p.agent_events.first().cloned() else {
        panic!("{:?}", p.agent_events)
    };
    assert_eq!(w.version, 1);
    assert_eq!(w.max_in_flight, 32);
    assert_eq!(w.heartbeat_interval_ms, 5_000);
    assert_eq!(w.idle_timeout_ms, 20_000);
    assert_eq!(w.service_time_unix_ms, UNIX_EPOCH_OFFSET);
    assert!(matches!(&p.service_events[0], ServiceEvent::Established(h) if h.max_in_flight == 32));
    assert_eq!(p.agent.state(), AgentState::Established);
    assert_eq!(p.service.state(), ServiceState::Established);
}

#[test]
fn highest_common_version_is_chosen() {
    let mut ac = AgentConfig::default();
    ac.versions = vec![1, 2, 3, 9];
    let mut sc = ServiceConfig::default();
    sc.versions = vec![2, 3, 4];
    let mut p = Pair::new(ac, sc);
    p.drive();
    assert!(matches!(&p.agent_events[0], AgentEvent::Established(w) if w.version == 3));
}

#[test]
fn version_mismatch_closes_both_sides() {
    let mut ac = AgentConfig::default();
    ac.versions = vec![2, 3];
    let mut p = Pair::new(ac, ServiceConfig::default());
    p.drive();
    assert_eq!(
        closed_service(&p),
        Some((
            CloseReason::VersionMismatch,
            false,
            Some(Error::VersionMismatch)
        ))
    );
    assert_eq!(
        closed_agent(&p),
        Some((CloseReason::VersionMismatch, true, None))
    );
    assert_eq!(p.agent.state(), AgentState::Closed);
    assert_eq!(p.service.poll_timeout(), None);
}

#[test]
fn ten_thousand_requests_answered_out_of_order() {
    let mut ac = AgentConfig::default();
    ac.max_in_flight = 256;
    let mut p = Pair::established(ac, ServiceConfig::default());
    let total = 10_000u128;
    let mut next = 0u128;
    let mut answered = std::collections::HashMap::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    while answered.len() < total as usize {
        while next < total && p.service.can_send() {
            let r = request(&p, next + 1, 30_000);
            p.service.send_sign_in(p.now, r).unwrap();
            next += 1;
        }
        if next < total {
            assert_eq!(
                p.service
                    .send_sign_in(p.now, request(&p, u128::MAX, 30_000)),
                Err(Error::TooManyInFlight)
            );
        }
        p.drive();
        let mut ids = take_requests(&mut p);
        // Answer in a scrambled order, a random subset at a time.
        for i in (1..ids.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            ids.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        let keep = ids.len() / 3;
        let (now_ids, later) = ids.split_at(ids.len() - keep);
        for id in now_ids {
            p.agent.send_sign_in_response(p.now, answer(*id)).unwrap();
        }
        p.drive();
        for id in later {
            p.agent.send_sign_in_response(p.now, answer(*id)).unwrap();
        }
        p.now += 1;
        p.drive();
        for e in p.service_events.drain(..) {
            match e {
                ServiceEvent::SignInResponse(r) => {
                    assert_eq!(r.outcome, Outcome::Verdict(verdict_for(r.request_id)));
                    assert_eq!(r.mac, r.request_id.0.repeat(2));
                    assert!(
                        answered.insert(r.request_id, ()).is_none(),
                        "answered twice"
                    );
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(answered.len(), 10_000);
    assert_eq!(p.service.in_flight(), 0);
    assert_eq!(p.agent.in_flight(), 0);
    assert_eq!(p.service.stats().late_responses, 0);
}

#[test]
fn heartbeats_keep_an_idle_session_alive() {
    let mut sc = ServiceConfig::default();
    sc.heartbeat_interval_ms = 1_000;
    sc.idle_timeout_ms = 3_000;
    let mut p = Pair::established(AgentConfig::default(), sc);
    p.run_until(600_000);
    assert_eq!(p.agent.state(), AgentState::Established);
    assert_eq!(p.service.state(), ServiceState::Established);
    // About one ping each way per second (each side pings when it has sent nothing).
    assert!(
        p.service.stats().frames_received >= 300,
        "{:?}",
        p.service.stats()
    );
    assert!(p.agent_events.is_empty() && p.service_events.is_empty());
}

#[test]
fn heartbeat_loss_leads_to_idle_timeout() {
    let mut sc = ServiceConfig::default();
    sc.heartbeat_interval_ms = 1_000;
    sc.idle_timeout_ms = 3_000;
    let mut p = Pair::established(AgentConfig::default(), sc);
    p.service
        .send_sign_in(p.now, request(&p, 1, 60_000))
        .unwrap();
    p.run_until(10_000);
    p.to_service = Link::Drop;
    p.to_agent = Link::Drop;
    p.run_until(12_999);
    assert_eq!(p.service.state(), ServiceState::Established);
    p.run_until(13_000);
    assert_eq!(p.service.state(), ServiceState::Closed);
    assert_eq!(
        closed_service(&p),
        Some((CloseReason::IdleTimeout, false, Some(Error::IdleTimeout)))
    );
    // The outstanding request is aborted, not timed out: the service retries elsewhere.
    assert!(
        p.service_events
            .contains(&ServiceEvent::RequestAborted(RequestId::from(1u128)))
    );
    assert_eq!(
        closed_agent(&p),
        Some((CloseReason::IdleTimeout, false, Some(Error::IdleTimeout)))
    );
}

#[test]
fn deadline_expiry_is_reported_exactly_once_on_both_sides() {
    let mut p = Pair::default_established();
    p.service
        .send_sign_in(p.now, request(&p, 42, 1_000))
        .unwrap();
    p.drive();
    let ids = take_requests(&mut p);
    assert_eq!(ids, vec![RequestId::from(42u128)]);
    p.run_until(999);
    assert!(p.service_events.is_empty());
    p.run_until(1_000);
    p.run_until(100_000);
    let timed_out: Vec<_> = p
        .service_events
        .iter()
        .filter(|e| matches!(e, ServiceEvent::RequestTimedOut(_)))
        .collect();
    assert_eq!(
        timed_out,
        vec![&ServiceEvent::RequestTimedOut(RequestId::from(42u128))]
    );
    let expired: Vec<_> = p
        .agent_events
        .iter()
        .filter(|e| matches!(e, AgentEvent::RequestExpired(_)))
        .collect();
    assert_eq!(
        expired,
        vec![&AgentEvent::RequestExpired(RequestId::from(42u128))]
    );
    assert_eq!(p.service.stats().requests_timed_out, 1);
    // The agent's late answer is dropped locally and counted.
    p.agent
        .send_sign_in_response(p.now, answer(ids[0]))
        .unwrap();
    assert_eq!(p.agent.stats().late_responses, 1);
    assert_eq!(
        p.agent.send_sign_in_response(p.now, answer(ids[0])),
        Err(Error::UnknownRequest)
    );
}

#[test]
fn late_response_is_dropped_and_counted() {
    let mut p = Pair::default_established();
    p.service
        .send_sign_in(p.now, request(&p, 7, 1_000))
        .unwrap();
    p.service
        .send_sign_in(p.now, request(&p, 8, 5_000))
        .unwrap();
    p.drive();
    let ids = take_requests(&mut p);
    // The agent answers in time, but the path delays the answer past the deadline.
    p.to_service = Link::Hold;
    p.agent
        .send_sign_in_response(p.now, answer(ids[0]))
        .unwrap();
    p.run_until(1_500);
    assert_eq!(
        p.service_events,
        vec![ServiceEvent::RequestTimedOut(RequestId::from(7u128))]
    );
    p.to_service = Link::Deliver;
    p.release_held();
    assert_eq!(p.service.stats().late_responses, 1);
    assert_eq!(p.service.state(), ServiceState::Established);
    // The other request still completes normally.
    p.agent
        .send_sign_in_response(p.now, answer(ids[1]))
        .unwrap();
    p.drive();
    assert!(
        matches!(p.service_events.last(), Some(ServiceEvent::SignInResponse(r)) if r.request_id == ids[1])
    );
}

#[test]
fn drain_finishes_outstanding_requests_then_closes() {
    let mut p = Pair::default_established();
    for id in 1..=3 {
        p.service
            .send_sign_in(p.now, request(&p, id, 10_000))
            .unwrap();
    }
    p.drive();
    let ids = take_requests(&mut p);
    assert_eq!(ids.len(), 3);
    p.agent.drain(p.now).unwrap();
    assert_eq!(p.agent.state(), AgentState::Draining);
    p.drive();
    assert_eq!(p.service_events, vec![ServiceEvent::Draining]);
    assert_eq!(
        p.service.send_sign_in(p.now, request(&p, 9, 10_000)),
        Err(Error::Draining)
    );
    assert!(!p.service.can_send());
    for id in &ids {
        assert_eq!(p.agent.state(), AgentState::Draining);
        p.agent.send_sign_in_response(p.now, answer(*id)).unwrap();
    }
    assert_eq!(p.agent.state(), AgentState::Closed);
    p.drive();
    let responses = p
        .service_events
        .iter()
        .filter(|e| matches!(e, ServiceEvent::SignInResponse(_)))
        .count();
    assert_eq!(responses, 3);
    assert_eq!(
        closed_service(&p),
        Some((CloseReason::ShuttingDown, true, None))
    );
    assert!(
        !p.service_events
            .iter()
            .any(|e| matches!(e, ServiceEvent::RequestAborted(_)))
    );
}

#[test]
fn drain_with_nothing_in_flight_closes_after_the_ack() {
    let mut p = Pair::default_established();
    p.agent.drain(p.now).unwrap();
    p.drive();
    assert_eq!(
        closed_agent(&p),
        Some((CloseReason::ShuttingDown, false, None))
    );
    assert_eq!(
        closed_service(&p),
        Some((CloseReason::ShuttingDown, true, None))
    );
}

#[test]
fn revocation_aborts_outstanding_requests() {
    let mut p = Pair::default_established();
    p.service
        .send_sign_in(p.now, request(&p, 1, 10_000))
        .unwrap();
    p.service
        .send_sign_in(p.now, request(&p, 2, 5_000))
        .unwrap();
    p.drive();
    p.service.close(p.now, CloseReason::Revoked);
    p.drive();
    assert_eq!(
        &p.service_events[..2],
        &[
            ServiceEvent::RequestAborted(RequestId::from(2u128)),
            ServiceEvent::RequestAborted(RequestId::from(1u128)),
        ]
    );
    assert_eq!(closed_agent(&p), Some((CloseReason::Revoked, true, None)));
    assert_eq!(
        p.service.send_sign_in(p.now, request(&p, 3, 5_000)),
        Err(Error::Closed)
    );
}

#[test]
fn handshake_timeout() {
    let mut p = Pair::new(AgentConfig::default(), ServiceConfig::default());
    p.to_service = Link::Drop;
    p.run_until(9_999);
    assert_eq!(p.service.state(), ServiceState::Handshaking);
    p.run_until(10_000);
    assert_eq!(
        closed_service(&p),
        Some((
            CloseReason::HandshakeTimeout,
            false,
            Some(Error::HandshakeTimeout)
        ))
    );
    assert_eq!(
        closed_agent(&p),
        Some((
            CloseReason::HandshakeTimeout,
            false,
            Some(Error::HandshakeTimeout)
        ))
    );
}

fn frame(m: &Message) -> Vec<u8> {
    let mut v = Vec::new();
    m.encode(&mut v).unwrap();
    v
}

#[test]
fn unknown_request_id_is_a_protocol_violation() {
    let mut p = Pair::default_established();
    p.feed_service(&frame(&Message::SignInResponse(answer(RequestId::from(
        99u128,
    )))));
    assert_eq!(
        closed_service(&p),
        Some((
            CloseReason::ProtocolError,
            false,
            Some(Error::UnknownRequestId)
        ))
    );
    p.drive();
    assert_eq!(
        closed_agent(&p),
        Some((CloseReason::ProtocolError, true, None))
    );
}

#[test]
fn unexpected_message_is_a_protocol_violation() {
    let mut p = Pair::default_established();
    p.feed_service(&frame(&Message::SignInRequest(request(&p, 1, 100))));
    assert_eq!(
        closed_service(&p),
        Some((
            CloseReason::ProtocolError,
            false,
            Some(Error::UnexpectedMessage { kind: 0x03 })
        ))
    );
}

#[test]
fn oversize_frame_is_a_protocol_violation() {
    let mut p = Pair::default_established();
    p.feed_service(&[0x04, 0x01, 0x00, 0x00]);
    assert_eq!(
        closed_service(&p),
        Some((
            CloseReason::ProtocolError,
            false,
            Some(Error::FrameTooLarge {
                size: 65_540,
                max: 65_536
            })
        ))
    );
    // Sending a frame larger than the peer's limit is refused and leaves the session intact.
    let mut p = Pair::default_established();
    let mut r = request(&p, 1, 1_000);
    r.envelope = vec![0; 70_000];
    assert!(matches!(
        p.service.send_sign_in(p.now, r),
        Err(Error::FrameTooLarge { .. })
    ));
    assert_eq!(p.service.in_flight(), 0);
    assert!(p.service.send_sign_in(p.now, request(&p, 2, 1_000)).is_ok());
}

#[test]
fn malformed_frame_is_a_protocol_violation() {
    let mut p = Pair::default_established();
    p.feed_agent(&[0x03, 0x00, 0x00, 0x02, 0xa1, 0x00]);
    let Some((CloseReason::ProtocolError, false, Some(Error::Malformed(e)))) = closed_agent(&p)
    else {
        panic!("{:?}", p.agent_events)
    };
    // The map announces one entry (at least two bytes) but one byte follows its head.
    assert_eq!(
        (e.kind, e.offset),
        (pta_wire::DecodeErrorKind::Truncated, 5)
    );
}

#[test]
fn agent_enforces_the_negotiated_in_flight_limit() {
    let mut ac = AgentConfig::default();
    ac.max_in_flight = 2;
    let mut p = Pair::established(ac, ServiceConfig::default());
    for id in 1..=3 {
        let m = Message::SignInRequest(request(&p, id, 1_000));
        p.feed_agent(&frame(&m));
    }
    assert_eq!(
        closed_agent(&p),
        Some((
            CloseReason::ProtocolError,
            false,
            Some(Error::PeerExceededInFlight)
        ))
    );
}

#[test]
fn service_refuses_bad_requests_without_side_effects() {
    let mut p = Pair::new(AgentConfig::default(), ServiceConfig::default());
    assert_eq!(
        p.service.send_sign_in(0, request(&p, 1, 10)),
        Err(Error::NotEstablished)
    );
    p.drive();
    p.service_events.clear();
    p.service.send_sign_in(p.now, request(&p, 1, 10)).unwrap();
    assert_eq!(
        p.service.send_sign_in(p.now, request(&p, 1, 10)),
        Err(Error::DuplicateRequestId)
    );
    let mut past = request(&p, 2, 0);
    past.deadline_unix_ms -= 1;
    assert_eq!(
        p.service.send_sign_in(p.now, past),
        Err(Error::DeadlinePassed)
    );
    assert_eq!(p.service.in_flight(), 1);
}

#[test]
fn event_queue_backpressure_stops_input_without_losing_frames() {
    let mut ac = AgentConfig::default();
    ac.max_queued_events = 4;
    let mut p = Pair::established(ac, ServiceConfig::default());
    let mut stream = Vec::new();
    for id in 1..=20 {
        stream.extend(frame(&Message::SignInRequest(request(&p, id, 5_000))));
    }
    let n = p.agent.handle_input(p.now, &stream);
    assert!(n < stream.len());
    let mut events = 0;
    while p.agent.poll_event().is_some() {
        events += 1;
    }
    assert_eq!(events, 4);
    p.feed_agent(&stream[n..]);
    assert_eq!(take_requests(&mut p).len(), 16);
}

#[test]
fn warnings_and_errors_reach_the_service() {
    let mut p = Pair::default_established();
    p.service
        .send_sign_in(p.now, request(&p, 1, 5_000))
        .unwrap();
    p.service
        .send_sign_in(p.now, request(&p, 2, 5_000))
        .unwrap();
    p.drive();
    let ids = take_requests(&mut p);
    let warned = SignInResponse {
        request_id: ids[0],
        outcome: Outcome::Verdict(Verdict::Success),
        warnings: vec![Warning {
            kind: WarningKind::PasswordExpiresInDays,
            value: 5,
        }],
        mac: vec![9; 32],
    };
    let failed = SignInResponse {
        request_id: ids[1],
        outcome: Outcome::Error(ErrorCode::UnknownSessionKey),
        warnings: vec![],
        mac: vec![],
    };
    p.agent
        .send_sign_in_response(p.now, warned.clone())
        .unwrap();
    p.agent
        .send_sign_in_response(p.now, failed.clone())
        .unwrap();
    p.drive();
    assert_eq!(
        p.service_events,
        vec![
            ServiceEvent::SignInResponse(warned),
            ServiceEvent::SignInResponse(failed)
        ]
    );
}

#[test]
fn password_change_needs_the_capability() {
    let mut p = Pair::default_established();
    p.service
        .send_password_change(p.now, request(&p, 5, 5_000))
        .unwrap();
    p.drive();
    let Some(AgentEvent::PasswordChangeRequest { request: req, .. }) = p.agent_events.pop() else {
        panic!()
    };
    // Answering it as a sign-in is refused; as a password change it goes through.
    let resp = SignInResponse {
        request_id: req.request_id,
        outcome: Outcome::Verdict(Verdict::NewPasswordRejected),
        warnings: vec![],
        mac: vec![1; 16],
    };
    assert_eq!(
        p.agent.send_sign_in_response(p.now, resp.clone()),
        Err(Error::UnknownRequest)
    );
    p.agent
        .send_password_change_response(p.now, resp.clone())
        .unwrap();
    p.drive();
    assert_eq!(
        p.service_events,
        vec![ServiceEvent::PasswordChangeResponse(resp)]
    );

    let mut ac = AgentConfig::default();
    ac.capabilities = Capabilities::RENEW;
    let mut p = Pair::established(ac, ServiceConfig::default());
    assert_eq!(
        p.service.send_password_change(p.now, request(&p, 5, 5_000)),
        Err(Error::Unsupported)
    );
}

#[test]
fn renewal_round_trip_and_timeout() {
    let mut p = Pair::default_established();
    let id = RequestId::from(77u128);
    p.agent
        .send_renew_request(
            p.now,
            RenewRequest {
                request_id: id,
                csr: vec![0x30, 1, 2],
            },
        )
        .unwrap();
    assert_eq!(
        p.agent.send_renew_request(
            p.now,
            RenewRequest {
                request_id: id,
                csr: vec![1]
            }
        ),
        Err(Error::RenewInProgress)
    );
    p.drive();
    assert!(
        matches!(&p.service_events[..], [ServiceEvent::RenewRequest(r)] if r.csr == [0x30, 1, 2])
    );
    let resp = RenewResponse {
        request_id: id,
        result: RenewResult::Chain(vec![vec![0x30; 10]]),
    };
    p.service.send_renew_response(p.now, resp.clone()).unwrap();
    assert_eq!(
        p.service.send_renew_response(p.now, resp.clone()),
        Err(Error::UnknownRequest)
    );
    p.drive();
    assert_eq!(p.agent_events, vec![AgentEvent::RenewResponse(resp)]);
    p.agent_events.clear();

    // No answer: the renewal times out once, and a late answer is dropped.
    let id2 = RequestId::from(78u128);
    p.agent
        .send_renew_request(
            p.now,
            RenewRequest {
                request_id: id2,
                csr: vec![1],
            },
        )
        .unwrap();
    p.run_until(p.now + 60_000);
    assert_eq!(p.agent_events, vec![AgentEvent::RenewTimedOut(id2)]);
    p.service
        .send_renew_response(
            p.now,
            RenewResponse {
                request_id: id2,
                result: RenewResult::Error(ErrorCode::RenewRefused),
            },
        )
        .unwrap();
    p.drive();
    assert_eq!(p.agent.stats().late_responses, 1);
    assert_eq!(p.agent.state(), AgentState::Established);
}

#[test]
fn unpolled_timeouts_cannot_grow_the_event_queue_without_bound() {
    // A caller that keeps sending requests that time out, and never polls events, is refused
    // with EventsPending once the queue is full, so the queue stays bounded.
    let mut p = Pair::default_established();
    while p.service.poll_event().is_some() {}
    // The pair runs on default configurations; the negotiated in-flight cap is at most the
    // service's.
    let config = ServiceConfig::default();
    let (max_events, max_in_flight) = (config.max_queued_events, config.max_in_flight as usize);
    let mut now = p.now;
    let mut next = 1u128;
    let mut refused = None;
    for _ in 0..10_000 {
        loop {
            let req = SignInRequest {
                request_id: RequestId::from(next),
                deadline_unix_ms: p.service.unix_time(now) + 5,
                login: "u@example.com".into(),
                envelope: vec![1; 8],
            };
            match p.service.send_sign_in(now, req) {
                Ok(()) => next += 1,
                Err(e) => {
                    if e == Error::EventsPending {
                        refused = Some(e);
                    }
                    break;
                }
            }
        }
        if refused.is_some() {
            break;
        }
        now += 6;
        p.service.handle_timeout(now);
        let mut sink = Vec::new();
        p.service.poll_transmit(&mut sink);
    }
    assert_eq!(refused, Some(Error::EventsPending));
    let mut queued = 0;
    while p.service.poll_event().is_some() {
        queued += 1;
    }
    assert!(queued >= max_events, "the queue filled: {queued}");
    assert!(
        queued <= max_events + max_in_flight,
        "{queued} > {max_events} + {max_in_flight}"
    );
    // Once polled, requests are accepted again.
    let req = SignInRequest {
        request_id: RequestId::from(next),
        deadline_unix_ms: p.service.unix_time(now) + 1_000,
        login: "u@example.com".into(),
        envelope: vec![1; 8],
    };
    assert_eq!(p.service.send_sign_in(now, req), Ok(()));
}

#[test]
fn fuzz_found_inputs_hold_the_session_invariants() {
    // Inputs the wire_session fuzz target once crashed on, replayed through its hook.
    pta_wire::fuzzing::session(include_bytes!("../data/fuzz-session-unpolled-timeouts.bin"));
}
