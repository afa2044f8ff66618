"""Independent JWE implementation (python jwcrypto) for pta-envelope's interop tests.

    jwe_interop.py decrypt rsa PKCS8_DER_FILE  < JWE      prints the plaintext as hex
    jwe_interop.py decrypt oct KEY_HEX         < JWE
    jwe_interop.py encrypt PLAINTEXT_HEX AAD_HEX SPKI_DER_FILE RSA_KID OCT_KEY_HEX OCT_KID
        prints a JWE (General JSON Serialization, enc A256GCM) with two recipients:
        RSA-OAEP-256 to the RSA key and A256GCMKW under the octet key

Exits non-zero with a message on any failure.
"""

import base64
import json
import sys

from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    load_der_public_key,
)
from jwcrypto import jwe, jwk


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def key(kind, arg):
    if kind == "rsa":
        with open(arg, "rb") as f:
            return jwk.JWK.from_pyca(load_der_private_key(f.read(), password=None))
    if kind == "oct":
        return jwk.JWK(kty="oct", k=b64(bytes.fromhex(arg)))
    raise SystemExit("unknown key kind " + kind)


def main():
    cmd = sys.argv[1]
    if cmd == "decrypt":
        token = jwe.JWE()
        token.deserialize(sys.stdin.read(), key(sys.argv[2], sys.argv[3]))
        print(token.plaintext.hex())
    elif cmd == "encrypt":
        plaintext, aad, spki, rsa_kid, oct_hex, oct_kid = sys.argv[2:8]
        with open(spki, "rb") as f:
            rsa_key = jwk.JWK.from_pyca(load_der_public_key(f.read()))
        token = jwe.JWE(
            bytes.fromhex(plaintext),
            protected=json.dumps({"enc": "A256GCM"}),
            aad=bytes.fromhex(aad),
        )
        token.add_recipient(rsa_key, header=json.dumps({"alg": "RSA-OAEP-256", "kid": rsa_kid}))
        token.add_recipient(key("oct", oct_hex), header=json.dumps({"alg": "A256GCMKW", "kid": oct_kid}))
        out = json.loads(token.serialize(compact=False))
        if "recipients" not in out:
            raise SystemExit("jwcrypto did not produce the general serialization")
        print(json.dumps(out))
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
