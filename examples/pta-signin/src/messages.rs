//! The wording of configuration errors in terms of the command line's flags.

use pta_client::ConfigError;

/// Exit code 2 (usage) with the message in terms of the command line; 3 when the password could
/// not be read or TLS could not be set up.
pub(crate) fn config_failure(e: ConfigError, service: &str) -> (u8, String) {
    use ConfigError as E;
    let message = match e {
        E::NotAUrl { .. } => format!("--service {:?} is not a URL", service),
        E::NoHost => "--service needs a host, like https://pta.example.com".into(),
        E::Query => "--service must not have a query".into(),
        E::Scheme { .. } => format!(
            "--service {:?}: the scheme must be https:// (or http:// with --insecure-loopback-http)",
            service
        ),
        E::NoTrust => {
            "an https:// service needs --ca-file PEM or --ca-sha256 HEX (the service CA)".into()
        }
        E::PlainHttpRefused => "an http:// service is refused: use https://, or \
                                --insecure-loopback-http for a service on 127.0.0.1"
            .into(),
        E::PlainHttpNotLoopback => {
            "--insecure-loopback-http allows only http://127.0.0.1[:PORT]".into()
        }
        E::CaFileUnreadable { path, source } => {
            format!("--ca-file {}: I/O error: {source}", path.display())
        }
        E::CaFilePem { path, source } => format!("--ca-file {}: {source}", path.display()),
        E::CaFileCertificate { path, source } => format!("--ca-file {}: {source}", path.display()),
        E::CaFileEmpty { path } => {
            format!("--ca-file {}: no certificate in the file", path.display())
        }
        E::BadPin => "--ca-sha256 must be 64 hexadecimal digits".into(),
        E::ApiKeyFile { path, source } => format!("--api-key-file {}: {source}", path.display()),
        E::ApiKeyMissing { .. } => "no API key: give --api-key-file FILE or set PTA_API_KEY".into(),
        e @ (E::PasswordUnreadable { .. } | E::Tls(_)) => return (3, e.to_string()),
        other => other.to_string(),
    };
    (2, message)
}
