//! The change feed: an ordered record of what other nodes must apply (tenants created,
//! certificates revoked), and the wake-up that says new entries may be waiting.
//!
//! A [`Store`](crate::Store) appends a [`Change`] in the same transaction as the write it
//! describes, under a sequence number that only grows and that readers see in order: a reader
//! that saw change `n` has already seen, or will never miss, every change below `n`. A node
//! keeps a cursor (the last `seq` it applied), reads
//! [`changes_since`](crate::Store::changes_since) the cursor when woken, and applies them; a
//! change applied twice is harmless (tenants are loaded once, a serial is revoked once).
//!
//! ```text
//!   writer:  BEGIN; INSERT revocation; INSERT change (seq n); NOTIFY; COMMIT
//!                                                       |
//!   reader:  ChangeSignal::changed() or the poll tick -> changes_since(cursor) -> apply
//!                                                        cursor = last seq
//! ```

use std::sync::Arc;

use tokio::sync::watch;

use crate::{AgentId, StoreError, TenantId};

/// One entry of the change feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Its place in the feed: 1 for the first change, then strictly increasing (not
    /// necessarily by one: a rolled-back writer may leave a gap, never a reordering).
    pub seq: u64,
    /// What changed.
    pub kind: ChangeKind,
}

/// What a [`Change`] records.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// A tenant was created ([`Store::create_tenant`](crate::Store::create_tenant)): load it
    /// and trust its authority.
    TenantCreated {
        /// The new tenant.
        tenant: TenantId,
    },
    /// A certificate was revoked ([`Store::add_revocation`](crate::Store::add_revocation)
    /// that added a row): refuse it, sign the tenant's CRL again, close its connections.
    CertificateRevoked {
        /// The tenant whose authority issued the certificate.
        tenant: TenantId,
        /// The certificate's serial, as stored in the revocation.
        serial: Vec<u8>,
        /// The agent it was issued to, if the revocation named one.
        agent: Option<AgentId>,
    },
}

impl ChangeKind {
    /// The stored code: `tenant_created` or `certificate_revoked`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TenantCreated { .. } => "tenant_created",
            Self::CertificateRevoked { .. } => "certificate_revoked",
        }
    }

    /// The tenant the change is about.
    pub fn tenant(&self) -> TenantId {
        match self {
            Self::TenantCreated { tenant } | Self::CertificateRevoked { tenant, .. } => *tenant,
        }
    }

    /// The serial of a revocation (empty for other kinds), for storage.
    pub fn serial(&self) -> Option<&[u8]> {
        match self {
            Self::CertificateRevoked { serial, .. } => Some(serial),
            Self::TenantCreated { .. } => None,
        }
    }

    /// The agent of a revocation, for storage.
    pub fn agent(&self) -> Option<AgentId> {
        match self {
            Self::CertificateRevoked { agent, .. } => *agent,
            Self::TenantCreated { .. } => None,
        }
    }

    /// A kind from its stored columns (for backends).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for an unknown code, or a revocation without a serial.
    pub fn from_parts(
        code: &str,
        tenant: TenantId,
        serial: Option<Vec<u8>>,
        agent: Option<AgentId>,
    ) -> Result<Self, StoreError> {
        match (code, serial) {
            ("tenant_created", _) => Ok(Self::TenantCreated { tenant }),
            ("certificate_revoked", Some(serial)) => Ok(Self::CertificateRevoked {
                tenant,
                serial,
                agent,
            }),
            _ => Err(StoreError::Corrupt {
                what: "change kind",
            }),
        }
    }
}

/// The writing side of a [`ChangeSignal`], kept by a backend: [`notify`](Self::notify) when
/// changes may be waiting. Clones notify the same subscribers.
#[derive(Clone, Debug)]
pub struct ChangeNotifier {
    tx: Arc<watch::Sender<u64>>,
}

impl Default for ChangeNotifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChangeNotifier {
    /// A notifier without subscribers.
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::channel(0).0),
        }
    }

    /// Wakes every subscriber (one wake-up for any number of calls before it looks).
    pub fn notify(&self) {
        self.tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A new subscriber; it wakes on the next [`notify`](Self::notify).
    pub fn subscribe(&self) -> ChangeSignal {
        let mut rx = self.tx.subscribe();
        rx.mark_unchanged();
        ChangeSignal { rx }
    }
}

/// A wake-up from a store: changes may be waiting in the feed. It is a hint, never the data:
/// the reader always reads [`changes_since`](crate::Store::changes_since) its cursor, and
/// still polls now and then (a signal can be lost, e.g. while a database connection is
/// re-established, or when another process writes an SQLite file).
#[derive(Debug)]
pub struct ChangeSignal {
    rx: watch::Receiver<u64>,
}

impl ChangeSignal {
    /// Waits for the next wake-up. Returns `false` once the store that fires it is gone (it
    /// never fires again: stop waiting on it).
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{ChangeKind, ChangeNotifier};
    use crate::TenantId;

    #[test]
    fn kinds_round_trip() {
        let tenant = TenantId::random().unwrap();
        let kinds = [
            ChangeKind::TenantCreated { tenant },
            ChangeKind::CertificateRevoked {
                tenant,
                serial: vec![1, 2],
                agent: None,
            },
        ];
        for kind in kinds {
            let back = ChangeKind::from_parts(
                kind.code(),
                kind.tenant(),
                kind.serial().map(<[u8]>::to_vec),
                kind.agent(),
            )
            .unwrap();
            assert_eq!(back, kind);
        }
        assert!(ChangeKind::from_parts("other", tenant, None, None).is_err());
        assert!(ChangeKind::from_parts("certificate_revoked", tenant, None, None).is_err());
    }

    #[test]
    fn a_signal_sees_notifications_after_it_subscribed() {
        let notifier = ChangeNotifier::new();
        notifier.notify();
        let mut signal = notifier.subscribe();
        assert!(!signal.rx.has_changed().unwrap());
        notifier.notify();
        notifier.notify();
        assert!(signal.rx.has_changed().unwrap());
        signal.rx.mark_unchanged();
        drop(notifier);
        assert!(signal.rx.has_changed().is_err());
    }
}
