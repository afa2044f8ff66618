//! Independent decoding: python cbor2 decodes our frames using only docs/PROTOCOL.md, and we
//! decode frames that cbor2 built from the spec (with unknown keys added).

use std::io::Write;
use std::process::{Command, Stdio};

use pta_wire::{
    Capabilities, Close, CloseReason, ErrorCode, ErrorMessage, Hello, Message, Outcome,
    RenewRequest, RenewResponse, RenewResult, RequestId, SignInRequest, SignInResponse, Verdict,
    Warning, WarningKind, Welcome,
};

const PYTHON: &str = "/usr/bin/python3";

fn script() -> String {
    format!("{}/tests/interop.py", env!("CARGO_MANIFEST_DIR"))
}

fn rid() -> RequestId {
    let mut b = [0u8; 16];
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
    RequestId(b)
}

/// The same messages as `EXPECTED` in interop.py.
pub(crate) fn samples() -> Vec<(&'static str, Message)> {
    vec![
        (
            "hello",
            Message::Hello(Hello {
                versions: vec![1, 2],
                agent_version: "1.4.0".into(),
                capabilities: Capabilities::PASSWORD_CHANGE | Capabilities::RENEW,
                max_in_flight: 256,
                max_frame_size: 65_536,
            }),
        ),
        (
            "welcome",
            Message::Welcome(Welcome {
                version: 1,
                heartbeat_interval_ms: 15_000,
                idle_timeout_ms: 45_000,
                max_frame_size: 65_536,
                max_in_flight: 256,
                service_time_unix_ms: 1_700_000_000_000,
                latest_agent_version: "1.5.0".into(),
                min_agent_version: "1.0.0".into(),
            }),
        ),
        (
            "sign_in_request",
            Message::SignInRequest(SignInRequest {
                request_id: rid(),
                deadline_unix_ms: 1_700_000_005_000,
                login: "alice@contoso.example".into(),
                envelope: vec![0xa5; 48],
            }),
        ),
        (
            "sign_in_response",
            Message::SignInResponse(SignInResponse {
                request_id: rid(),
                outcome: Outcome::Verdict(Verdict::Success),
                warnings: vec![Warning {
                    kind: WarningKind::PasswordExpiresInDays,
                    value: 5,
                }],
                mac: vec![0x5c; 32],
            }),
        ),
        (
            "sign_in_response_error",
            Message::SignInResponse(SignInResponse {
                request_id: rid(),
                outcome: Outcome::Error(ErrorCode::UnknownSessionKey),
                warnings: vec![],
                mac: vec![],
            }),
        ),
        (
            "password_change_request",
            Message::PasswordChangeRequest(SignInRequest {
                request_id: rid(),
                deadline_unix_ms: 1_700_000_005_000,
                login: "bob@contoso.example".into(),
                envelope: vec![1; 20],
            }),
        ),
        (
            "password_change_response",
            Message::PasswordChangeResponse(SignInResponse {
                request_id: rid(),
                outcome: Outcome::Verdict(Verdict::NewPasswordRejected),
                warnings: vec![],
                mac: vec![2; 16],
            }),
        ),
        (
            "renew_request",
            Message::RenewRequest(RenewRequest {
                request_id: RequestId([0xff; 16]),
                csr: vec![0x30, 0x03, 0x02, 0x01, 0x00],
            }),
        ),
        (
            "renew_response",
            Message::RenewResponse(RenewResponse {
                request_id: RequestId([0xff; 16]),
                result: RenewResult::Chain(vec![b"leaf".to_vec(), b"issuer".to_vec()]),
            }),
        ),
        (
            "renew_response_error",
            Message::RenewResponse(RenewResponse {
                request_id: RequestId([0xff; 16]),
                result: RenewResult::Error(ErrorCode::RenewRefused),
            }),
        ),
        ("ping", Message::Ping(42)),
        ("pong", Message::Pong(42)),
        ("drain", Message::Drain),
        (
            "close",
            Message::Close(Close {
                reason: CloseReason::Revoked,
                detail: "revoked by admin".into(),
            }),
        ),
        (
            "error",
            Message::Error(ErrorMessage {
                code: ErrorCode::Overloaded,
                request_id: Some(rid()),
                detail: "busy".into(),
            }),
        ),
    ]
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn python(mode: &str, input: &str) -> String {
    let mut child = Command::new(PYTHON)
        .arg(script())
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PYTHON} (install python3 and python3-cbor2 with scripts/install-deps.sh): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "interop.py {mode} failed ({}): {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn python_cbor2_decodes_our_frames_from_the_spec() {
    let mut input = String::new();
    for (name, m) in samples() {
        let mut f = Vec::new();
        m.encode(&mut f).unwrap();
        input.push_str(&format!("{name} {}\n", hex(&f)));
    }
    let out = python("check", &input);
    assert!(
        out.contains(&format!("checked {} frames, 0 failures", samples().len())),
        "{out}"
    );
}

#[test]
fn we_decode_frames_python_cbor2_built_from_the_spec() {
    let out = python("build", "");
    let samples = samples();
    let mut decoded = 0;
    for line in out.lines() {
        let (name, h) = line.split_once(' ').unwrap();
        let want = &samples.iter().find(|(n, _)| *n == name).unwrap().1;
        let got = Message::decode(&unhex(h)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got, want, "{name}");
        decoded += 1;
    }
    assert_eq!(decoded, samples.len());
}
