//! The agent's state directory (Unix only).
//!
//! ```text
//! <dir>/                 0700
//!   key.pem              0600  current private key, PKCS#8 PEM
//!   chain.pem            0600  current certificate chain, leaf first
//!   service-ca.pem       0600  the pinned service CA
//!   previous-key.pem     0600  previous key, kept until the current one was used once
//!   previous-chain.pem   0600  previous chain
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls::pki_types::CertificateDer;

use crate::pem::{certs_from_pem, certs_to_pem};
use crate::{CertValidity, Error, KeyPair, SecretPem};

const KEY: &str = "key.pem";
const CHAIN: &str = "chain.pem";
const SERVICE_CA: &str = "service-ca.pem";
const PREVIOUS_KEY: &str = "previous-key.pem";
const PREVIOUS_CHAIN: &str = "previous-chain.pem";
/// No state file is larger than this.
const MAX_FILE: u64 = 1024 * 1024;

/// A key and the certificate chain issued for it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Credential {
    /// The private key.
    pub key: KeyPair,
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// Everything an agent needs to connect.
#[derive(Debug)]
#[non_exhaustive]
pub struct AgentState {
    /// The current key and chain.
    pub current: Credential,
    /// The pinned service CA.
    pub service_ca: CertificateDer<'static>,
    /// The previous key and chain, present after a renewal until the new one was used once
    /// ([`StateStore::confirm_current`]) or the old one expired ([`StateStore::prune`]).
    pub previous: Option<Credential>,
}

/// The agent's state directory. The only part of this crate that touches files.
///
/// Every write goes to a temporary file in the directory (mode 0600), is fsynced, renamed over
/// the target, and the directory is fsynced. Reads refuse files or a directory that group or
/// others may access.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn check_mode(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

impl StateStore {
    /// Opens `dir`, creating it with mode 0700 if missing. An existing directory must not be
    /// accessible by group or others.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        match fs::symlink_metadata(&dir) {
            Ok(meta) => {
                if !meta.is_dir() {
                    return Err(Error::StateCorrupt(dir));
                }
                check_mode(&dir, &meta)?;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&dir)
                    .map_err(io(&dir))?;
                // The umask may have narrowed it further; never wider than 0700.
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io(&dir))?;
            }
            Err(e) => {
                return Err(Error::Io {
                    path: dir,
                    source: e,
                });
            }
        }
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores the pinned service CA.
    pub fn save_service_ca(&self, ca: &CertificateDer<'_>) -> Result<(), Error> {
        self.write(
            SERVICE_CA,
            certs_to_pem(std::slice::from_ref(ca))?.as_bytes(),
        )
    }

    /// Installs a new key and chain as current. The old current pair becomes the previous one,
    /// unless a previous pair is already kept (the current one was never confirmed): then the
    /// kept pair stays and the unconfirmed one is replaced.
    pub fn install(&self, key: &KeyPair, chain: &[CertificateDer<'_>]) -> Result<(), Error> {
        if chain.is_empty() {
            return Err(Error::MalformedCertificate);
        }
        let key_pem = key.to_pkcs8_pem()?;
        let chain_pem = certs_to_pem(chain)?;
        let has_current = self.path(KEY).exists();
        let has_previous = self.path(PREVIOUS_KEY).exists();
        if has_current && !has_previous {
            self.rename(CHAIN, PREVIOUS_CHAIN)?;
            self.rename(KEY, PREVIOUS_KEY)?;
        }
        self.write(KEY, key_pem.expose().as_bytes())?;
        self.write(CHAIN, chain_pem.as_bytes())
    }

    /// Loads the state. Current key, chain and service CA must exist; the previous pair is
    /// optional.
    pub fn load(&self) -> Result<AgentState, Error> {
        let current = self.load_credential(KEY, CHAIN)?;
        let ca_path = self.path(SERVICE_CA);
        let mut cas = certs_from_pem(&self.read(SERVICE_CA)?)
            .map_err(|_| Error::StateCorrupt(ca_path.clone()))?;
        if cas.len() != 1 {
            return Err(Error::StateCorrupt(ca_path));
        }
        let service_ca = cas.remove(0);
        let previous = if self.path(PREVIOUS_KEY).exists() || self.path(PREVIOUS_CHAIN).exists() {
            Some(self.load_credential(PREVIOUS_KEY, PREVIOUS_CHAIN)?)
        } else {
            None
        };
        Ok(AgentState {
            current,
            service_ca,
            previous,
        })
    }

    /// The current certificate worked once: forget the previous pair. Returns whether there
    /// was one.
    pub fn confirm_current(&self) -> Result<bool, Error> {
        let had = self.path(PREVIOUS_KEY).exists();
        self.remove(PREVIOUS_KEY)?;
        self.remove(PREVIOUS_CHAIN)?;
        Ok(had)
    }

    /// Removes the previous pair if its certificate expired at `now` (or cannot be read).
    /// Returns whether it was removed.
    pub fn prune(&self, now: SystemTime) -> Result<bool, Error> {
        if !self.path(PREVIOUS_CHAIN).exists() && !self.path(PREVIOUS_KEY).exists() {
            return Ok(false);
        }
        let expired = match self
            .read(PREVIOUS_CHAIN)
            .ok()
            .and_then(|t| certs_from_pem(&t).ok())
        {
            Some(chain) => match chain.first().map(|c| CertValidity::from_certificate_der(c)) {
                Some(Ok(v)) => v.not_after <= now,
                _ => true,
            },
            None => true,
        };
        if expired {
            self.confirm_current()?;
        }
        Ok(expired)
    }

    fn load_credential(&self, key_name: &str, chain_name: &str) -> Result<Credential, Error> {
        let key_text = SecretPem::new(self.read(key_name)?);
        let key = KeyPair::from_pkcs8_pem(key_text.expose())
            .map_err(|_| Error::StateCorrupt(self.path(key_name)))?;
        let chain_path = self.path(chain_name);
        let chain = certs_from_pem(&self.read(chain_name)?)
            .map_err(|_| Error::StateCorrupt(chain_path.clone()))?;
        let leaf = chain
            .first()
            .ok_or_else(|| Error::StateCorrupt(chain_path.clone()))?;
        let cert = crate::authority::parse_cert(leaf)
            .map_err(|_| Error::StateCorrupt(chain_path.clone()))?;
        let spki = der::Encode::to_der(cert.tbs_certificate().subject_public_key_info())
            .map_err(|_| Error::StateCorrupt(chain_path.clone()))?;
        if spki != key.public_key_der()? {
            return Err(Error::StateCorrupt(chain_path));
        }
        Ok(Credential { key, chain })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn read(&self, name: &str) -> Result<String, Error> {
        let path = self.path(name);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::StateMissing(path)),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        if !meta.is_file() || meta.len() > MAX_FILE {
            return Err(Error::StateCorrupt(path));
        }
        check_mode(&path, &meta)?;
        let dir_meta = fs::metadata(&self.dir).map_err(io(&self.dir))?;
        check_mode(&self.dir, &dir_meta)?;
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        File::open(&path)
            .map_err(io(&path))?
            .take(MAX_FILE)
            .read_to_end(&mut bytes)
            .map_err(io(&path))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::StateCorrupt(path))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|_| Error::RandomUnavailable)?;
        let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = self.path(&format!(".{name}.{hex}.tmp"));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io(&tmp))?;
            file.write_all(bytes).map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
            let target = self.path(name);
            fs::rename(&tmp, &target).map_err(io(&target))?;
            self.sync_dir()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), Error> {
        let target = self.path(to);
        match fs::rename(self.path(from), &target) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io {
                path: target,
                source: e,
            }),
        }
    }

    fn remove(&self, name: &str) -> Result<(), Error> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Io { path, source: e }),
        }
    }

    fn sync_dir(&self) -> Result<(), Error> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))
    }
}
