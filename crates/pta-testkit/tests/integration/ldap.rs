//! A thin ldap3 client for pinning raw bind outcomes.

use std::sync::Arc;
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// OID of the password-policy request and response controls.
pub(crate) const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// How to reach a server.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Transport<'a> {
    /// Plain LDAP.
    Plain,
    /// StartTLS on the plain port, trusting this CA.
    StartTls(&'a str),
    /// LDAPS, trusting this CA.
    Ldaps(&'a str),
}

/// The raw outcome of a simple bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawBind {
    pub(crate) rc: u32,
    pub(crate) text: String,
    /// The `data XXX` sub-code of an AD diagnostic message.
    pub(crate) ad_data: Option<u16>,
    /// The value of the ppolicy response control, if one came back.
    pub(crate) ppolicy: Option<Vec<u8>>,
}

pub(crate) fn tls_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA certificate is accepted");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Connects to `url` (`ldap://` for Plain and StartTls, `ldaps://` for Ldaps).
pub(crate) async fn connect(url: &str, transport: Transport<'_>) -> Result<Ldap, ldap3::LdapError> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
    match transport {
        Transport::Plain => {}
        Transport::StartTls(ca) => {
            settings = settings.set_config(tls_config(ca)).set_starttls(true)
        }
        Transport::Ldaps(ca) => settings = settings.set_config(tls_config(ca)),
    }
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

/// Binds with the ppolicy request control (non-critical) and returns the raw outcome.
pub(crate) async fn bind(ldap: &mut Ldap, name: &str, password: &str) -> RawBind {
    let control = RawControl {
        ctype: PPOLICY_OID.to_owned(),
        crit: false,
        val: None,
    };
    let result = ldap
        .with_controls(vec![control])
        .with_timeout(Duration::from_secs(10))
        .simple_bind(name, password)
        .await
        .expect("bind request completes");
    let ppolicy = result
        .ctrls
        .iter()
        .find(|c| c.1.ctype == PPOLICY_OID)
        .map(|c| c.1.val.clone().unwrap_or_default());
    RawBind {
        rc: result.rc,
        ad_data: ad_data(&result.text),
        text: result.text,
        ppolicy,
    }
}

/// Connects, binds once, unbinds.
pub(crate) async fn bind_once(
    url: &str,
    transport: Transport<'_>,
    name: &str,
    password: &str,
) -> RawBind {
    let mut ldap = connect(url, transport).await.expect("connects");
    let out = bind(&mut ldap, name, password).await;
    let _ = ldap.unbind().await;
    out
}

/// Parses `data XXX` (hexadecimal) from an AD diagnostic message.
pub(crate) fn ad_data(text: &str) -> Option<u16> {
    let rest = &text[text.find("data ")? + 5..];
    let hex: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    u16::from_str_radix(&hex, 16).ok()
}

#[test]
fn ad_data_parses_the_sub_code() {
    let text =
        "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1";
    assert_eq!(ad_data(text), Some(0x775));
    assert_eq!(ad_data("no code here"), None);
}

/// Binds without any request control.
pub(crate) async fn bind_without_controls(url: &str, name: &str, password: &str) -> RawBind {
    let mut ldap = connect(url, Transport::Plain).await.expect("connects");
    let result = ldap
        .with_timeout(Duration::from_secs(10))
        .simple_bind(name, password)
        .await
        .expect("bind request completes");
    let _ = ldap.unbind().await;
    let ppolicy = result
        .ctrls
        .iter()
        .find(|c| c.1.ctype == PPOLICY_OID)
        .map(|c| c.1.val.clone().unwrap_or_default());
    RawBind {
        rc: result.rc,
        ad_data: ad_data(&result.text),
        text: result.text,
        ppolicy,
    }
}

/// Distinguished names found by a subtree search, or the result code of a failed search.
pub(crate) async fn search_dns(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
) -> Result<Vec<String>, u32> {
    let result = ldap
        .with_timeout(Duration::from_secs(10))
        .search(base, ldap3::Scope::Subtree, filter, vec!["1.1"])
        .await
        .expect("search request completes");
    let (entries, res) = (result.0, result.1);
    if res.rc != 0 {
        return Err(res.rc);
    }
    Ok(entries
        .into_iter()
        .filter_map(|e| {
            let e = ldap3::SearchEntry::construct(e);
            // AD answers searches from the domain root with continuation references too;
            // those come back as entries without a DN.
            (!e.dn.is_empty()).then_some(e.dn)
        })
        .collect())
}
