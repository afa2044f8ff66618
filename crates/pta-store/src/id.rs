//! Tenant and agent ids: 128 random bits, written as a UUID (version 4).

use std::fmt;
use std::str::FromStr;

use crate::{StoreError, hex};

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Written as a lowercase UUID (`8-4-4-4-12` hex digits, version 4, RFC 9562 variant):
        /// that text is its stored form and the form a certificate names.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random id from the operating system's generator.
            ///
            /// # Errors
            ///
            /// [`StoreError::Random`] if the generator fails.
            pub fn random() -> Result<Self, StoreError> {
                let mut bytes = [0u8; 16];
                getrandom::fill(&mut bytes).map_err(StoreError::Random)?;
                Ok(Self::from_bytes(bytes))
            }

            /// The id made of these 16 bytes, with the UUID version (4) and variant bits set.
            pub fn from_bytes(mut bytes: [u8; 16]) -> Self {
                bytes[6] = (bytes[6] & 0x0f) | 0x40;
                bytes[8] = (bytes[8] & 0x3f) | 0x80;
                Self(bytes)
            }

            /// The 16 bytes of the id.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_uuid(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), format_uuid(&self.0))
            }
        }

        impl FromStr for $name {
            type Err = StoreError;

            /// Parses the canonical form (lowercase, hyphenated, version 4).
            fn from_str(s: &str) -> Result<Self, StoreError> {
                let bytes = parse_uuid(s).ok_or(StoreError::MalformedId)?;
                let id = Self(bytes);
                if Self::from_bytes(bytes) != id {
                    return Err(StoreError::MalformedId);
                }
                Ok(id)
            }
        }
    };
}

random_id!(
    /// A tenant's id.
    TenantId
);

random_id!(
    /// An agent's id, chosen by the service at registration and named in the agent's
    /// certificate.
    AgentId
);

fn format_uuid(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, chunk) in [
        &bytes[0..4],
        &bytes[4..6],
        &bytes[6..8],
        &bytes[8..10],
        &bytes[10..16],
    ]
    .into_iter()
    .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        hex::encode_into(chunk, &mut out);
    }
    out
}

fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != lens.len()
        || groups.iter().zip(lens).any(|(g, len)| g.len() != len)
        || s.bytes().any(|b| b.is_ascii_uppercase())
    {
        return None;
    }
    hex::decode::<16>(&groups.concat())
}

#[cfg(test)]
mod tests {
    use super::{AgentId, TenantId};
    use crate::StoreError;

    #[test]
    fn text_round_trip() {
        let id = AgentId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text, "abababab-abab-4bab-abab-abababababab");
        assert_eq!(text.parse::<AgentId>().ok(), Some(id));
        assert_eq!(
            format!("{id:?}"),
            "AgentId(abababab-abab-4bab-abab-abababababab)"
        );
    }

    #[test]
    fn random_ids_differ_and_parse() -> Result<(), StoreError> {
        let a = TenantId::random()?;
        let b = TenantId::random()?;
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<TenantId>()?, a);
        Ok(())
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        for bad in [
            "",
            "abababab-abab-4bab-abab-ababababab",
            "ABABABAB-ABAB-4BAB-ABAB-ABABABABABAB",
            "abababab-abab-1bab-abab-abababababab",
            "abababababab4babababababababababab",
            "abababab-abab-4bab-abab-ababababab-g",
        ] {
            assert!(
                matches!(bad.parse::<TenantId>(), Err(StoreError::MalformedId)),
                "{bad}"
            );
        }
    }
}
