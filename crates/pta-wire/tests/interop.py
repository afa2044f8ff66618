#!/usr/bin/python3
"""Independent implementation of docs/PROTOCOL.md framing and message maps, on python cbor2.

Written from the specification only (not from the Rust code). Two modes:

  interop.py check   read lines "NAME HEX" (frames produced by pta-wire) on stdin, decode each
                     per the spec and compare with the expected message below; exit 1 on any
                     mismatch.
  interop.py build   print lines "NAME HEX": frames built from the expected messages, with extra
                     unknown keys that a receiver must ignore.

Exits with status 2 if cbor2 is missing: the test must fail, not skip.
"""
import sys

try:
    import cbor2
except ImportError as e:  # pragma: no cover
    print(f"interop.py: python3-cbor2 is required: {e}", file=sys.stderr)
    sys.exit(2)

# Message type bytes, PROTOCOL.md "Message types".
HELLO, WELCOME, SIGN_IN_REQUEST, SIGN_IN_RESPONSE = 0x01, 0x02, 0x03, 0x04
PASSWORD_CHANGE_REQUEST, PASSWORD_CHANGE_RESPONSE = 0x05, 0x06
RENEW_REQUEST, RENEW_RESPONSE, PING, PONG, DRAIN, CLOSE, ERROR = (
    0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D)

RID = bytes(range(16))

# name -> (type, body map), with the key numbers of PROTOCOL.md.
EXPECTED = {
    "hello": (HELLO, {0: [1, 2], 1: "1.4.0", 2: 3, 3: 256, 4: 65536}),
    "welcome": (WELCOME, {0: 1, 1: 15000, 2: 45000, 3: 65536, 4: 256, 5: 1700000000000,
                          6: "1.5.0", 7: "1.0.0"}),
    "sign_in_request": (SIGN_IN_REQUEST, {0: RID, 1: 1700000005000,
                                          2: "alice@contoso.example", 3: b"\xa5" * 48}),
    "sign_in_response": (SIGN_IN_RESPONSE, {0: RID, 1: 0, 3: {1: 5}, 4: b"\x5c" * 32}),
    "sign_in_response_error": (SIGN_IN_RESPONSE, {0: RID, 2: 4}),
    "password_change_request": (PASSWORD_CHANGE_REQUEST, {0: RID, 1: 1700000005000,
                                                          2: "bob@contoso.example",
                                                          3: b"\x01" * 20}),
    "password_change_response": (PASSWORD_CHANGE_RESPONSE, {0: RID, 1: 9, 4: b"\x02" * 16}),
    "renew_request": (RENEW_REQUEST, {0: b"\xff" * 16, 1: b"\x30\x03\x02\x01\x00"}),
    "renew_response": (RENEW_RESPONSE, {0: b"\xff" * 16, 1: [b"leaf", b"issuer"]}),
    "renew_response_error": (RENEW_RESPONSE, {0: b"\xff" * 16, 2: 13}),
    "ping": (PING, {0: 42}),
    "pong": (PONG, {0: 42}),
    "drain": (DRAIN, {}),
    "close": (CLOSE, {0: 1, 1: "revoked by admin"}),
    "error": (ERROR, {0: 8, 1: RID, 2: "busy"}),
}


def frame(kind, body_map):
    body = cbor2.dumps(body_map)
    assert len(body) < 1 << 24
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def parse(data):
    if len(data) < 4:
        raise ValueError("short frame")
    kind = data[0]
    length = int.from_bytes(data[1:4], "big")
    body = data[4:]
    if len(body) != length:
        raise ValueError(f"length field {length}, body {len(body)}")
    value = cbor2.loads(body)
    if not isinstance(value, dict):
        raise ValueError("body is not a map")
    # Deterministic encoding (PROTOCOL.md "Encoding rules"): re-encoding canonically gives the
    # same bytes.
    if cbor2.dumps(value, canonical=True) != body:
        raise ValueError("body is not in deterministic encoding")
    return kind, value


def check():
    seen = set()
    failures = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        name, hexdata = line.split()
        seen.add(name)
        try:
            got = parse(bytes.fromhex(hexdata))
        except Exception as e:  # noqa: BLE001
            print(f"{name}: cannot decode: {e}", file=sys.stderr)
            failures += 1
            continue
        want = EXPECTED.get(name)
        if got != want:
            print(f"{name}: got {got!r}, want {want!r}", file=sys.stderr)
            failures += 1
    missing = set(EXPECTED) - seen
    if missing:
        print(f"frames missing: {sorted(missing)}", file=sys.stderr)
        failures += 1
    print(f"checked {len(seen)} frames, {failures} failures")
    return 1 if failures else 0


def build():
    for name, (kind, body) in EXPECTED.items():
        extended = dict(body)
        # Keys a later version might add: an unknown integer key and a text key.
        extended[23] = {"future": [1, 2.5, None, True]}
        extended["note"] = b"ignored"
        print(name, frame(kind, extended).hex())
    return 0


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "check":
        sys.exit(check())
    if mode == "build":
        sys.exit(build())
    print("usage: interop.py check|build", file=sys.stderr)
    sys.exit(64)
