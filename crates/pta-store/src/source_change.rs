//! Noticing a known agent that turns up somewhere new or with a new key.

use std::net::IpAddr;

use crate::{AgentRecord, AuditEvent, AuditKind, AuditOutcome};

/// What changed about a known agent when it connected; each change is audited, since a stolen
/// certificate or key is often used from another address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceChange {
    /// It connected from an address other than its last one (its first contact after
    /// registration is not a change).
    pub new_source: bool,
    /// It presented a public key other than the registered one, outside a renewal.
    pub new_key: bool,
}

impl SourceChange {
    /// Compares a connection with the agent's record: its `source` address, the public key
    /// its certificate carries, and whether the connection is renewing the certificate (a new
    /// key is then expected).
    pub fn detect(record: &AgentRecord, source: IpAddr, public_key: &[u8], renewal: bool) -> Self {
        Self {
            new_source: record.last_source.is_some_and(|last| last != source),
            new_key: !renewal && record.public_key != public_key,
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.new_source && !self.new_key
    }

    /// The audit events to write for this change, at `now`, for the connection from `source`.
    pub fn audit_events(&self, now: u64, record: &AgentRecord, source: IpAddr) -> Vec<AuditEvent> {
        let event = |kind| {
            AuditEvent::new(now, kind, AuditOutcome::Ok)
                .with_tenant(record.tenant)
                .with_agent(record.id)
                .with_source(source)
        };
        let mut events = Vec::new();
        if self.new_source {
            events.push(event(AuditKind::AgentNewSource));
        }
        if self.new_key {
            events.push(event(AuditKind::AgentNewKey));
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::SourceChange;
    use crate::{AgentId, AgentRecord, AuditKind, TenantId};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn detects_new_source_and_new_key() {
        let mut r = AgentRecord::new(
            AgentId::from_bytes([1; 16]),
            TenantId::from_bytes([2; 16]),
            vec![1],
            b"key-1".to_vec(),
            0,
        );
        // First contact: no previous address.
        assert!(SourceChange::detect(&r, ip("192.0.2.1"), b"key-1", false).is_empty());
        r.last_source = Some(ip("192.0.2.1"));
        assert!(SourceChange::detect(&r, ip("192.0.2.1"), b"key-1", false).is_empty());

        let moved = SourceChange::detect(&r, ip("203.0.113.9"), b"key-1", false);
        assert!(moved.new_source && !moved.new_key);
        let events = moved.audit_events(5, &r, ip("203.0.113.9"));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, AuditKind::AgentNewSource);
        assert_eq!(events[0].agent, Some(r.id));
        assert_eq!(events[0].source, Some(ip("203.0.113.9")));

        let rekeyed = SourceChange::detect(&r, ip("192.0.2.1"), b"key-2", false);
        assert!(!rekeyed.new_source && rekeyed.new_key);
        assert!(SourceChange::detect(&r, ip("192.0.2.1"), b"key-2", true).is_empty());

        let both = SourceChange::detect(&r, ip("::1"), b"key-2", false);
        let kinds: Vec<_> = both
            .audit_events(5, &r, ip("::1"))
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [AuditKind::AgentNewSource, AuditKind::AgentNewKey]);
    }
}
