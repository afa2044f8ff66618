//! Outbound connections, directly or through an HTTP proxy with `CONNECT` (RFC 9110 section
//! 9.3.6), optionally with basic authentication.

use std::collections::HashMap;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::secret::SecretString;
use crate::{ConfigError, ConfigReason, Error};

/// The largest proxy response head read.
const MAX_HEAD: usize = 8 * 1024;

/// An HTTP proxy reached with `CONNECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxySettings {
    /// Proxy host.
    pub host: String,
    /// Proxy port.
    pub port: u16,
    /// Basic-auth user name and password.
    pub credentials: Option<(String, SecretString)>,
    /// Hosts reached directly (exact names, `.suffix` or `suffix` for subdomains, `*`).
    pub no_proxy: Vec<String>,
}

impl ProxySettings {
    /// Parses `http://[user:password@]host:port` (the scheme may be omitted; the port
    /// defaults to 80).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming `proxy.url` with [`ConfigReason::ProxyUrl`] for another
    /// scheme or a bad port. The error never contains the password.
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = || Error::from(ConfigError::new("proxy.url", ConfigReason::ProxyUrl));
        let rest = match url.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(bad()),
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = split_host_port(hostport, 80).ok_or_else(bad)?;
        let credentials = userinfo.map(|u| match u.split_once(':') {
            Some((user, pw)) => (user.to_owned(), SecretString::new(pw)),
            None => (u.to_owned(), SecretString::new("")),
        });
        Ok(Self {
            host,
            port,
            credentials,
            no_proxy: Vec::new(),
        })
    }

    /// The proxy from an environment snapshot: `HTTPS_PROXY` (or `https_proxy`), with
    /// `NO_PROXY` (or `no_proxy`) as a comma-separated list. `None` without a proxy variable.
    ///
    /// # Errors
    ///
    /// As [`ProxySettings::parse`], naming `HTTPS_PROXY`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Option<Self>, Error> {
        let get = |a: &str, b: &str| {
            env.get(a)
                .or_else(|| env.get(b))
                .filter(|v| !v.trim().is_empty())
        };
        let Some(url) = get("HTTPS_PROXY", "https_proxy") else {
            return Ok(None);
        };
        let mut p = Self::parse(url.trim()).map_err(|e| match e {
            Error::InvalidConfig(e) => ConfigError::new("HTTPS_PROXY", e.reason).into(),
            other => other,
        })?;
        if let Some(list) = get("NO_PROXY", "no_proxy") {
            p.no_proxy = list
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
        }
        Ok(Some(p))
    }

    /// Whether connections to `host` go through this proxy.
    pub fn applies_to(&self, host: &str) -> bool {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        !self.no_proxy.iter().any(|entry| {
            let e = entry.to_ascii_lowercase();
            let e = e.trim_start_matches("*.");
            e == "*"
                || host == e.trim_start_matches('.')
                || host.ends_with(&format!(".{}", e.trim_start_matches('.')))
        })
    }
}

/// Splits `host:port` (`[v6]:port` for IPv6); `default_port` when no port is given.
pub(crate) fn split_host_port(s: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_owned(), p.parse().ok()?)),
        Some(_) => None,
        None if !s.is_empty() => Some((s.to_owned(), default_port)),
        None => None,
    }
    .filter(|(h, _)| !h.is_empty())
}

fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Opens a TCP connection to `host:port`, through `proxy` unless it excludes the host, within
/// `timeout` (TCP connect plus the CONNECT exchange).
///
/// # Errors
///
/// [`Error::Timeout`], [`Error::Network`], and for the proxy [`Error::ProxyAuthRequired`],
/// [`Error::ProxyRefused`], [`Error::ProxyProtocol`].
pub async fn connect_tcp(
    host: &str,
    port: u16,
    proxy: Option<&ProxySettings>,
    timeout: Duration,
) -> Result<TcpStream, Error> {
    let target = authority(host, port);
    let fut = async {
        match proxy.filter(|p| p.applies_to(host)) {
            None => {
                let s = TcpStream::connect(&target)
                    .await
                    .map_err(Error::network(&target))?;
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Some(p) => connect_via_proxy(p, &target).await,
        }
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| Error::Timeout("connecting"))?
}

async fn connect_via_proxy(p: &ProxySettings, target: &str) -> Result<TcpStream, Error> {
    let proxy_addr = authority(&p.host, p.port);
    let mut s = TcpStream::connect(&proxy_addr)
        .await
        .map_err(Error::network(&proxy_addr))?;
    let _ = s.set_nodelay(true);
    let mut req =
        zeroize::Zeroizing::new(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"));
    if let Some((user, pw)) = &p.credentials {
        let raw = zeroize::Zeroizing::new(format!("{user}:{}", pw.expose()));
        let encoded = zeroize::Zeroizing::new(Base64::encode_string(raw.as_bytes()));
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&encoded);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(Error::network(&proxy_addr))?;
    // Read the response head byte by byte: nothing of the tunnelled stream may be consumed.
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(Error::ProxyProtocol);
        }
        let n = s
            .read(&mut byte)
            .await
            .map_err(Error::network(&proxy_addr))?;
        if n == 0 {
            return Err(Error::ProxyProtocol);
        }
        head.push(byte[0]);
    }
    let status = parse_status(&head).ok_or(Error::ProxyProtocol)?;
    match status {
        200..=299 => Ok(s),
        // 407 asks for credentials; tinyproxy answers wrong ones with 401.
        401 | 407 => Err(Error::ProxyAuthRequired),
        other => Err(Error::ProxyRefused(other)),
    }
}

fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_env() {
        let p = ProxySettings::parse("http://user:pw@proxy.corp:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        let (user, pw) = p.credentials.clone().unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("user", "pw"));
        assert!(!format!("{p:?}").contains("pw\""));
        assert!(ProxySettings::parse("socks5://x:1").is_err());
        assert!(ProxySettings::parse("http://x:notaport").is_err());

        let mut env = HashMap::new();
        assert_eq!(ProxySettings::from_env(&env).unwrap(), None);
        env.insert("https_proxy".into(), "http://127.0.0.1:8888".into());
        env.insert("NO_PROXY".into(), "localhost, .internal.example".into());
        let p = ProxySettings::from_env(&env).unwrap().unwrap();
        assert_eq!(p.port, 8888);
        assert!(!p.applies_to("localhost"));
        assert!(!p.applies_to("svc.internal.example"));
        assert!(p.applies_to("service.example.com"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(
            parse_status(b"HTTP/1.0 407 Proxy Authentication Required\r\n"),
            Some(407)
        );
        assert_eq!(parse_status(b"SSH-2.0\r\n"), None);
        assert_eq!(split_host_port("[::1]:443", 1), Some(("::1".into(), 443)));
        assert_eq!(
            split_host_port("example.com", 443),
            Some(("example.com".into(), 443))
        );
    }
}
