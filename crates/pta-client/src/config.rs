//! Where the service is and how to reach it.

use std::time::Duration;

use hyper::Uri;

use crate::{ApiKey, ConfigError, Trust};

/// Whether an `http://` service URL (no TLS: the password crosses the network in clear) is
/// accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlainHttp {
    /// Only `https://` URLs.
    #[default]
    Refuse,
    /// `http://127.0.0.1[:PORT]` too (a TLS-terminating proxy's backend, a test).
    Loopback,
    /// Any `http://` URL (a load generator inside a test network).
    Any,
}

/// A service's API base URL: `https://HOST[:PORT][/PREFIX]` (or `http://`, see [`PlainHttp`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceUrl {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path_prefix: String,
}

impl ServiceUrl {
    /// Parses `url`; an `http://` URL only as `plain_http` allows.
    pub fn parse(url: &str, plain_http: PlainHttp) -> Result<Self, ConfigError> {
        let uri: Uri = url.parse().map_err(|_| ConfigError::NotAUrl {
            url: url.to_owned(),
        })?;
        let host = uri
            .host()
            .ok_or(ConfigError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let path_prefix = uri.path().trim_end_matches('/').to_owned();
        if uri.query().is_some() {
            return Err(ConfigError::Query);
        }
        let (tls, default_port) = match uri.scheme_str().unwrap_or_default() {
            "https" => (true, 443),
            "http" => {
                match plain_http {
                    PlainHttp::Refuse => return Err(ConfigError::PlainHttpRefused),
                    PlainHttp::Loopback if host != "127.0.0.1" => {
                        return Err(ConfigError::PlainHttpNotLoopback);
                    }
                    _ => {}
                }
                (false, 80)
            }
            _ => {
                return Err(ConfigError::Scheme {
                    url: url.to_owned(),
                });
            }
        };
        Ok(Self {
            tls,
            port: uri.port_u16().unwrap_or(default_port),
            host,
            path_prefix,
        })
    }

    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.tls
    }

    /// `host:port` (`[v6]:port`), for the `Host` header and messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The path of `tenant`'s sign-in route under this URL.
    pub(crate) fn sign_in_path(&self, tenant: &str) -> String {
        let mut path = self.path_prefix.clone();
        path.push_str("/v1/tenants/");
        percent_encode(&mut path, tenant);
        path.push_str("/sign-in");
        path
    }
}

/// What a [`Client`](crate::Client) needs. Build with [`ClientConfig::new`], then set the
/// optional fields.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The service's API base URL.
    pub service: ServiceUrl,
    /// The tenant, by name or id.
    pub tenant: String,
    /// The front-end API key.
    pub api_key: ApiKey,
    /// How the service's certificate is checked; required for `https://`, unused for `http://`.
    pub trust: Option<Trust>,
    /// The longest a request may take, connection and TLS handshake included (default 30 s).
    pub timeout: Duration,
}

impl ClientConfig {
    /// Sign-ins for `tenant` at `service` with `api_key`; no trust set, 30 s timeout.
    pub fn new(service: ServiceUrl, tenant: impl Into<String>, api_key: ApiKey) -> Self {
        Self {
            service,
            tenant: tenant.into(),
            api_key,
            trust: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Appends `segment` percent-encoded (everything but RFC 3986 unreserved characters).
fn percent_encode(out: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_prefix() {
        let u = ServiceUrl::parse("https://pta.example.com:8445/api/", PlainHttp::Refuse).unwrap();
        assert!(u.is_https());
        assert_eq!(u.authority(), "pta.example.com:8445");
        assert_eq!(
            u.sign_in_path("my tenant/é"),
            "/api/v1/tenants/my%20tenant%2F%C3%A9/sign-in"
        );
        let u = ServiceUrl::parse("https://[::1]", PlainHttp::Refuse).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 443));
        assert_eq!(u.authority(), "[::1]:443");
        assert_eq!(u.sign_in_path("t"), "/v1/tenants/t/sign-in");
    }

    #[test]
    fn plain_http_only_as_allowed() {
        let refuse = ServiceUrl::parse("http://127.0.0.1:9", PlainHttp::Refuse);
        assert!(matches!(refuse, Err(ConfigError::PlainHttpRefused)));
        let far = ServiceUrl::parse("http://10.1.2.3", PlainHttp::Loopback);
        assert!(matches!(far, Err(ConfigError::PlainHttpNotLoopback)));
        let near = ServiceUrl::parse("http://127.0.0.1", PlainHttp::Loopback).unwrap();
        assert_eq!((near.is_https(), near.port), (false, 80));
        assert!(ServiceUrl::parse("http://10.1.2.3:8080", PlainHttp::Any).is_ok());
    }

    #[test]
    fn bad_urls_are_refused() {
        for (url, check) in [
            ("ftp://127.0.0.1:9", "scheme"),
            ("127.0.0.1:9", "scheme"),
            ("https://h/?a=b", "query"),
            ("not a url", "url"),
            ("/just/a/path", "host"),
        ] {
            let e = ServiceUrl::parse(url, PlainHttp::Any).unwrap_err();
            let ok = match check {
                "scheme" => matches!(e, ConfigError::Scheme { .. }),
                "query" => matches!(e, ConfigError::Query),
                "url" => matches!(e, ConfigError::NotAUrl { .. }),
                _ => matches!(e, ConfigError::NoHost),
            };
            assert!(ok, "{url}: {e:?}");
        }
    }
}
