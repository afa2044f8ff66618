//! The session key as a recipient and an identity (JWE `A256GCMKW`).

use crate::{ContentKey, Identity, OpenError, Recipient, SealError, SessionKey, Stanza, aead};

impl Recipient for SessionKey {
    fn wrap(&self, key: &ContentKey, nonce: &[u8; 12]) -> Result<Stanza, SealError> {
        Ok(Stanza::SessionKey {
            id: self.id(),
            iv: None,
            wrapped: aead::wrap_key(self, nonce, key)?,
        })
    }
}

impl Identity for SessionKey {
    fn unwrap(&self, stanza: &Stanza, nonce: &[u8; 12]) -> Option<Result<ContentKey, OpenError>> {
        match stanza {
            Stanza::SessionKey { id, iv, wrapped } if id.ct_eq(&self.id()) => Some(
                aead::unwrap_key(self, iv.as_ref().unwrap_or(nonce), wrapped),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{OpenError, SessionKey, open, seal};

    #[test]
    fn seal_open_with_a_session_key() {
        let sk = SessionKey::from_bytes([1; 32]);
        let s = seal(&[&sk], b"pw", b"bound").unwrap();
        let o = open(&sk, &s.envelope, b"bound").unwrap();
        assert_eq!(o.secret.expose(), b"pw");
        assert_eq!(
            open(&sk, &s.envelope, b"other").unwrap_err(),
            OpenError::Decrypt
        );
        let other = SessionKey::from_bytes([2; 32]);
        assert_eq!(
            open(&other, &s.envelope, b"bound").unwrap_err(),
            OpenError::NotAddressed
        );
        assert_eq!(
            seal(&[&sk, &sk], b"pw", b"").unwrap_err(),
            crate::SealError::DuplicateRecipient
        );
    }
}
