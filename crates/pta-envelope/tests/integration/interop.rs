//! Interop with independent implementations: python jwcrypto for JWE (both recipient kinds,
//! both directions) and the openssl CLI for RSA-OAEP-256 (both backends, both directions).
//! A missing tool fails the test: it is never skipped.

use std::io::Write;
use std::process::{Command, Stdio};

use base64ct::{Base64UrlUnpadded, Encoding};
use pta_envelope::{
    ContentKey, Identity, Jwe, OpenError, Recipient, RsaRecipient, Sealer, SealerConfig,
    SessionKey, Stanza, open_jwe, seal,
};

use crate::{BOUND, key_path, rsa, spki};

const PYTHON: &str = "/usr/bin/python3";

fn script() -> String {
    format!("{}/tests/jwe_interop.py", env!("CARGO_MANIFEST_DIR"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs the jwcrypto script; returns (success, stdout, stderr).
fn python(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(PYTHON)
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{PYTHON} is required (scripts/install-deps.sh): {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "python3-jwcrypto is required (scripts/install-deps.sh): {stderr}"
    );
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        stderr,
    )
}

fn jwcrypto_decrypt(jwe: &str, kind: &str, key: &str) -> Vec<u8> {
    let (ok, out, err) = python(&["decrypt", kind, key], jwe);
    assert!(ok, "jwcrypto failed to decrypt: {err}");
    (0..out.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&out[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn jwcrypto_decrypts_our_rsa_recipient() {
    let secret = b"P@ssw0rd with spaces and \xc3\xa9";
    let sealed = seal(&[&rsa(2048).to_recipient()], secret, BOUND).unwrap();
    let jwe = sealed.envelope.to_jwe(BOUND);
    assert_eq!(
        jwcrypto_decrypt(&jwe, "rsa", &key_path("rsa2048.pk8.der")),
        secret
    );
}

#[test]
fn jwcrypto_decrypts_our_session_key_recipient() {
    let sk = SessionKey::from_bytes([0x5a; 32]);
    let other = SessionKey::from_bytes([0x11; 32]);
    let sealed = seal(&[&other, &sk], b"hunter2", BOUND).unwrap();
    let jwe = sealed.envelope.to_jwe(BOUND);
    assert_eq!(jwcrypto_decrypt(&jwe, "oct", &hex(sk.expose())), b"hunter2");
    // A key that is not a recipient fails there too.
    let (ok, _, _) = python(&["decrypt", "oct", &hex(&[0x22; 32])], &jwe);
    assert!(!ok);
}

#[test]
fn jwcrypto_reads_a_sealer_envelope_but_not_the_grant_as_a_content_key() {
    let mut rng = pta_envelope::fuzzing::CounterRng(77);
    let sk = SessionKey::generate(&mut rng).unwrap();
    let mut sealer = Sealer::with_rng(
        SealerConfig::default(),
        pta_envelope::fuzzing::CounterRng(77),
    );
    let sealed = sealer
        .seal(0, &rsa(2048).to_recipient(), b"epoch start", BOUND)
        .unwrap();
    assert_eq!(sealed.envelope.stanzas().len(), 2);
    let jwe = sealed.envelope.to_jwe(BOUND);
    assert_eq!(
        jwcrypto_decrypt(&jwe, "oct", &hex(sk.expose())),
        b"epoch start"
    );
    // The grant carries the session key under its own OAEP label: to a JWE library holding
    // the RSA key it is no content key.
    let (ok, _, _) = python(&["decrypt", "rsa", &key_path("rsa2048.pk8.der")], &jwe);
    assert!(
        !ok,
        "jwcrypto must not open the grant as a content-key recipient"
    );
}

#[test]
fn we_decrypt_jwcrypto_output() {
    let sk = SessionKey::from_bytes([0x33; 32]);
    let rsa_kid = Base64UrlUnpadded::encode_string(&rsa(2048).to_recipient_tag());
    let sk_kid = Base64UrlUnpadded::encode_string(&sk.id().0);
    let secret = b"from python";
    let (ok, text, err) = python(
        &[
            "encrypt",
            &hex(secret),
            &hex(BOUND),
            &key_path("rsa2048.spki.der"),
            &rsa_kid,
            &hex(sk.expose()),
            &sk_kid,
        ],
        "",
    );
    assert!(ok, "jwcrypto failed to encrypt: {err}");
    let jwe = Jwe::from_json(&text).unwrap();
    // jwcrypto draws its own key-wrap nonce: the stanza keeps it.
    assert!(matches!(
        jwe.envelope().stanzas()[1],
        Stanza::SessionKey { iv: Some(_), .. }
    ));
    assert_eq!(
        open_jwe(rsa(2048), &jwe, BOUND).unwrap().secret.expose(),
        secret
    );
    assert_eq!(open_jwe(&sk, &jwe, BOUND).unwrap().secret.expose(), secret);
    #[cfg(feature = "aws-lc")]
    assert_eq!(
        open_jwe(crate::aws_lc(2048), &jwe, BOUND)
            .unwrap()
            .secret
            .expose(),
        secret
    );
    assert_eq!(
        open_jwe(&sk, &jwe, b"other bound data").unwrap_err(),
        OpenError::Decrypt
    );
    // The binary form of an imported JWE round-trips too.
    let bin = jwe.envelope().to_bytes();
    assert_eq!(
        &pta_envelope::Envelope::decode(&bin).unwrap(),
        jwe.envelope()
    );
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("the openssl CLI is required: {e}"));
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const OAEP_OPTS: [&str; 6] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
    "-pkeyopt",
    "rsa_mgf1_md:sha256",
];

fn openssl_decrypt(bits: usize, ct: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let ct_path = dir.path().join("ct");
    std::fs::write(&ct_path, ct).unwrap();
    let key = key_path(&format!("rsa{bits}.pk8.der"));
    let mut args = vec!["pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", &key];
    args.extend(OAEP_OPTS);
    let ct_arg = ct_path.to_str().unwrap();
    args.extend(["-in", ct_arg]);
    openssl(&args)
}

fn openssl_encrypt(bits: usize, plain: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let pt_path = dir.path().join("pt");
    std::fs::write(&pt_path, plain).unwrap();
    let key = key_path(&format!("rsa{bits}.spki.der"));
    let mut args = vec![
        "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", &key,
    ];
    args.extend(OAEP_OPTS);
    let pt_arg = pt_path.to_str().unwrap();
    args.extend(["-in", pt_arg]);
    openssl(&args)
}

fn check_openssl_opens_ours(bits: usize, recipient: &dyn Recipient) {
    let ck = ContentKey::from_bytes([bits as u8 ^ 0x5c; 32]);
    let Stanza::RsaOaep { ciphertext, .. } = recipient.wrap(&ck, &[0; 12]).unwrap() else {
        panic!("not an RSA stanza")
    };
    assert_eq!(ciphertext.len(), bits / 8);
    assert_eq!(openssl_decrypt(bits, &ciphertext), ck.expose());
}

fn check_we_open_openssl(bits: usize, identity: &dyn Identity, tag: [u8; 8]) {
    let ck = [0xc3u8; 32];
    let ct = openssl_encrypt(bits, &ck);
    let stanza = Stanza::RsaOaep {
        key_tag: tag,
        ciphertext: ct.clone(),
    };
    let got = identity
        .unwrap(&stanza, &[0; 12])
        .expect("addressed")
        .expect("opens");
    assert_eq!(got.expose(), &ck);
    // A wrong tag is not ours; a damaged ciphertext is ours but broken.
    let wrong = Stanza::RsaOaep {
        key_tag: [0; 8],
        ciphertext: ct.clone(),
    };
    assert!(identity.unwrap(&wrong, &[0; 12]).is_none());
    let mut bad = ct;
    bad[10] ^= 1;
    let bad = Stanza::RsaOaep {
        key_tag: tag,
        ciphertext: bad,
    };
    assert_eq!(
        identity.unwrap(&bad, &[0; 12]).unwrap().unwrap_err(),
        OpenError::Decrypt
    );
}

#[test]
fn openssl_oaep_sha256_rustcrypto() {
    for bits in [2048, 3072] {
        let r = RsaRecipient::from_spki_der(&spki(bits)).unwrap();
        check_openssl_opens_ours(bits, &r);
        check_we_open_openssl(bits, rsa(bits), rsa(bits).to_recipient_tag());
    }
}

#[cfg(feature = "aws-lc")]
#[test]
fn openssl_oaep_sha256_aws_lc() {
    use pta_envelope::AwsLcRsaRecipient;
    for bits in [2048, 3072] {
        let r = AwsLcRsaRecipient::from_spki_der(&spki(bits)).unwrap();
        check_openssl_opens_ours(bits, &r);
        check_we_open_openssl(bits, crate::aws_lc(bits), rsa(bits).to_recipient_tag());
    }
}

#[cfg(feature = "aws-lc")]
#[test]
fn backends_interoperate() {
    use pta_envelope::{AgentRecipient, AwsLcRsaRecipient, open};
    let aws_r = AwsLcRsaRecipient::from_spki_der(&spki(2048)).unwrap();
    let rc_r = rsa(2048).to_recipient();
    assert_eq!(aws_r.key_id(), rc_r.key_id());
    let e = seal(&[&aws_r], b"x", BOUND).unwrap().envelope;
    assert_eq!(open(rsa(2048), &e, BOUND).unwrap().secret.expose(), b"x");
    let e = seal(&[&rc_r], b"y", BOUND).unwrap().envelope;
    assert_eq!(
        open(crate::aws_lc(2048), &e, BOUND)
            .unwrap()
            .secret
            .expose(),
        b"y"
    );
    // Grants too.
    let mut sealer = Sealer::new(SealerConfig::default());
    let s = sealer.seal(0, &aws_r, b"z", BOUND).unwrap();
    let mut o = pta_envelope::Opener::new(rsa(2048), pta_envelope::OpenerConfig::default());
    assert_eq!(o.open(0, &s.envelope, BOUND).unwrap().secret.expose(), b"z");
}

trait Tag {
    fn to_recipient_tag(&self) -> [u8; 8];
}

impl Tag for pta_envelope::RsaIdentity {
    fn to_recipient_tag(&self) -> [u8; 8] {
        use pta_envelope::AgentIdentity;
        self.key_id().tag()
    }
}
