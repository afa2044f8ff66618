//! The worked example of docs/PROTOCOL.md section 14.8: a grant envelope and a session-key
//! envelope sealed by the real [`Sealer`] from a fixed agent key and fixed randomness, every
//! intermediate value recomputed here from the specification's text (not through the crate's
//! internals) and checked against the envelopes' bytes, both envelopes opened by the real
//! [`Opener`], and the rendered example compared with the block between the
//! `envelope-example` markers of docs/PROTOCOL.md. `PTA_BLESS=1` rewrites that block.
//!
//! RSA-OAEP draws a random 32-byte seed; the crate's backends take it from the operating
//! system. The example fixes it: [`SeededAgent`] encrypts the grant with the `rsa` crate and a
//! fixed seed (the same call as the default backend, with the seed instead of the system's
//! generator), and the real [`RsaIdentity`] decrypts it.

use std::collections::VecDeque;
use std::convert::Infallible;

use base64ct::{Base64UrlUnpadded, Encoding};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use pta_envelope::fuzzing::{aes256gcm_open, aes256gcm_seal};
use pta_envelope::{
    AgentIdentity, AgentRecipient, ContentKey, Envelope, Identity, KeyId, OpenError, Opener,
    OpenerConfig, Recipient, Reply, RsaIdentity, SealError, Sealer, SealerConfig, SessionKey,
    Stanza,
};
use rand_core::{TryCryptoRng, TryRng};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, PublicKey};
use sha2::{Digest, Sha256};

const KEY_FILE: &str = "tests/data/example-rsa2048.pem";
const BEGIN: &str = "<!-- BEGIN envelope-example -->\n";
const END: &str = "<!-- END envelope-example -->";

/// The OAEP label of grants (PROTOCOL.md section 14.3), spelled out here, not taken from the
/// crate.
const GRANT_LABEL: &[u8] = b"pta-envelope session key v1";
const PROTECTED_B64: &str = "eyJlbmMiOiJBMjU2R0NNIn0";

/// `start`, `start + 1`, ... (N bytes): readable fixed "random" values.
fn run<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

/// A generator that hands out a fixed script of bytes, and fails the test if asked for more
/// (or for anything but bytes).
struct Script(VecDeque<u8>);

impl Script {
    fn new(parts: &[&[u8]]) -> Self {
        Self(parts.iter().flat_map(|p| p.iter().copied()).collect())
    }
}

impl TryRng for Script {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        panic!("the example draws only bytes")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        panic!("the example draws only bytes")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.0.pop_front().expect("the script ran out of bytes");
        }
        Ok(())
    }
}
impl TryCryptoRng for Script {}

/// The agent's public key as the sealer sees it, with the OAEP seed of its grant fixed.
struct SeededAgent {
    key: PublicKey,
    id: KeyId,
    seed: [u8; 32],
}

impl Recipient for SeededAgent {
    fn wrap(&self, _key: &ContentKey, _nonce: &[u8; 12]) -> Result<Stanza, SealError> {
        panic!("the sealer wraps content keys under the session key")
    }
}

impl AgentRecipient for SeededAgent {
    fn key_id(&self) -> &KeyId {
        &self.id
    }

    fn grant(&self, key: &SessionKey) -> Result<Stanza, SealError> {
        let mut rng = Script::new(&[&self.seed]);
        let ciphertext = self
            .key
            .encrypt(
                &mut rng,
                Oaep::<Sha256>::new_with_label(GRANT_LABEL),
                key.expose(),
            )
            .map_err(|_| SealError::Rsa)?;
        assert!(rng.0.is_empty(), "OAEP draws exactly its 32-byte seed");
        Ok(Stanza::SessionKeyGrant {
            key_tag: self.id.tag(),
            ciphertext,
        })
    }
}

/// PROTOCOL.md section 12 (pta-wire's `envelope_binding`, rebuilt here from the text).
fn binding(
    request_id: &[u8; 16],
    tenant: &str,
    login: &str,
    key_id: &[u8; 32],
    deadline: u64,
) -> Vec<u8> {
    let mut out = b"pta sign-in v1\0".to_vec();
    for field in [
        &request_id[..],
        tenant.as_bytes(),
        login.as_bytes(),
        &key_id[..],
    ] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field);
    }
    out.extend_from_slice(&deadline.to_be_bytes());
    out
}

/// The content's associated data (section 14.5): ASCII.
fn content_aad(header: &[u8], bound: &[u8]) -> Vec<u8> {
    let mut member = header.to_vec();
    member.extend_from_slice(bound);
    format!(
        "{PROTECTED_B64}.{}",
        Base64UrlUnpadded::encode_string(&member)
    )
    .into_bytes()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The rendered example, line by line.
#[derive(Default)]
struct Doc(String);

impl Doc {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }

    /// `label (n bytes):` and the bytes in hex, 32 bytes (64 digits) a line.
    fn bytes(&mut self, label: &str, b: &[u8]) {
        self.line(&format!("{label} ({} bytes):", b.len()));
        for chunk in b.chunks(32) {
            self.line(&format!("  {}", hex(chunk)));
        }
    }

    /// `label (n bytes, ASCII):` and the text, 64 characters a line.
    fn ascii(&mut self, label: &str, b: &[u8]) {
        self.line(&format!("{label} ({} bytes, ASCII):", b.len()));
        for chunk in b.chunks(64) {
            self.line(&format!("  {}", String::from_utf8_lossy(chunk)));
        }
    }
}

/// One envelope's values, as recomputed from the specification.
struct Parts {
    secret: &'static [u8],
    bound: Vec<u8>,
    content_key: [u8; 32],
    nonce: [u8; 12],
    wrapped: Vec<u8>,
    header: Vec<u8>,
    aad: Vec<u8>,
    sealed: Vec<u8>,
    bytes: Vec<u8>,
}

/// Recomputes an envelope sealed under `session_key` (with the grant stanza `grant` first when
/// given) from the specification, and checks it against the sealer's `envelope`.
fn recompute(
    envelope: &Envelope,
    grant: Option<&[u8]>,
    (session_key, session_key_id): (&[u8; 32], &[u8; 8]),
    content_key: [u8; 32],
    nonce: [u8; 12],
    secret: &'static [u8],
    bound: Vec<u8>,
) -> Parts {
    let wrapped = aes256gcm_seal(session_key, &nonce, b"", &content_key);
    let mut header = vec![1];
    header.extend_from_slice(&nonce);
    header.push(1 + u8::from(grant.is_some()));
    if let Some(g) = grant {
        header.extend_from_slice(g);
    }
    header.push(2);
    header.extend_from_slice(session_key_id);
    header.extend_from_slice(&wrapped);
    let aad = content_aad(&header, &bound);
    let sealed = aes256gcm_seal(&content_key, &nonce, &aad, secret);
    let mut bytes = header.clone();
    bytes.extend_from_slice(&sealed);
    assert_eq!(
        bytes,
        envelope.to_bytes(),
        "the specification gives the sealer's bytes"
    );
    assert_eq!(
        aes256gcm_open(&content_key, &nonce, &aad, &sealed).as_deref(),
        Some(secret)
    );
    Parts {
        secret,
        bound,
        content_key,
        nonce,
        wrapped,
        header,
        aad,
        sealed,
        bytes,
    }
}

/// HKDF-SHA-256 (no salt) of the content key, and HMAC-SHA-256 over the reply input of
/// PROTOCOL.md section 5.4 with verdict 0 and no warnings.
fn reply_mac(content_key: &[u8; 32], request_id: &[u8; 16]) -> ([u8; 32], Vec<u8>, [u8; 32]) {
    let mut reply_key = [0u8; 32];
    Hkdf::<Sha256>::new(None, content_key)
        .expand(b"pta-envelope reply key v1", &mut reply_key)
        .unwrap();
    let mut input = b"pta-envelope reply v1\0".to_vec();
    input.extend_from_slice(&16u32.to_be_bytes());
    input.extend_from_slice(request_id);
    input.extend_from_slice(&0u32.to_be_bytes());
    input.extend_from_slice(&0u32.to_be_bytes());
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&reply_key).unwrap();
    m.update(&input);
    (reply_key, input, m.finalize().into_bytes().into())
}

fn render_envelope(doc: &mut Doc, p: &Parts, grant: bool) {
    doc.ascii("secret", p.secret);
    doc.bytes("bound (section 12)", &p.bound);
    doc.bytes("content key (random)", &p.content_key);
    doc.bytes("nonce (random)", &p.nonce);
    doc.bytes(
        "session-key stanza: AES-256-GCM(session key, nonce, no AAD, content key) = wrapped key || tag",
        &p.wrapped,
    );
    let count = if grant {
        "2: grant, session key"
    } else {
        "1: session key"
    };
    doc.line(&format!("stanza count: {count}"));
    doc.bytes("header = version || nonce || count || stanzas", &p.header);
    doc.ascii(
        "content AAD = \"eyJlbmMiOiJBMjU2R0NNIn0\" || \".\" || BASE64URL(header || bound)",
        &p.aad,
    );
    doc.bytes(
        "sealed secret: AES-256-GCM(content key, nonce, content AAD, secret) = ciphertext || tag",
        &p.sealed,
    );
    doc.bytes("envelope = header || sealed secret", &p.bytes);
}

fn protocol_md() -> String {
    format!("{}/../../docs/PROTOCOL.md", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn envelope_example_matches_protocol_md() {
    let pem =
        std::fs::read_to_string(format!("{}/{KEY_FILE}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let identity = RsaIdentity::from_pkcs8_pem(&pem).unwrap();
    let spki = identity.to_recipient().to_spki_der().unwrap();
    let key_id: [u8; 32] = Sha256::digest(&spki).into();
    assert_eq!(identity.key_id().0, key_id);
    let key_tag: [u8; 8] = key_id[..8].try_into().unwrap();

    // The fixed randomness, in the order the sealer draws it.
    let session_key = run::<32>(0x20);
    let oaep_seed = run::<32>(0xc0);
    let (ck1, nonce1) = (run::<32>(0x40), run::<12>(0x60));
    let (ck2, nonce2) = (run::<32>(0x80), run::<12>(0xa0));
    let agent = SeededAgent {
        key: PublicKey::from_public_key_der(&spki).unwrap(),
        id: KeyId(key_id),
        seed: oaep_seed,
    };
    let mut sealer = Sealer::with_rng(
        SealerConfig::default(),
        Script::new(&[&session_key, &ck1, &nonce1, &ck2, &nonce2]),
    );

    let tenant = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
    let login = "alice@contoso.example";
    let (id1, id2) = (run::<16>(0x00), run::<16>(0x10));
    let bound1 = binding(&id1, tenant, login, &key_id, 1_700_000_005_000);
    let bound2 = binding(&id2, tenant, login, &key_id, 1_700_000_006_000);
    let secret1: &'static [u8] = b"Tr0ub4dor&3";
    let secret2: &'static [u8] = b"correct horse battery staple";

    let first = sealer.seal(0, &agent, secret1, &bound1).unwrap();
    let second = sealer.seal(1, &agent, secret2, &bound2).unwrap();

    // Session key id (section 14.2).
    let mut h = Sha256::new();
    h.update(b"pta-envelope session key id v1\0");
    h.update(session_key);
    let session_key_id: [u8; 8] = h.finalize()[..8].try_into().unwrap();
    assert_eq!(SessionKey::from_bytes(session_key).id().0, session_key_id);

    // The grant: kind 4, key tag, u16be length, the OAEP ciphertext; the real key opens it.
    let Stanza::SessionKeyGrant {
        key_tag: tag,
        ciphertext: grant_ct,
    } = &first.envelope.stanzas()[0]
    else {
        panic!("the first envelope of an epoch starts with the grant")
    };
    assert_eq!(*tag, key_tag);
    assert_eq!(
        identity
            .decrypt_oaep(grant_ct, Some(GRANT_LABEL))
            .unwrap()
            .as_slice(),
        session_key
    );
    let mut grant = vec![4];
    grant.extend_from_slice(&key_tag);
    grant.extend_from_slice(&(grant_ct.len() as u16).to_be_bytes());
    grant.extend_from_slice(grant_ct);

    let p1 = recompute(
        &first.envelope,
        Some(&grant),
        (&session_key, &session_key_id),
        ck1,
        nonce1,
        secret1,
        bound1.clone(),
    );
    let p2 = recompute(
        &second.envelope,
        None,
        (&session_key, &session_key_id),
        ck2,
        nonce2,
        secret2,
        bound2.clone(),
    );

    // The real opener opens both, the second from its cache; without the grant it cannot.
    let mut opener = Opener::new(&identity, OpenerConfig::default());
    let e1 = Envelope::decode(&p1.bytes).unwrap();
    let e2 = Envelope::decode(&p2.bytes).unwrap();
    assert_eq!(
        Opener::new(&identity, OpenerConfig::default())
            .open(0, &e2, &bound2)
            .unwrap_err(),
        OpenError::UnknownSessionKey(pta_envelope::SessionKeyId(session_key_id))
    );
    assert_eq!(
        opener.open(0, &e1, &bound2).unwrap_err(),
        OpenError::Decrypt
    );
    let opened1 = opener.open(0, &e1, &bound1).unwrap();
    assert_eq!(opened1.secret.expose(), secret1);
    let opened2 = opener.open(1, &e2, &bound2).unwrap();
    assert_eq!(opened2.secret.expose(), secret2);
    // The session key alone opens the second one too.
    let sk = SessionKey::from_bytes(session_key);
    assert_eq!(
        sk.unwrap(&e2.stanzas()[0], e2.nonce())
            .unwrap()
            .unwrap()
            .expose(),
        &ck2
    );

    // The reply MAC (section 5.4) of a Success to the first request.
    let (reply_key, mac_input, mac) = reply_mac(&ck1, &id1);
    let reply = Reply {
        request_id: &id1,
        verdict: 0,
        warnings: &[],
    };
    assert_eq!(opened1.reply_key.mac(&reply).0, mac);
    assert_eq!(first.reply_key.verify(&reply, &mac), Ok(()));

    // Render.
    let mut doc = Doc::default();
    for line in [
        "Generated by the test `example::envelope_example_matches_protocol_md`",
        "(`crates/pta-envelope/tests/integration/example.rs`) from the real `Sealer` and `Opener`.",
        "Do not edit it by hand:",
        "`PTA_BLESS=1 cargo test -p pta-envelope --test integration envelope_example_matches`",
        "rewrites it. Hex is wrapped at 32 bytes a line, ASCII at 64 characters.",
        "",
        "The random values are fixed runs of bytes. RSA-OAEP is randomized too: the example fixes its",
        "seed (the test encrypts the grant with the `rsa` crate and that seed, the call the default",
        "backend makes with the system's generator), and the real `RsaIdentity` decrypts it.",
        "`crates/pta-envelope/tests/envelope_example.py` opens both envelopes from this text alone with",
        "python `cryptography`, following this specification.",
        "",
    ] {
        doc.line(line);
    }
    doc.line(
        "The agent's RSA key (test only: `crates/pta-envelope/tests/data/example-rsa2048.pem`):",
    );
    doc.line("");
    doc.line("```text");
    doc.0.push_str(&pem);
    doc.line("```");
    doc.line("");
    doc.line("```text");
    doc.bytes("spki = the key's DER SubjectPublicKeyInfo", &spki);
    doc.bytes("key id = SHA-256(spki)", &key_id);
    doc.bytes("key tag = key id[0..8]", &key_tag);
    doc.line(&format!("tenant: {tenant}"));
    doc.line(&format!("login: {login}"));
    doc.line("```");
    doc.line("");
    doc.line("**(a) Grant envelope**: the first envelope of an epoch, request id `000102...0f`,");
    doc.line("deadline 1 700 000 005 000.");
    doc.line("");
    doc.line("```text");
    doc.bytes("session key (random)", &session_key);
    doc.bytes(
        "session key id = SHA-256(\"pta-envelope session key id v1\" || 00 || session key)[0..8]",
        &session_key_id,
    );
    doc.ascii("OAEP label", GRANT_LABEL);
    doc.bytes("OAEP seed (random)", &oaep_seed);
    doc.bytes(
        "grant ciphertext: RSA-OAEP(SHA-256, MGF1-SHA-256, label, session key)",
        grant_ct,
    );
    doc.bytes(
        "grant stanza = 04 || key tag || u16be(256) || ciphertext",
        &grant,
    );
    render_envelope(&mut doc, &p1, true);
    doc.line("```");
    doc.line("");
    doc.line(
        "The reply MAC of a `Success` (verdict 0, no warnings) to this request (section 5.4):",
    );
    doc.line("");
    doc.line("```text");
    doc.bytes(
        "reply key = HKDF-SHA-256(salt none, IKM content key, info \"pta-envelope reply key v1\", L 32)",
        &reply_key,
    );
    doc.bytes("MAC input", &mac_input);
    doc.bytes("MAC = HMAC-SHA-256(reply key, MAC input)", &mac);
    doc.line("```");
    doc.line("");
    doc.line("**(b) Session-key envelope**: the next envelope of the same epoch, request id");
    doc.line("`101112...1f`, deadline 1 700 000 006 000; the agent opens it with the cached session key.");
    doc.line("");
    doc.line("```text");
    render_envelope(&mut doc, &p2, false);
    doc.line("```");

    let path = protocol_md();
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text
        .find(BEGIN)
        .expect("PROTOCOL.md has the BEGIN envelope-example marker")
        + BEGIN.len();
    let end = start
        + text[start..]
            .find(END)
            .expect("PROTOCOL.md has the END envelope-example marker");
    if std::env::var_os("PTA_BLESS").is_some_and(|v| v == "1") {
        let mut new = text[..start].to_owned();
        new.push_str(&doc.0);
        new.push_str(&text[end..]);
        // Whole or not at all: the python test may be reading the document meanwhile.
        let tmp = format!("{path}.bless");
        std::fs::write(&tmp, new).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        return;
    }
    assert!(
        text[start..end] == doc.0,
        "docs/PROTOCOL.md's envelope example differs from what the code produces; regenerate it \
         with `PTA_BLESS=1 cargo test -p pta-envelope --test integration envelope_example_matches` and review \
         the diff.\n--- expected block ---\n{}",
        doc.0
    );
}

/// The independent check: python `cryptography` opens both envelopes from the document's text,
/// following the specification (`tests/envelope_example.py`). A missing tool fails the test.
#[test]
fn envelope_example_opens_with_python_from_the_document_alone() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(format!("{dir}/tests/envelope_example.py"))
        .arg(protocol_md())
        .arg(format!("{dir}/{KEY_FILE}"))
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/python3 is required (scripts/install-deps.sh): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python failed to open the example from PROTOCOL.md: {stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Tr0ub4dor&3\ncorrect horse battery staple\n"
    );
}
