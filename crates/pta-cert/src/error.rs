use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Messages never contain key material. Tenant and agent ids are not secret and may appear.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system's random number generator failed. Nothing was issued or written;
    /// retry, and check the system if it persists.
    #[error("the system random number generator failed")]
    RandomUnavailable,
    /// A private key could not be generated, parsed or used (not PKCS#8, not RSA, or
    /// inconsistent). Generate or supply a new key.
    #[error("invalid or unusable private key")]
    InvalidPrivateKey,
    /// The certificate signing request is not valid DER/PEM PKCS#10. Reject the request; the
    /// agent must send a well-formed CSR.
    #[error("malformed certificate signing request")]
    MalformedCsr,
    /// The CSR's signature does not verify with its own public key: no proof of possession.
    /// Reject the request; do not retry with the same CSR.
    #[error("the CSR signature does not verify (no proof of possession)")]
    CsrSignatureInvalid,
    /// The CSR is signed with an algorithm this crate does not accept (only
    /// sha256/384/512WithRSAEncryption are). Reject the request.
    #[error("unsupported signature algorithm")]
    UnsupportedSignatureAlgorithm,
    /// The public key breaks the key policy. Reject the request; the agent must generate a
    /// key that complies (RSA, 2048 to 4096 bits, e = 65537).
    #[error("key policy violated: {0}")]
    KeyPolicy(KeyPolicyViolation),
    /// An agent id, tenant id or name does not have the required syntax (1 to 64 characters of
    /// `A-Z a-z 0-9 . _ -`; free-text names: printable ASCII without `,+="\<>;#`). Fix the input.
    #[error("invalid name: {0:?}")]
    InvalidName(String),
    /// A validity period cannot be represented (lifetime overflows, or ends before it starts).
    /// Fix the configuration or the `now` passed in.
    #[error("invalid validity period")]
    InvalidValidity,
    /// A certificate, CRL or CA chain could not be parsed, or lacks what its role requires
    /// (a CA without basicConstraints CA=true or a subject key identifier, an empty chain).
    /// Replace it.
    #[error("malformed or unsuitable certificate")]
    MalformedCertificate,
    /// The private key does not belong to the certificate it was loaded with. Load the matching
    /// pair.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    /// Encoding or signing an X.509 structure failed. This points at a bug or an unusable key;
    /// report it.
    #[error("building the certificate or CRL failed")]
    Build,
    /// The peer certificate does not name exactly one agent and one tenant with the
    /// `urn:pta:agent:` and `urn:pta:tenant:` URIs. Close the connection: it is not an agent
    /// certificate from this system.
    #[error("the certificate does not carry an agent identity")]
    NoAgentIdentity,
    /// The tenant named in the peer certificate is not registered with the trust set. Close the
    /// connection; reload the trust set if the tenant was just created.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// The certificate names a tenant but was not issued by that tenant's CA (another tenant's
    /// authority issued it). Close the connection and alert: this is a cross-tenant attempt.
    #[error("certificate for tenant {0:?} was not issued by that tenant's CA")]
    TenantMismatch(String),
    /// Another tenant already registered a CA with the same subject name; names must be unique
    /// so that the issuer name binds the tenant. Give the CA a distinct common name.
    #[error("a CA with this subject name is already registered for tenant {0:?}")]
    DuplicateCaName(String),
    /// rustls refused the configuration (a certificate, key or CRL it cannot use). Fix the
    /// input named by the inner error.
    #[error("TLS configuration rejected: {0}")]
    Tls(#[source] rustls::Error),
    /// A TLS server config was requested with no tenant registered: it could accept no client.
    /// Register at least one tenant's CA first.
    #[error("no trust anchors for client certificates")]
    NoTrustAnchors,
    /// A state file is missing. The agent has no (complete) state: register it again.
    #[error("state file missing: {}", .0.display())]
    StateMissing(PathBuf),
    /// A state file exists but cannot be parsed. Do not use it; register the agent again (the
    /// file is left in place for inspection).
    #[error("state file corrupt: {}", .0.display())]
    StateCorrupt(PathBuf),
    /// A state file or the state directory is readable or writable by group or others. Fix the
    /// permissions (files 0600, directory 0700); nothing was read from it.
    #[error("state path has insecure permissions {mode:o}: {}", .path.display())]
    InsecurePermissions {
        /// The offending file or directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// An I/O operation on the state directory failed. Check the disk and the path; the
    /// previous state is unchanged (writes are atomic).
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// How a public key breaks the key policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum KeyPolicyViolation {
    /// Not an RSA key (an EC or Ed25519 key, for instance).
    #[error("not an RSA key")]
    NotRsa,
    /// The modulus is shorter than 2048 bits.
    #[error("RSA modulus of {bits} bits is too small (minimum 2048)")]
    TooSmall {
        /// Modulus length in bits.
        bits: usize,
    },
    /// The modulus is longer than 4096 bits (envelopes cannot be sealed for a larger key).
    #[error("RSA modulus of {bits} bits is too large (maximum 4096)")]
    TooLarge {
        /// Modulus length in bits.
        bits: usize,
    },
    /// The public exponent is not 65537.
    #[error("RSA public exponent is not 65537")]
    Exponent,
    /// The RSA public key encoding is malformed.
    #[error("malformed RSA public key")]
    Malformed,
}

impl From<KeyPolicyViolation> for Error {
    fn from(v: KeyPolicyViolation) -> Self {
        Error::KeyPolicy(v)
    }
}
