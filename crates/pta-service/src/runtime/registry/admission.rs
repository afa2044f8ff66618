//! Admission: who may hold a session. An agent is identified from its verified client
//! certificate, then checked against the registry (known, same tenant, not revoked, serial
//! not revoked) before its session starts.

use std::sync::PoisonError;

use der::{Decode, Encode};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::{AgentId, AgentRecord, AgentStatus, TenantId};

use super::super::service::Inner;
use super::trust::normalise_serial;

/// What the registry check established about a connection.
pub(crate) struct Admitted {
    pub(crate) agent: AgentId,
    pub(crate) tenant: TenantId,
    pub(crate) record: AgentRecord,
    pub(crate) serial: Vec<u8>,
    pub(crate) spki: Vec<u8>,
    pub(crate) leaf: Vec<u8>,
}

/// The serial (normalised) and SubjectPublicKeyInfo (DER) of a certificate.
pub(crate) fn certificate_facts(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = cert.tbs_certificate();
    let serial = normalise_serial(tbs.serial_number().as_bytes());
    let spki = tbs.subject_public_key_info().to_der().ok()?;
    Some((serial, spki))
}

/// Identifies the agent from its verified certificate and checks the registry: known, same
/// tenant, not revoked, certificate serial not revoked.
pub(crate) async fn admit(
    inner: &Inner,
    tls: &TlsStream<TcpStream>,
) -> Result<Admitted, &'static str> {
    let (_, conn) = tls.get_ref();
    // rustls refuses a client that offers only other protocols; one that offers none gets
    // here without ALPN.
    if conn.alpn_protocol() != Some(pta_cert::ALPN_PTA1) {
        return Err("ALPN pta/1 not negotiated");
    }
    let (agent, tenant) = {
        let trust = inner
            .registry
            .trust
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        trust
            .identify(conn)
            .map_err(|_| "certificate does not identify an agent of its issuing tenant")?
    };
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no client certificate")?;
    let (serial, spki) = certificate_facts(&leaf).ok_or("unreadable client certificate")?;
    let revoked_here = inner
        .registry
        .trust
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .is_revoked(&tenant, &serial);
    if revoked_here {
        return Err("certificate revoked");
    }
    let record = match inner.store.agent(&agent).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err("unknown agent"),
        Err(_) => return Err("registry unavailable"),
    };
    if record.tenant != tenant {
        return Err("agent registered for another tenant");
    }
    if record.status == AgentStatus::Revoked {
        return Err("agent revoked");
    }
    match inner.store.is_revoked(&tenant, &serial).await {
        Ok(false) => {}
        Ok(true) => return Err("certificate revoked"),
        Err(_) => return Err("registry unavailable"),
    }
    Ok(Admitted {
        agent,
        tenant,
        record,
        serial,
        spki,
        leaf,
    })
}
