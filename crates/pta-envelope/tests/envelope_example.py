"""Opens the worked envelope example of docs/PROTOCOL.md (section 14.11) from the document's
text alone, with python `cryptography`, following sections 12, 14 and 5.4: written from the
specification, not from the Rust code.

    envelope_example.py PROTOCOL_MD PEM_KEY_FILE

Prints the two secrets; exits non-zero with a message when anything does not check.
"""

import base64
import hashlib
import hmac
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

GRANT_LABEL = b"pta-envelope session key v1"
PROTECTED = b"eyJlbmMiOiJBMjU2R0NNIn0"


def fail(msg):
    raise SystemExit("envelope_example.py: " + msg)


def example_block(text):
    begin = text.index("<!-- BEGIN envelope-example -->")
    end = text.index("<!-- END envelope-example -->")
    return text[begin:end].split("\n")


def values(lines, prefix):
    """The hex values printed under each line that starts with `prefix`, in order."""
    out = []
    for i, line in enumerate(lines):
        if line.startswith(prefix):
            hexdigits = ""
            for cont in lines[i + 1 :]:
                if not cont.startswith("  "):
                    break
                hexdigits += cont.strip()
            out.append(bytes.fromhex(hexdigits))
    return out


def binding(request_id, tenant, login, key_id, deadline):
    out = b"pta sign-in v1\x00"
    for field in (request_id, tenant, login, key_id):
        out += len(field).to_bytes(4, "big") + field
    return out + deadline.to_bytes(8, "big")


def parse(env):
    if env[0] != 1:
        fail("version")
    nonce, count, pos, stanzas = env[1:13], env[13], 14, []
    for _ in range(count):
        kind = env[pos]
        pos += 1
        if kind in (1, 4):
            tag, n = env[pos : pos + 8], int.from_bytes(env[pos + 8 : pos + 10], "big")
            stanzas.append((kind, tag, env[pos + 10 : pos + 10 + n]))
            pos += 10 + n
        elif kind == 2:
            stanzas.append((kind, env[pos : pos + 8], env[pos + 8 : pos + 56]))
            pos += 56
        else:
            fail("unexpected stanza kind %d" % kind)
    return nonce, stanzas, env[:pos], env[pos:]


def main():
    lines = example_block(open(sys.argv[1], encoding="utf-8").read())
    with open(sys.argv[2], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_id = hashlib.sha256(spki).digest()
    tenant = [l.split(": ", 1)[1] for l in lines if l.startswith("tenant: ")][0].encode()
    login = [l.split(": ", 1)[1] for l in lines if l.startswith("login: ")][0].encode()
    bounds = [
        binding(bytes(range(16)), tenant, login, key_id, 1_700_000_005_000),
        binding(bytes(range(16, 32)), tenant, login, key_id, 1_700_000_006_000),
    ]
    if values(lines, "bound (section 12)") != bounds:
        fail("the bindings differ from section 12")
    envelopes = values(lines, "envelope = header || sealed secret")
    if len(envelopes) != 2:
        fail("expected two envelopes")
    cache = {}
    content_keys = []
    for env, bound in zip(envelopes, bounds):
        nonce, stanzas, header, sealed = parse(env)
        for kind, tag, ct in stanzas:
            if kind == 4 and tag == key_id[:8]:
                oaep = padding.OAEP(
                    mgf=padding.MGF1(hashes.SHA256()),
                    algorithm=hashes.SHA256(),
                    label=GRANT_LABEL,
                )
                session_key = key.decrypt(ct, oaep)
                sk_id = hashlib.sha256(b"pta-envelope session key id v1\x00" + session_key)
                cache[sk_id.digest()[:8]] = session_key
        hits = [(sid, ct) for kind, sid, ct in stanzas if kind == 2 and sid in cache]
        if not hits:
            fail("no session-key stanza for a known session key")
        sid, wrapped = hits[0]
        content_key = AESGCM(cache[sid]).decrypt(nonce, wrapped, b"")
        aad = PROTECTED + b"." + base64.urlsafe_b64encode(header + bound).rstrip(b"=")
        print(AESGCM(content_key).decrypt(nonce, sealed, aad).decode())
        content_keys.append(content_key)
    reply_key = HKDF(hashes.SHA256(), 32, None, b"pta-envelope reply key v1").derive(
        content_keys[0]
    )
    mac_input = b"pta-envelope reply v1\x00" + (16).to_bytes(4, "big") + bytes(range(16))
    mac_input += (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    mac = hmac.new(reply_key, mac_input, "sha256").digest()
    if values(lines, "MAC = HMAC-SHA-256") != [mac]:
        fail("the reply MAC differs from section 5.4")


main()
