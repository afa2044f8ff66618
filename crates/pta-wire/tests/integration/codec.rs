//! The hex examples of docs/PROTOCOL.md, and the wire-size goals.

use pta_wire::{
    Message, Outcome, RequestId, SignInRequest, SignInResponse, Verdict, Warning, WarningKind,
};

use crate::interop::samples;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Must match the "Examples" section of docs/PROTOCOL.md byte for byte.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "hello",
        "01000018a5008201020165312e342e30020303190100041a00010000",
    ),
    (
        "welcome",
        "0200002da8000101193a980219afc8031a0001000004190100051b0000018bcfe56800\
         0665312e352e300765312e302e30",
    ),
    (
        "sign_in_response",
        "0400003ca40050000102030405060708090a0b0c0d0e0f010003a101050458205c5c5c5c5c5c5c5c5c5c5c5c\
         5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c",
    ),
    (
        "sign_in_response_error",
        "04000015a20050000102030405060708090a0b0c0d0e0f0204",
    ),
    ("ping", "09000004a100182a"),
    ("drain", "0b000001a0"),
    (
        "close",
        "0c000015a2000101707265766f6b65642062792061646d696e",
    ),
];

#[test]
fn protocol_md_examples_encode_and_decode() {
    let samples = samples();
    for (name, want) in EXAMPLES {
        let m = &samples.iter().find(|(n, _)| n == name).unwrap().1;
        let mut f = Vec::new();
        m.encode(&mut f).unwrap();
        assert_eq!(&hex(&f), want, "{name}");
        assert_eq!(&Message::decode(&f).unwrap(), m, "{name}");
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/PROTOCOL.md"
    ))
    .expect("docs/PROTOCOL.md");
    let doc: String = doc.split_whitespace().collect();
    for (name, want) in EXAMPLES {
        assert!(doc.contains(want), "PROTOCOL.md lacks the {name} example");
    }
}

#[test]
fn sign_in_response_fits_64_bytes() {
    let mut r = SignInResponse {
        request_id: RequestId([0xee; 16]),
        outcome: Outcome::Verdict(Verdict::WorkstationRestricted),
        warnings: vec![],
        mac: vec![0xab; 32],
    };
    assert_eq!(Message::SignInResponse(r.clone()).encoded_len(), 60);
    r.warnings.push(Warning {
        kind: WarningKind::PasswordExpiresInDays,
        value: 14,
    });
    assert_eq!(Message::SignInResponse(r).encoded_len(), 64);
}

#[test]
fn sign_in_request_overhead_is_at_most_96_bytes() {
    for envelope_len in [100usize, 1_000, 60_000] {
        let r = SignInRequest {
            request_id: RequestId([0xee; 16]),
            deadline_unix_ms: 1_900_000_000_000,
            login: "a".repeat(56),
            envelope: vec![0; envelope_len],
        };
        let overhead = Message::SignInRequest(r).encoded_len() - envelope_len;
        assert!(overhead <= 96, "{envelope_len}: {overhead}");
    }
}

#[test]
fn protocol_md_unknown_keys_example() {
    let frame = [
        0x09, 0x00, 0x00, 0x0d, 0xa3, 0x00, 0x05, 0x09, 0x61, 0x78, 0x61, 0x74, 0x82, 0x01, 0xa1,
        0x02, 0x03,
    ];
    assert_eq!(Message::decode(&frame), Ok(Message::Ping(5)));
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/PROTOCOL.md"
    ))
    .expect("docs/PROTOCOL.md");
    assert!(doc.contains(&hex(&frame)));
}
