//! The test certificate authority and server certificates, made with the openssl CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Result, io};
use crate::process::{find_program, run};

/// A throw-away certificate authority and one server certificate it issued for
/// `127.0.0.1` and `localhost` (ECDSA P-256, ten years), written as PEM files in a directory.
///
/// Clients trust the server by pinning [`TestCa::ca_pem`]; nothing is added to the system's
/// trust store.
#[derive(Debug, Clone)]
pub struct TestCa {
    ca_pem: String,
    ca_path: PathBuf,
    cert_path: PathBuf,
    key_path: PathBuf,
}

impl TestCa {
    /// Creates the CA and the server certificate in `dir` (`ca.pem`, `server.pem`,
    /// `server.key`; the key file is mode 0600).
    pub fn create(dir: &Path) -> Result<Self> {
        let openssl = find_program("openssl", "openssl")?;
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        let ca_key = dir.join("ca.key");
        let ca_path = dir.join("ca.pem");
        let key_path = dir.join("server.key");
        let csr_path = dir.join("server.csr");
        let cert_path = dir.join("server.pem");
        let ext_path = dir.join("server.ext");

        run(
            Command::new(&openssl)
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .args([
                    "-nodes",
                    "-days",
                    "3650",
                    "-subj",
                    "/O=pta-testkit/CN=pta-testkit test CA",
                ])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca_path),
            "openssl req -x509 (test CA)",
        )?;
        run(
            Command::new(&openssl)
                .args([
                    "req",
                    "-new",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                ])
                .args(["-nodes", "-subj", "/O=pta-testkit/CN=localhost"])
                .arg("-keyout")
                .arg(&key_path)
                .arg("-out")
                .arg(&csr_path),
            "openssl req -new (server key)",
        )?;
        std::fs::write(
            &ext_path,
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .map_err(io("write", &ext_path))?;
        run(
            Command::new(&openssl)
                .args(["x509", "-req", "-days", "3650", "-set_serial", "2"])
                .arg("-in")
                .arg(&csr_path)
                .arg("-CA")
                .arg(&ca_path)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-extfile")
                .arg(&ext_path)
                .arg("-out")
                .arg(&cert_path),
            "openssl x509 -req (server certificate)",
        )?;
        set_mode(&key_path, 0o600)?;
        // The CA key is not needed again: nothing else is ever signed with it.
        std::fs::remove_file(&ca_key).map_err(io("remove", &ca_key))?;
        let ca_pem = std::fs::read_to_string(&ca_path).map_err(io("read", &ca_path))?;
        Ok(Self {
            ca_pem,
            ca_path,
            cert_path,
            key_path,
        })
    }

    /// The CA certificate as PEM: the one trust anchor a client needs.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Path of the CA certificate PEM file.
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    /// Path of the server certificate PEM file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Path of the server's private key PEM file (mode 0600).
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io("chmod", path))
}
