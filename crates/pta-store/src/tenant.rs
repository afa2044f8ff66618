//! Tenants and their issuing authorities.

use std::fmt;

use zeroize::Zeroizing;

use crate::TenantId;

/// Agents a tenant may register unless configured otherwise (Entra's limit too).
pub const DEFAULT_AGENT_LIMIT: u32 = 40;

/// A customer of the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's id; certificates name it.
    pub id: TenantId,
    /// A unique, human-chosen name (for example a primary domain).
    pub name: String,
    /// When the tenant was created, Unix milliseconds.
    pub created_at: u64,
    /// Most agents the tenant may have registered at once (not counting revoked ones).
    pub agent_limit: u32,
}

impl Tenant {
    /// A tenant with the [`DEFAULT_AGENT_LIMIT`].
    pub fn new(id: TenantId, name: impl Into<String>, created_at: u64) -> Self {
        Self {
            id,
            name: name.into(),
            created_at,
            agent_limit: DEFAULT_AGENT_LIMIT,
        }
    }
}

/// A tenant's issuing authority: the CA certificate and private key that sign its agents'
/// certificates. Created with the tenant.
///
/// This crate stores the material as opaque bytes and does not interpret it; `pta-cert` makes
/// and reads it. Not comparable with `==` (it holds a secret); compare
/// [`certificate`](Self::certificate)s, or the keys through [`CaKey::expose`] in tests.
#[derive(Clone, Debug)]
pub struct Authority {
    /// The CA certificate (DER or PEM, as the caller chose).
    pub certificate: Vec<u8>,
    /// The CA private key (PKCS#8 PEM).
    pub key: CaKey,
}

impl Authority {
    /// Wraps the CA certificate and key.
    pub fn new(certificate: Vec<u8>, key: CaKey) -> Self {
        Self { certificate, key }
    }
}

/// A CA private key (PKCS#8 PEM bytes): zeroized when dropped, printed as `[redacted]`, never
/// displayed, and not comparable with `==` (a comparison that is not constant-time could leak
/// it).
#[derive(Clone)]
pub struct CaKey(Zeroizing<Vec<u8>>);

impl CaKey {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes, for the one place that signs with them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for CaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::{Authority, CaKey};

    #[test]
    fn key_debug_is_redacted() {
        let a = Authority::new(b"CERT".to_vec(), CaKey::new(b"PRIVATE KEY 1234".to_vec()));
        let shown = format!("{a:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains("1234"));
        assert!(!shown.contains("80, 82, 73"), "key bytes leaked: {shown}");
    }
}
