//! The bytes both ends derive from a request: what the envelope binds (its authenticated data)
//! and the warnings input of the reply MAC. PROTOCOL.md sections 5.4 and 12 define them.

use crate::cbor::{self, MAJOR_MAP};
use crate::codes::{RequestId, Warning};

/// Which request an envelope was sealed for. Each has its own domain string, so an envelope
/// sealed for a sign-in cannot be replayed as a password change, or the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `SignInRequest`: domain `pta sign-in v1`.
    SignIn,
    /// `PasswordChangeRequest`: domain `pta password-change v1`.
    PasswordChange,
}

impl Operation {
    fn domain(self) -> &'static [u8] {
        match self {
            Self::SignIn => b"pta sign-in v1\0",
            Self::PasswordChange => b"pta password-change v1\0",
        }
    }
}

/// The envelope's authenticated data for one request (PROTOCOL.md section 12):
///
/// ```text
/// domain || 0x00
///   || u32be(16) || request_id
///   || u32be(len(tenant)) || tenant          (UTF-8, as named in the agent certificate)
///   || u32be(len(login)) || login            (UTF-8, as in SignInRequest key 2)
///   || u32be(32) || agent_key_id             (SHA-256 of the agent's SubjectPublicKeyInfo)
///   || u64be(deadline_unix_ms)
/// ```
///
/// The service seals with it; the agent rebuilds it from the request it received, its own
/// certificate's tenant and its own key id, and opening fails unless every field matches.
pub fn envelope_binding(
    operation: Operation,
    request_id: &RequestId,
    tenant: &str,
    login: &str,
    agent_key_id: &[u8; 32],
    deadline_unix_ms: u64,
) -> Vec<u8> {
    let domain = operation.domain();
    let mut out =
        Vec::with_capacity(domain.len() + 4 * 4 + 16 + tenant.len() + login.len() + 32 + 8);
    out.extend_from_slice(domain);
    put(&mut out, &request_id.0);
    put(&mut out, tenant.as_bytes());
    put(&mut out, login.as_bytes());
    put(&mut out, agent_key_id);
    out.extend_from_slice(&deadline_unix_ms.to_be_bytes());
    out
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// The `w` input of the reply MAC (PROTOCOL.md section 5.4): the CBOR map of the warnings with
/// keys in ascending order and every integer in its shortest form, or empty without warnings.
///
/// Both ends compute it from the warnings as decoded, so the order they travel in does not
/// matter. Two warnings of one kind (which the decoder refuses) keep their relative order.
pub fn warnings_mac_input(warnings: &[Warning]) -> Vec<u8> {
    if warnings.is_empty() {
        return Vec::new();
    }
    let mut sorted = warnings.to_vec();
    sorted.sort_by_key(|w| w.kind.code());
    let mut out = Vec::with_capacity(1 + sorted.len() * 6);
    cbor::write_head(&mut out, MAJOR_MAP, sorted.len() as u64);
    for w in &sorted {
        cbor::write_uint(&mut out, u64::from(w.kind.code()));
        cbor::write_uint(&mut out, u64::from(w.value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::WarningKind;

    #[test]
    fn binding_layout_matches_the_spec() {
        let id = RequestId([7; 16]);
        let b = envelope_binding(Operation::SignIn, &id, "t1", "alice", &[9; 32], 0x0102);
        let mut want = b"pta sign-in v1\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 16]);
        want.extend_from_slice(&[7; 16]);
        want.extend_from_slice(&[0, 0, 0, 2]);
        want.extend_from_slice(b"t1");
        want.extend_from_slice(&[0, 0, 0, 5]);
        want.extend_from_slice(b"alice");
        want.extend_from_slice(&[0, 0, 0, 32]);
        want.extend_from_slice(&[9; 32]);
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(b, want);
    }

    #[test]
    fn every_field_changes_the_binding() {
        let id = RequestId([7; 16]);
        let base = envelope_binding(Operation::SignIn, &id, "t", "a", &[1; 32], 5);
        let others = [
            envelope_binding(Operation::PasswordChange, &id, "t", "a", &[1; 32], 5),
            envelope_binding(
                Operation::SignIn,
                &RequestId([8; 16]),
                "t",
                "a",
                &[1; 32],
                5,
            ),
            envelope_binding(Operation::SignIn, &id, "u", "a", &[1; 32], 5),
            envelope_binding(Operation::SignIn, &id, "t", "b", &[1; 32], 5),
            envelope_binding(Operation::SignIn, &id, "t", "a", &[2; 32], 5),
            envelope_binding(Operation::SignIn, &id, "t", "a", &[1; 32], 6),
            // Moving a byte between tenant and login must not collide.
            envelope_binding(Operation::SignIn, &id, "ta", "", &[1; 32], 5),
        ];
        for o in others {
            assert_ne!(o, base);
        }
    }

    #[test]
    fn warnings_input_is_canonical() {
        assert!(warnings_mac_input(&[]).is_empty());
        let w = Warning {
            kind: WarningKind::PasswordExpiresInDays,
            value: 5,
        };
        assert_eq!(warnings_mac_input(&[w]), vec![0xa1, 0x01, 0x05]);
        let big = Warning { value: 300, ..w };
        assert_eq!(
            warnings_mac_input(&[big]),
            vec![0xa1, 0x01, 0x19, 0x01, 0x2c]
        );
        let unknown = Warning {
            kind: WarningKind::from_code(40),
            value: 1,
        };
        // Sorted by key whatever the order given.
        assert_eq!(
            warnings_mac_input(&[unknown, w]),
            vec![0xa2, 0x01, 0x05, 0x18, 0x28, 0x01]
        );
    }
}
