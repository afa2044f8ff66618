//! The crate's one error type.

use std::path::PathBuf;

/// A join token that does not have the form `pta1.<43 chars base64url>.<64 hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token is not three parts separated by `.`.
    #[error("the join token must have three parts separated by '.' (pta1.<secret>.<ca-sha256>)")]
    Shape,
    /// The first part is not `pta1`.
    #[error("the join token does not start with 'pta1.' (unknown token format version)")]
    Version,
    /// The secret part is not 43 characters of unpadded base64url encoding 32 bytes.
    #[error("the join token's secret is not 43 characters of base64url (32 bytes)")]
    Secret,
    /// The pin part is not 64 lowercase hexadecimal digits.
    #[error("the join token's CA pin is not 64 lowercase hexadecimal digits")]
    Pin,
}

/// Why the registration endpoint refused the request (PROTOCOL.md section 13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `malformed_request`: the service could not read the request. Report a bug in the agent.
    #[error("the service could not read the registration request (malformed_request)")]
    MalformedRequest,
    /// `malformed_token`: the token's form was refused. Copy the token again, completely.
    #[error("the service refused the token's format (malformed_token): copy the whole token again")]
    MalformedToken,
    /// `invalid_software_version`: the agent's version text was refused. Report a bug.
    #[error("the service refused the agent's software version (invalid_software_version)")]
    InvalidSoftwareVersion,
    /// `malformed_csr`: the CSR did not parse. Report a bug.
    #[error("the service could not parse the certificate request (malformed_csr)")]
    MalformedCsr,
    /// `csr_signature_invalid`: no proof of possession. Report a bug; retry registers anew.
    #[error(
        "the service could not verify the certificate request's signature (csr_signature_invalid)"
    )]
    CsrSignatureInvalid,
    /// `weak_key`: the key is outside the service's policy. Configure a larger key size.
    #[error("the service refused the key size or algorithm (weak_key): use RSA 3072 or larger")]
    WeakKey,
    /// `unknown_token`: no such token. Ask the administrator for a new token.
    #[error("the service does not know this token (unknown_token): ask for a new one")]
    UnknownToken,
    /// `token_expired`: the token's lifetime passed. Ask the administrator for a new token.
    #[error("the token has expired (token_expired): ask for a new one")]
    TokenExpired,
    /// `token_used`: the token was already used. Ask the administrator for a new token.
    #[error("the token was already used (token_used): ask for a new one")]
    TokenUsed,
    /// `agent_limit_reached`: the tenant has as many agents as allowed. Remove an agent first.
    #[error("the tenant has reached its agent limit (agent_limit_reached): remove an agent first")]
    AgentLimitReached,
    /// `rate_limited`: too many registrations from this source. Retry after the given seconds.
    #[error(
        "too many registrations from this address (rate_limited): retry after {retry_after_secs:?} s"
    )]
    RateLimited {
        /// The `Retry-After` header, in seconds, when present.
        retry_after_secs: Option<u64>,
    },
    /// `unavailable`: the service cannot register now. Retry later with the same token.
    #[error("the service cannot register agents now (unavailable): retry later")]
    Unavailable,
    /// A status or error code this agent does not know. Check the service URL and versions.
    #[error("the service answered HTTP {status} with an unknown error code")]
    Unknown {
        /// The HTTP status.
        status: u16,
    },
}

impl Refusal {
    /// The refusal for an HTTP status and `error` code.
    pub fn from_code(status: u16, code: &str, retry_after_secs: Option<u64>) -> Self {
        match code {
            "malformed_request" => Self::MalformedRequest,
            "malformed_token" => Self::MalformedToken,
            "invalid_software_version" => Self::InvalidSoftwareVersion,
            "malformed_csr" => Self::MalformedCsr,
            "csr_signature_invalid" => Self::CsrSignatureInvalid,
            "weak_key" => Self::WeakKey,
            "unknown_token" => Self::UnknownToken,
            "token_expired" => Self::TokenExpired,
            "token_used" => Self::TokenUsed,
            "agent_limit_reached" => Self::AgentLimitReached,
            "rate_limited" => Self::RateLimited { retry_after_secs },
            "unavailable" => Self::Unavailable,
            _ => Self::Unknown { status },
        }
    }
}

/// A configuration value the agent cannot use: the setting, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting as written in the configuration file (`limits.key_bits`,
    /// `directory.ldap.urls`, ...), or the environment variable (`HTTPS_PROXY`).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: ConfigReason,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: ConfigReason) -> Self {
        Self { field, reason }
    }
}

/// What is wrong with a setting ([`ConfigError::reason`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigReason {
    /// The section has neither an `ldap` nor a `memory` backend. Add one.
    #[error("needs an ldap or memory section")]
    NoBackend,
    /// The section has both an `ldap` and a `memory` backend. Keep one.
    #[error("has both ldap and memory: choose one")]
    BothBackends,
    /// The `[[directory.route]]` for this suffix has no backend or both. Give it exactly one
    /// of `ldap` or `memory`.
    #[error("for {suffix:?} needs exactly one of ldap or memory")]
    RouteBackend {
        /// The route's UPN suffix.
        suffix: String,
    },
    /// The list is empty. List at least one value.
    #[error("is empty")]
    Empty,
    /// The RSA key size is not supported. Use 2048, 3072 or 4096.
    #[error("= {0}: use 2048, 3072 or 4096")]
    KeyBits(u32),
    /// The proxy URL is not `http://[user:password@]host[:port]` (another scheme, a bad
    /// port). Fix the URL. The password is never kept here.
    #[error("must be http://host:port")]
    ProxyUrl,
    /// The endpoint is not `host:port` (`[v6]:port` for IPv6). Fix the endpoint list.
    #[error("entry {0:?} is not host:port")]
    Endpoint(String),
    /// The endpoint's host is neither a DNS name nor an IP address, so TLS cannot check the
    /// service's certificate for it. Fix the endpoint list.
    #[error("entry host {0:?} is not a DNS name or IP address")]
    ServerName(String),
}

/// Everything that can go wrong in the agent. Messages never contain a password, token or key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file could not be read or parsed. Fix the file named here.
    #[error("configuration {}: {detail}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (a TOML error with line and column, or the missing item).
        detail: String,
    },
    /// Configuration text is not valid TOML for [`Config`](crate::Config): bad syntax, an
    /// unknown key, a value of the wrong type. Fix the text at the line and column named.
    #[error("invalid configuration: {0}")]
    ConfigSyntax(#[source] Box<toml::de::Error>),
    /// A configuration value is invalid. Fix the named setting.
    #[error("invalid configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
    /// A secret file or environment variable named in the configuration could not be read.
    /// Create it (mode 0600) or set the variable.
    #[error("cannot read the secret from {0}")]
    SecretSource(String),
    /// The join token is malformed. Copy the whole token again.
    #[error("invalid join token: {0}")]
    Token(#[from] TokenError),
    /// The service URL is not `https://host[:port][/prefix]`. Fix the URL.
    #[error("invalid service URL {0:?}: expected https://host[:port]")]
    ServiceUrl(String),
    /// The state directory already holds a registration. Pass `force` to replace it.
    #[error("the state directory {} is already registered (use --force to register again)", .0.display())]
    AlreadyRegistered(PathBuf),
    /// The state directory holds no registration. Register the agent first.
    #[error("the state directory {} is not registered: run `pta-agent register` first", .0.display())]
    NotRegistered(PathBuf),
    /// Another agent process holds the state directory's lock. Stop it, or use another
    /// state directory.
    #[error("the state directory {} is locked by another running agent", .0.display())]
    Locked(PathBuf),
    /// The service's TLS certificate chain contains no certificate with the join token's pin,
    /// or the leaf does not verify against it for the URL's host. Check the URL and the token;
    /// something may be intercepting the connection.
    #[error("the service's certificate does not match the join token's pin: {0}")]
    PinMismatch(String),
    /// The registration endpoint refused the request. See the refusal for what to do.
    #[error("registration refused: {0}")]
    Refused(Refusal),
    /// The registration answer is not what PROTOCOL.md section 13.3 describes. Check the
    /// service version.
    #[error("invalid registration response: {0}")]
    BadResponse(&'static str),
    /// The proxy asked for credentials (HTTP 407) or refused the given ones (407 or 401).
    /// Configure or fix the proxy's user name and password.
    #[error("the proxy requires authentication or refused the credentials (HTTP 407/401)")]
    ProxyAuthRequired,
    /// The proxy refused the CONNECT request with this status. Check the proxy's rules for the
    /// service host and port.
    #[error("the proxy refused CONNECT with HTTP {0}")]
    ProxyRefused(u16),
    /// The proxy answered something that is not HTTP. Check the proxy URL.
    #[error("the proxy's answer is not valid HTTP")]
    ProxyProtocol,
    /// A network operation failed. Retried automatically by `run`; for registration, check
    /// connectivity and retry.
    #[error("network error talking to {target}: {source}")]
    Network {
        /// Host and port (or proxy) involved.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A network operation did not complete in time. Retried by `run`; otherwise retry later.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// TLS failed (handshake, certificate, ALPN). Check the service CA and the endpoint.
    #[error("TLS error with {target}: {source}")]
    Tls {
        /// Host and port involved.
        target: String,
        /// The rustls error.
        source: rustls::Error,
    },
    /// The HTTP exchange with the registration endpoint failed. Retry; check the URL.
    #[error("HTTP error: {0}")]
    Http(#[source] hyper::Error),
    /// The agent certificate has expired; it cannot renew. Register the agent again.
    #[error("the agent certificate expired: register the agent again (pta-agent register --force)")]
    CertificateExpired,
    /// The service revoked this agent. Register again only if the administrator agrees.
    #[error("the service revoked this agent's certificate")]
    Revoked,
    /// No service endpoint is known. Configure `service.endpoints` or register again.
    #[error("no service endpoint configured")]
    NoEndpoints,
    /// A certificate, key or state file operation failed (see the inner error).
    #[error(transparent)]
    Cert(#[from] pta_cert::Error),
    /// Building the directory backend failed. Fix the directory configuration.
    #[error("directory: {0}")]
    Directory(#[from] pta_directory::DirectoryError),
    /// The agent key could not be loaded for envelope decryption. Register again.
    #[error("agent key unusable for envelopes: {0}")]
    EnvelopeKey(#[from] pta_envelope::KeyError),
    /// A state file (`agent.json`, `status.json`, lock) could not be read or written. Check
    /// the disk and permissions.
    #[error("state file {}: {source}", .path.display())]
    StateIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SIGINT and SIGTERM could not be watched (the `pta-agent` binary, before it serves):
    /// the agent could not drain on a signal, so it does not start. Check the process's
    /// signal set-up and the tokio runtime.
    #[error("cannot watch SIGINT and SIGTERM: {0}")]
    Signals(#[source] std::io::Error),
    /// A state file exists but does not parse. Register again.
    #[error("state file {} is corrupt", .0.display())]
    StateCorrupt(PathBuf),
}

impl Error {
    /// The process exit code the `pta-agent` binary uses for this error: 3 for an expired
    /// certificate (register again), 4 for a state directory locked by another agent, 1 for
    /// everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CertificateExpired => 3,
            Error::Locked(_) => 4,
            _ => 1,
        }
    }

    pub(crate) fn state_io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::StateIo {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn network(target: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Network {
            target: target.to_owned(),
            source,
        }
    }
}
