//! The crate's errors: [`ConfigError`] before any network I/O (fix the input), [`ClientError`]
//! while talking to the service (no verdict was reached).

use std::path::PathBuf;
use std::time::Duration;

use crate::response::ApiErrorBody;

/// A setting the client cannot work with, found before anything is sent: the caller should fix
/// its input (a usage error for a command line).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The service URL does not parse. Give a URL such as `https://pta.example.com:8445`.
    #[error("the service URL {url:?} is not a URL")]
    NotAUrl {
        /// The URL as given.
        url: String,
    },
    /// The service URL has no host. Give one, like `https://pta.example.com`.
    #[error("the service URL needs a host, like https://pta.example.com")]
    NoHost,
    /// The service URL has a query (`?...`), which the API has no use for. Remove it.
    #[error("the service URL must not have a query")]
    Query,
    /// The service URL's scheme is neither `https` nor `http`. Use `https://`.
    #[error("the service URL {url:?}: the scheme must be https:// (or http://)")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// An `https://` URL without a [`Trust`](crate::Trust): give the service CA (file or
    /// SHA-256 pin).
    #[error("an https:// service needs the service CA (a CA file or its SHA-256)")]
    NoTrust,
    /// An `http://` URL while [`PlainHttp::Refuse`](crate::PlainHttp::Refuse): use
    /// `https://`, or allow plain HTTP if the service really listens without TLS.
    #[error("an http:// service is refused: use https://")]
    PlainHttpRefused,
    /// An `http://` URL to a host other than `127.0.0.1` while
    /// [`PlainHttp::Loopback`](crate::PlainHttp::Loopback): use `https://`.
    #[error("plain http:// is allowed only to 127.0.0.1")]
    PlainHttpNotLoopback,
    /// The host cannot be a TLS server name. Give a DNS name or an IP address.
    #[error("{host:?} is not a host name")]
    ServerName {
        /// The host as parsed from the URL.
        host: String,
    },
    /// The tenant makes a request path that does not parse (it cannot happen with the
    /// percent-encoding done here; report it as a bug).
    #[error("cannot build a request path for the tenant")]
    Path,
    /// The CA file cannot be read. Check the path and its permissions.
    #[error("CA file {}: I/O error: {source}", path.display())]
    CaFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The CA file has a PEM section that does not decode. Give a PEM or DER certificate.
    #[error("CA file {}: {source}", path.display())]
    CaFilePem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate of the CA file is not one a trust store accepts. Give the service CA's
    /// certificate.
    #[error("CA file {}: {source}", path.display())]
    CaFileCertificate {
        /// The file.
        path: PathBuf,
        /// Why the certificate was refused.
        source: rustls::Error,
    },
    /// The CA file holds no certificate. Give the service CA's certificate (PEM or DER).
    #[error("CA file {}: no certificate in the file", path.display())]
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// A CA pin that is not 64 hexadecimal digits. Copy the pin again (the end of a join token,
    /// or what `pta-demo` prints).
    #[error("the CA SHA-256 must be 64 hexadecimal digits")]
    BadPin,
    /// rustls refused the TLS settings (a build without TLS 1.3 support): report it as a bug.
    #[error("TLS set-up: {0}")]
    Tls(#[source] rustls::Error),
    /// The API key file cannot be read. Check the path and its permissions.
    #[error("API key file {}: {source}", path.display())]
    ApiKeyFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// No API key was given (the environment variable is unset or not Unicode). Give one.
    #[error("no API key: set {variable}")]
    ApiKeyMissing {
        /// The environment variable that was read.
        variable: String,
    },
    /// The API key is empty or has characters other than visible ASCII. Give the key as issued.
    #[error("the API key must be non-empty visible ASCII")]
    ApiKeyInvalid,
    /// The password could not be read (terminal or standard input failed). Nothing can be
    /// checked without it; retry or give it on standard input.
    #[error("cannot read the password{}: {source}", if *from_terminal { "" } else { " from standard input" })]
    PasswordUnreadable {
        /// Whether it was read from a terminal prompt.
        from_terminal: bool,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The password on standard input is not UTF-8. Give it as UTF-8 text.
    #[error("the password on standard input is not UTF-8")]
    PasswordNotUtf8,
    /// The password is empty. Give one.
    #[error("empty password")]
    PasswordEmpty,
}

/// Why a sign-in brought no verdict. Nothing here holds the password or the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The TCP connection failed (refused, unreachable, name not resolved). Check the URL and
    /// that the service listens; retrying later may help.
    #[error("cannot connect to {authority}: {source}")]
    Connect {
        /// `host:port`.
        authority: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TLS handshake failed for another reason than the pin: the certificate does not
    /// chain to the CA file, its name does not match the URL's host, or the connection broke.
    /// Check the CA and the URL's host.
    #[error("TLS with {authority}: {source}")]
    Tls {
        /// `host:port`.
        authority: String,
        /// The I/O error (its inner error is the rustls error).
        source: std::io::Error,
    },
    /// No certificate of the server's chain has the pinned SHA-256: this is not the service the
    /// pin names (or its CA changed). Do not retry with the same pin; check the pin.
    #[error("TLS with {authority}: no certificate in the server's chain has the pinned SHA-256")]
    PinMismatch {
        /// `host:port`.
        authority: String,
    },
    /// HTTP failed on an open connection (the service closed it, a protocol error). Retrying on
    /// a new connection may help.
    #[error("HTTP: {0}")]
    Http(#[source] hyper::Error),
    /// The answer's body could not be read, or was larger than 1 MiB. Retrying on a new
    /// connection may help.
    #[error("reading the answer: {0}")]
    ReadResponse(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The service answered with an error status and its JSON error body (`error` is the code,
    /// docs/SERVICE.md lists them). Retry later for 503, 504 and 429 (after
    /// [`ApiErrorBody::retry_after_secs`]); fix the API key for 401, the tenant for 404.
    #[error("HTTP {status} {}: {}{}{}",
        body.code.as_deref().unwrap_or(""),
        body.message.as_deref().unwrap_or(""),
        body.agent_error.as_deref().map(|a| format!(" (agent error: {a})")).unwrap_or_default(),
        body.retry_after_secs.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    Status {
        /// The HTTP status.
        status: u16,
        /// The service's error body.
        body: ApiErrorBody,
    },
    /// The answer is not what the service sends (not JSON, another shape, a 200 without a
    /// verdict): something else answers at that URL, or a proxy rewrote it. Check the URL.
    #[error("HTTP {status} {kind}")]
    Malformed {
        /// The HTTP status.
        status: u16,
        /// What was wrong.
        kind: MalformedKind,
    },
    /// No answer within the configured timeout (connection, TLS and request included).
    /// Retry later, or allow more time.
    #[error("no answer within {}", seconds(*after))]
    Timeout {
        /// The timeout that passed.
        after: Duration,
    },
}

/// What was wrong with an answer ([`ClientError::Malformed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedKind {
    /// The body is not JSON.
    NotJson,
    /// JSON, but a field has the wrong type.
    Shape,
    /// A 200 answer without a `verdict`.
    NoVerdict,
}

impl MalformedKind {
    /// A short `snake_case` name: `not_json`, `bad_shape`, `no_verdict`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::Shape => "bad_shape",
            Self::NoVerdict => "no_verdict",
        }
    }
}

impl std::fmt::Display for MalformedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotJson => "with a body that is not JSON",
            Self::Shape => "with a JSON body of another shape than the API's",
            Self::NoVerdict => "without a verdict",
        })
    }
}

/// `30 s`, or `1500 ms` for a timeout that is not whole seconds.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_error_reads_like_the_service_error() {
        let body = ApiErrorBody {
            code: Some("agent_error".into()),
            message: Some("the agent could not reach a verdict".into()),
            agent_error: Some("directory_unavailable".into()),
            retry_after_secs: None,
        };
        let e = ClientError::Status { status: 502, body };
        assert_eq!(
            e.to_string(),
            "HTTP 502 agent_error: the agent could not reach a verdict \
             (agent error: directory_unavailable)"
        );
        let body = ApiErrorBody {
            code: Some("source_blocked".into()),
            message: Some("blocked".into()),
            agent_error: None,
            retry_after_secs: Some(1800),
        };
        let e = ClientError::Status { status: 429, body };
        assert_eq!(
            e.to_string(),
            "HTTP 429 source_blocked: blocked (retry after 1800 s)"
        );
    }

    #[test]
    fn timeouts_and_malformed_answers_read_as_before() {
        let e = ClientError::Timeout {
            after: Duration::from_secs(30),
        };
        assert_eq!(e.to_string(), "no answer within 30 s");
        let e = ClientError::Timeout {
            after: Duration::from_millis(1500),
        };
        assert_eq!(e.to_string(), "no answer within 1500 ms");
        let e = ClientError::Malformed {
            status: 503,
            kind: MalformedKind::NotJson,
        };
        assert_eq!(e.to_string(), "HTTP 503 with a body that is not JSON");
        let e = ClientError::Malformed {
            status: 200,
            kind: MalformedKind::NoVerdict,
        };
        assert_eq!(e.to_string(), "HTTP 200 without a verdict");
    }
}
