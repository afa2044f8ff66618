//! PEM helpers for certificate chains.

use rustls::pki_types::CertificateDer;

use crate::Error;

/// Concatenated `CERTIFICATE` PEM blocks.
pub(crate) fn certs_to_pem(certs: &[CertificateDer<'_>]) -> Result<String, Error> {
    let mut out = String::new();
    for cert in certs {
        let block = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, cert)
            .map_err(|_| Error::Build)?;
        out.push_str(&block);
    }
    Ok(out)
}

/// Every `CERTIFICATE` block in `text`, in order. Anything else between blocks is an error.
pub(crate) fn certs_from_pem(text: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest.find(END).ok_or(Error::MalformedCertificate)? + END.len();
        let (label, der) = der::pem::decode_vec(&rest.as_bytes()[..end])
            .map_err(|_| Error::MalformedCertificate)?;
        if label != "CERTIFICATE" {
            return Err(Error::MalformedCertificate);
        }
        out.push(CertificateDer::from(der));
        rest = rest[end..].trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let certs = vec![
            CertificateDer::from(vec![0x30, 0x00]),
            CertificateDer::from(vec![0x30, 0x01, 0x05]),
        ];
        let pem = certs_to_pem(&certs).unwrap();
        assert_eq!(certs_from_pem(&pem).unwrap(), certs);
        assert!(certs_from_pem("").unwrap().is_empty());
        assert!(certs_from_pem("junk").is_err());
        assert!(certs_from_pem(&pem.replace("CERTIFICATE", "PRIVATE KEY")).is_err());
    }
}
