//! The openssl CLI as an independent implementation checking our CSRs, certificates and CRLs,
//! and producing CSRs for our authority.

use std::time::SystemTime;

use pta_cert::{Csr, Error, KeyPolicyViolation, Revocation, RevocationReason};

use crate::common::*;

#[test]
fn openssl_verifies_our_csr() {
    let dir = tempfile::tempdir().unwrap();
    let csr = Csr::new(&key("agent-1"), "agent-1").unwrap();
    let path = write(dir.path(), "req.pem", csr.to_pem().unwrap());
    let out = openssl_ok(&["req", "-in", &path, "-noout", "-verify", "-text"]);
    assert!(
        out.contains("verify OK") || out.contains("Certificate request self-signature verify OK"),
        "{out}"
    );
    assert!(
        out.contains("CN=agent-1") || out.contains("CN = agent-1"),
        "{out}"
    );
    // A 3072-bit key too.
    let csr = Csr::new(&key("agent-3072"), "big").unwrap();
    let path = write(dir.path(), "req2.pem", csr.to_pem().unwrap());
    let out = openssl_ok(&["req", "-in", &path, "-noout", "-verify", "-text"]);
    assert!(out.contains("3072 bit"), "{out}");
}

fn openssl_csr(dir: &std::path::Path, key_name: &str) -> Csr {
    let key_path = write(dir, &format!("{key_name}.key"), key_pem(key_name));
    let out_path = dir.join(format!("{key_name}.csr"));
    openssl_ok(&[
        "req",
        "-new",
        "-key",
        &key_path,
        "-subj",
        "/CN=evil.example/O=Attacker",
        "-addext",
        "subjectAltName=URI:urn:pta:agent:admin,URI:urn:pta:tenant:other",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-out",
        out_path.to_str().unwrap(),
    ]);
    Csr::from_pem(&std::fs::read_to_string(out_path).unwrap()).unwrap()
}

#[test]
fn authority_accepts_openssl_csr_and_decides_names() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let ca = root_a(now);
    let csr = openssl_csr(dir.path(), "agent-2");
    let issued = ca.issue_agent(&csr, "agent-2", now).unwrap();
    let cert_path = write(dir.path(), "cert.pem", pem(&issued.der, "CERTIFICATE"));
    let text = openssl_ok(&["x509", "-in", &cert_path, "-noout", "-text"]);
    // The requested names and CA flag were ignored.
    assert!(text.contains("URI:urn:pta:agent:agent-2"), "{text}");
    assert!(text.contains("URI:urn:pta:tenant:a"), "{text}");
    assert!(
        !text.contains("admin") && !text.contains("other") && !text.contains("Attacker"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
}

#[test]
fn authority_rejects_weak_and_broken_csrs() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let ca = root_a(now);
    let weak = openssl_csr(dir.path(), "weak-1024");
    assert!(matches!(
        ca.issue_agent(&weak, "x", now),
        Err(Error::KeyPolicy(KeyPolicyViolation::TooSmall {
            bits: 1024
        }))
    ));
    let e3 = openssl_csr(dir.path(), "exp3-2048");
    assert!(matches!(
        ca.issue_agent(&e3, "x", now),
        Err(Error::KeyPolicy(KeyPolicyViolation::Exponent))
    ));
    let ec = openssl_csr(dir.path(), "ec-p256");
    assert!(matches!(
        ca.issue_agent(&ec, "x", now),
        Err(Error::KeyPolicy(KeyPolicyViolation::NotRsa))
    ));
    // Flip one bit in the middle of the signature of a good openssl CSR.
    let good = openssl_csr(dir.path(), "agent-3");
    let mut der = good.as_der().to_vec();
    let at = der.len() - 100;
    der[at] ^= 0x40;
    let broken = Csr::from_der(&der).unwrap();
    assert!(matches!(
        ca.issue_agent(&broken, "x", now),
        Err(Error::CsrSignatureInvalid)
    ));
    // Change one byte of the signed content (the subject) instead.
    let mut der = good.as_der().to_vec();
    let pos = der.windows(4).position(|w| w == b"evil").unwrap();
    der[pos] = b'E';
    assert!(matches!(
        ca.issue_agent(&Csr::from_der(&der).unwrap(), "x", now),
        Err(Error::CsrSignatureInvalid)
    ));
}

#[test]
fn openssl_verifies_agent_certificate_from_root() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let ca = root_a(now);
    let issued = issue(&ca, &key("agent-1"), "agent-1", now);
    let ca_path = write(
        dir.path(),
        "ca.pem",
        pem(ca.certificate_der(), "CERTIFICATE"),
    );
    let cert_path = write(dir.path(), "cert.pem", pem(&issued.der, "CERTIFICATE"));
    let out = openssl_ok(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        &ca_path,
        &cert_path,
    ]);
    assert!(out.contains(": OK"), "{out}");
    // Not a server certificate.
    let out = openssl(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-CAfile",
        &ca_path,
        &cert_path,
    ]);
    assert!(!out.status.success());
    // Profile as the issue asks.
    let text = openssl_ok(&["x509", "-in", &cert_path, "-noout", "-text"]);
    for needle in [
        "Version: 3 (0x2)",
        "TLS Web Client Authentication",
        "Digital Signature, Key Encipherment",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "sha256WithRSAEncryption",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    let serial = issued.serial.as_bytes();
    assert_eq!(serial.len(), 16, "128-bit serial");
    assert_ne!(serial[0], 0);
    // notBefore backdated 5 minutes, lifetime 180 days (whole seconds).
    let nb = now.duration_since(issued.not_before).unwrap().as_secs();
    assert!((300..=301).contains(&nb), "{nb}");
    let life = issued
        .not_after
        .duration_since(issued.not_before)
        .unwrap()
        .as_secs();
    assert!(
        (180 * 86_400 + 300 - 1..=180 * 86_400 + 300).contains(&life),
        "{life}"
    );
}

#[test]
fn openssl_verifies_agent_certificate_from_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let (root, intermediate) = intermediate_a(now);
    let issued = issue(&intermediate, &key("agent-1"), "agent-1", now);
    assert_eq!(issued.chain.len(), 2, "leaf + intermediate, root excluded");
    assert_eq!(intermediate.chain().len(), 2);
    let root_path = write(
        dir.path(),
        "root.pem",
        pem(root.certificate_der(), "CERTIFICATE"),
    );
    let int_path = write(
        dir.path(),
        "int.pem",
        pem(intermediate.certificate_der(), "CERTIFICATE"),
    );
    let cert_path = write(dir.path(), "cert.pem", pem(&issued.der, "CERTIFICATE"));
    let out = openssl_ok(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        &root_path,
        "-untrusted",
        &int_path,
        &cert_path,
    ]);
    assert!(out.contains(": OK"), "{out}");
    // Without the intermediate the chain does not build.
    let out = openssl(&["verify", "-x509_strict", "-CAfile", &root_path, &cert_path]);
    assert!(!out.status.success());
}

/// The key identifier printed by `openssl x509|crl -text` after `label`.
fn key_id_after(text: &str, label: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.contains(label));
    lines.next().unwrap();
    lines
        .next()
        .unwrap()
        .trim()
        .trim_start_matches("keyid:")
        .to_owned()
}

#[test]
fn openssl_verifies_crls_from_root_and_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let (root, intermediate) = intermediate_a(now);
    let self_signed = root_a(now);
    for (name, authority, trusted) in [
        (
            "self-signed",
            &self_signed,
            vec![self_signed.certificate_der().clone()],
        ),
        (
            "intermediate",
            &intermediate,
            vec![
                intermediate.certificate_der().clone(),
                root.certificate_der().clone(),
            ],
        ),
        ("root", &root, vec![root.certificate_der().clone()]),
    ] {
        let issued = issue(authority, &key("agent-1"), "agent-1", now);
        let revoked = Revocation::new(
            issued.serial.clone(),
            now,
            Some(RevocationReason::KeyCompromise),
        );
        let crl = authority.crl(&[revoked], 42, now).unwrap();
        let crl_path = write(
            dir.path(),
            &format!("{name}.crl.pem"),
            pem(&crl, "X509 CRL"),
        );
        let ca_pem: String = trusted.iter().map(|c| pem(c, "CERTIFICATE")).collect();
        let ca_path = write(dir.path(), &format!("{name}.ca.pem"), ca_pem);
        let out = openssl_ok(&[
            "crl", "-in", &crl_path, "-noout", "-verify", "-CAfile", &ca_path, "-text",
        ]);
        assert!(out.contains("verify OK"), "{name}: {out}");
        assert!(out.contains("Version 2"), "{name}: {out}");
        assert!(
            out.contains("X509v3 CRL Number") && out.contains("42"),
            "{name}: {out}"
        );
        assert!(out.contains("Next Update"), "{name}: {out}");
        assert!(out.contains("Key Compromise"), "{name}: {out}");
        assert!(
            out.contains(&issued.serial.to_string().to_uppercase()),
            "{name}: {out}"
        );
        // The AKI is the issuing CA's own SKI (x509-cert's CrlBuilder gets this wrong for
        // intermediates).
        let ca_cert_path = write(
            dir.path(),
            &format!("{name}.issuer.pem"),
            pem(authority.certificate_der(), "CERTIFICATE"),
        );
        let ca_text = openssl_ok(&["x509", "-in", &ca_cert_path, "-noout", "-text"]);
        assert_eq!(
            key_id_after(&out, "X509v3 Authority Key Identifier"),
            key_id_after(&ca_text, "X509v3 Subject Key Identifier"),
            "{name}"
        );
    }
}

#[test]
fn revoked_certificate_fails_crl_check() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let (root, intermediate) = intermediate_a(now);
    let good = issue(&intermediate, &key("agent-1"), "agent-1", now);
    let bad = issue(&intermediate, &key("agent-2"), "agent-2", now);
    let int_crl = intermediate
        .crl(&[Revocation::new(bad.serial.clone(), now, None)], 1, now)
        .unwrap();
    let root_crl = root.crl(&[], 1, now).unwrap();
    let crls = write(
        dir.path(),
        "crls.pem",
        pem(&int_crl, "X509 CRL") + &pem(&root_crl, "X509 CRL"),
    );
    let root_path = write(
        dir.path(),
        "root.pem",
        pem(root.certificate_der(), "CERTIFICATE"),
    );
    let int_path = write(
        dir.path(),
        "int.pem",
        pem(intermediate.certificate_der(), "CERTIFICATE"),
    );
    let good_path = write(dir.path(), "good.pem", pem(&good.der, "CERTIFICATE"));
    let bad_path = write(dir.path(), "bad.pem", pem(&bad.der, "CERTIFICATE"));
    let args = |leaf: &str| {
        vec![
            "verify".to_owned(),
            "-x509_strict".into(),
            "-crl_check_all".into(),
            "-purpose".into(),
            "sslclient".into(),
            "-CAfile".into(),
            root_path.clone(),
            "-untrusted".into(),
            int_path.clone(),
            "-CRLfile".into(),
            crls.clone(),
            leaf.to_owned(),
        ]
    };
    let good_args = args(&good_path);
    let out = openssl(&good_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad_args = args(&bad_path);
    let out = openssl(&bad_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("certificate revoked"), "{text}");

    // Same with a self-signed issuing CA and plain -crl_check.
    let ca = root_a(now);
    let bad = issue(&ca, &key("agent-2"), "agent-2", now);
    let crl = ca
        .crl(
            &[Revocation::new(
                bad.serial.clone(),
                now,
                Some(RevocationReason::Superseded),
            )],
            7,
            now,
        )
        .unwrap();
    let crl_path = write(dir.path(), "a.crl.pem", pem(&crl, "X509 CRL"));
    let ca_path = write(
        dir.path(),
        "a.pem",
        pem(ca.certificate_der(), "CERTIFICATE"),
    );
    let bad_path = write(dir.path(), "a-bad.pem", pem(&bad.der, "CERTIFICATE"));
    let out = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        &ca_path,
        "-CRLfile",
        &crl_path,
        &bad_path,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("certificate revoked")
            || String::from_utf8_lossy(&out.stdout).contains("certificate revoked")
    );
}

#[test]
fn server_certificate_passes_openssl_sslserver() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let (ca, cert, _) = service(now);
    let ca_path = write(
        dir.path(),
        "ca.pem",
        pem(ca.certificate_der(), "CERTIFICATE"),
    );
    let cert_path = write(dir.path(), "cert.pem", pem(&cert.der, "CERTIFICATE"));
    openssl_ok(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_ip",
        "127.0.0.1",
        "-CAfile",
        &ca_path,
        &cert_path,
    ]);
    openssl_ok(&[
        "verify",
        "-x509_strict",
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "localhost",
        "-CAfile",
        &ca_path,
        &cert_path,
    ]);
}
