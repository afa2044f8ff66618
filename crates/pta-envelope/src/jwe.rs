//! JWE General JSON Serialization (RFC 7516 section 7.2.1) export and import.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::aead::{TAG_LEN, WRAPPED_LEN};
use crate::envelope::{PROTECTED_B64, jwe_aad};
use crate::recipient::open_with_aad;
use crate::stanza::{RSA_CT_MAX, RSA_CT_MIN};
use crate::{
    DecodeError, DecodeErrorKind, Envelope, Identity, MAX_RECIPIENTS, MAX_SECRET, OpenError,
    Opened, SessionKeyId, Stanza,
};

/// Longest JWE text accepted by [`Jwe::from_json`].
pub const MAX_JWE_LEN: usize = 128 * 1024;

/// The per-recipient header member that marks a session-key grant (an `RSA-OAEP-256`
/// recipient whose plaintext is a session key, under the OAEP label
/// `pta-envelope session key v1`; other JWE implementations skip it).
pub const GRANT_HEADER: &str = "x-pta-grant";

fn b64(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

impl Envelope {
    /// Exports as JWE General JSON Serialization: protected header `{"enc":"A256GCM"}`, one
    /// recipient per stanza (`alg` `RSA-OAEP-256` or `A256GCMKW`, `kid` the base64url key tag
    /// or session key id), and `aad` the binary header followed by `bound`, so that the JWE
    /// associated data equals the envelope's and any JWE library can decrypt it.
    pub fn to_jwe(&self, bound: &[u8]) -> String {
        let recipients: Vec<Value> = self
            .stanzas
            .iter()
            .map(|s| match s {
                Stanza::RsaOaep {
                    key_tag,
                    ciphertext,
                } => json!({
                    "header": {"alg": "RSA-OAEP-256", "kid": b64(key_tag)},
                    "encrypted_key": b64(ciphertext),
                }),
                Stanza::SessionKeyGrant {
                    key_tag,
                    ciphertext,
                } => json!({
                    "header": {"alg": "RSA-OAEP-256", "kid": b64(key_tag), GRANT_HEADER: true},
                    "encrypted_key": b64(ciphertext),
                }),
                Stanza::SessionKey { id, iv, wrapped } => json!({
                    "header": {
                        "alg": "A256GCMKW",
                        "kid": b64(&id.0),
                        "iv": b64(iv.as_ref().unwrap_or(&self.nonce)),
                        "tag": b64(&wrapped[32..]),
                    },
                    "encrypted_key": b64(&wrapped[..32]),
                }),
            })
            .collect();
        let mut member = Vec::new();
        self.encode_header(&mut member);
        member.extend_from_slice(bound);
        let split = self.sealed.len().saturating_sub(TAG_LEN);
        json!({
            "protected": PROTECTED_B64,
            "recipients": recipients,
            "aad": b64(&member),
            "iv": b64(&self.nonce),
            "ciphertext": b64(&self.sealed[..split]),
            "tag": b64(&self.sealed[split..]),
        })
        .to_string()
    }
}

/// An imported JWE: the envelope it carries plus the JWE's own protected header and `aad`,
/// which decide its associated data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jwe {
    protected: String,
    aad: Option<Vec<u8>>,
    envelope: Envelope,
}

#[derive(Deserialize)]
struct JweJson {
    protected: Option<String>,
    unprotected: Option<Map<String, Value>>,
    recipients: Vec<RecipientJson>,
    aad: Option<String>,
    iv: String,
    ciphertext: String,
    tag: String,
}

#[derive(Deserialize)]
struct RecipientJson {
    header: Option<Map<String, Value>>,
    encrypted_key: Option<String>,
}

fn err(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(kind, 0)
}

fn unb64(s: &str) -> Result<Vec<u8>, DecodeError> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| err(DecodeErrorKind::Base64))
}

fn fixed<const N: usize>(v: &[u8]) -> Result<[u8; N], DecodeError> {
    v.try_into().map_err(|_| err(DecodeErrorKind::Json))
}

fn str_member<'a>(h: &'a Map<String, Value>, name: &str) -> Result<&'a str, DecodeError> {
    h.get(name)
        .and_then(Value::as_str)
        .ok_or(err(DecodeErrorKind::Json))
}

impl Jwe {
    /// Parses JWE General JSON Serialization with `enc` `A256GCM` and recipients of `alg`
    /// `RSA-OAEP-256` or `A256GCMKW` (each with a `kid`). Bounded like [`Envelope::decode`]
    /// and by [`MAX_JWE_LEN`].
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] (offset 0) for anything else.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        if text.len() > MAX_JWE_LEN {
            return Err(err(DecodeErrorKind::TooLong));
        }
        let j: JweJson = serde_json::from_str(text).map_err(|_| err(DecodeErrorKind::Json))?;
        if j.recipients.is_empty() || j.recipients.len() > MAX_RECIPIENTS {
            return Err(err(DecodeErrorKind::RecipientCount));
        }
        let protected = j.protected.unwrap_or_default();
        let mut shared: Map<String, Value> = if protected.is_empty() {
            Map::new()
        } else {
            serde_json::from_slice(&unb64(&protected)?).map_err(|_| err(DecodeErrorKind::Json))?
        };
        for (k, v) in j.unprotected.unwrap_or_default() {
            if shared.insert(k, v).is_some() {
                return Err(err(DecodeErrorKind::Json));
            }
        }
        let nonce = fixed::<12>(&unb64(&j.iv)?)?;
        let mut stanzas = Vec::with_capacity(j.recipients.len());
        for r in j.recipients {
            let mut h = shared.clone();
            for (k, v) in r.header.unwrap_or_default() {
                if h.insert(k, v).is_some() {
                    return Err(err(DecodeErrorKind::Json));
                }
            }
            stanzas.push(stanza(
                &h,
                r.encrypted_key.as_deref().unwrap_or(""),
                &nonce,
            )?);
        }
        let mut sealed = unb64(&j.ciphertext)?;
        if sealed.len() > MAX_SECRET {
            return Err(err(DecodeErrorKind::SecretLength));
        }
        sealed.extend_from_slice(&fixed::<TAG_LEN>(&unb64(&j.tag)?)?);
        let aad = j.aad.as_deref().map(unb64).transpose()?;
        Ok(Self {
            protected,
            aad,
            envelope: Envelope {
                nonce,
                stanzas,
                sealed,
            },
        })
    }

    /// The envelope inside.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

fn stanza(h: &Map<String, Value>, ek: &str, nonce: &[u8; 12]) -> Result<Stanza, DecodeError> {
    if h.contains_key("crit") || h.contains_key("zip") || str_member(h, "enc")? != "A256GCM" {
        return Err(err(DecodeErrorKind::Unsupported));
    }
    let ek = unb64(ek)?;
    let kid = fixed::<8>(&unb64(str_member(h, "kid")?)?)?;
    match str_member(h, "alg")? {
        "RSA-OAEP-256" => {
            if !(RSA_CT_MIN..=RSA_CT_MAX).contains(&ek.len()) {
                return Err(err(DecodeErrorKind::RsaLength));
            }
            Ok(match h.get(GRANT_HEADER) {
                Some(Value::Bool(true)) => Stanza::SessionKeyGrant {
                    key_tag: kid,
                    ciphertext: ek,
                },
                None => Stanza::RsaOaep {
                    key_tag: kid,
                    ciphertext: ek,
                },
                Some(_) => return Err(err(DecodeErrorKind::Json)),
            })
        }
        "A256GCMKW" => {
            let iv = fixed::<12>(&unb64(str_member(h, "iv")?)?)?;
            let tag = fixed::<TAG_LEN>(&unb64(str_member(h, "tag")?)?)?;
            let key = fixed::<32>(&ek)?;
            let mut wrapped = [0u8; WRAPPED_LEN];
            wrapped[..32].copy_from_slice(&key);
            wrapped[32..].copy_from_slice(&tag);
            let iv = (&iv != nonce).then_some(iv);
            Ok(Stanza::SessionKey {
                id: SessionKeyId(kid),
                iv,
                wrapped,
            })
        }
        _ => Err(err(DecodeErrorKind::UnknownStanza(0))),
    }
}

/// Opens an imported JWE with `identity`, checking `bound`.
///
/// The JWE's `aad` member must be either the binary header followed by `bound` (a JWE made by
/// [`Envelope::to_jwe`]: every recipient is bound, as in the binary form) or exactly `bound`
/// (a JWE from another implementation: content and bound data are authenticated, but, as
/// RFC 7516 allows, the per-recipient headers are not).
///
/// # Errors
///
/// As [`open`](crate::open).
pub fn open_jwe(identity: &dyn Identity, jwe: &Jwe, bound: &[u8]) -> Result<Opened, OpenError> {
    let mut ours = Vec::new();
    jwe.envelope.encode_header(&mut ours);
    ours.extend_from_slice(bound);
    let member = jwe.aad.as_deref().unwrap_or_default();
    if member != ours.as_slice() && member != bound {
        return Err(OpenError::Decrypt);
    }
    let aad = jwe_aad(&jwe.protected, jwe.aad.as_deref());
    open_with_aad(identity, &jwe.envelope, &aad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionKey, open, seal};

    #[test]
    fn export_import_open() {
        let a = SessionKey::from_bytes([1; 32]);
        let b = SessionKey::from_bytes([2; 32]);
        let s = seal(&[&a, &b], b"secret", b"bound").unwrap();
        let text = s.envelope.to_jwe(b"bound");
        let jwe = Jwe::from_json(&text).unwrap();
        assert_eq!(jwe.envelope(), &s.envelope);
        assert_eq!(
            open_jwe(&b, &jwe, b"bound").unwrap().secret.expose(),
            b"secret"
        );
        assert_eq!(
            open_jwe(&b, &jwe, b"other").unwrap_err(),
            OpenError::Decrypt
        );
        assert_eq!(
            open(&a, jwe.envelope(), b"bound").unwrap().secret.expose(),
            b"secret"
        );
        // Dropping a recipient breaks the binding.
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["recipients"].as_array_mut().unwrap().remove(0);
        let cut = Jwe::from_json(&v.to_string()).unwrap();
        assert_eq!(
            open_jwe(&b, &cut, b"bound").unwrap_err(),
            OpenError::Decrypt
        );
    }

    #[test]
    fn rejects_unsupported_jwe() {
        let s = seal(&[&SessionKey::from_bytes([1; 32])], b"x", b"").unwrap();
        let text = s.envelope.to_jwe(b"");
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["recipients"][0]["header"]["zip"] = json!("DEF");
        assert_eq!(
            Jwe::from_json(&v.to_string()).unwrap_err().kind,
            DecodeErrorKind::Unsupported
        );
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["recipients"][0]["header"]["alg"] = json!("dir");
        assert!(Jwe::from_json(&v.to_string()).is_err());
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["iv"] = json!("!!");
        assert_eq!(
            Jwe::from_json(&v.to_string()).unwrap_err().kind,
            DecodeErrorKind::Base64
        );
        assert_eq!(Jwe::from_json("{").unwrap_err().kind, DecodeErrorKind::Json);
    }
}
