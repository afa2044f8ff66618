//! The join token (PROTOCOL.md section 13.1): `pta1.<token>.<ca-sha256>`.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::TokenError;
use crate::secret::SecretString;

/// A parsed join token. The printed form is the secret sent to the service; the pin is the
/// SHA-256 of the service CA certificate. `Debug` shows only the pin.
#[derive(Clone)]
pub struct JoinToken {
    printed: SecretString,
    pin: [u8; 32],
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinToken")
            .field("secret", &"[redacted]")
            .field("pin", &hex(&self.pin))
            .finish()
    }
}

impl JoinToken {
    /// Parses the printed token. Surrounding whitespace (a trailing newline from a file or
    /// stdin) is ignored.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] naming the part that is wrong. The error never contains the token.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let text = text.trim();
        let mut parts = text.split('.');
        let (Some(version), Some(secret), Some(pin), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Shape);
        };
        if version != "pta1" {
            return Err(TokenError::Version);
        }
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        match Base64UrlUnpadded::decode(secret, raw.as_mut()) {
            Ok(decoded) if secret.len() == 43 && decoded.len() == 32 => {}
            _ => return Err(TokenError::Secret),
        }
        let pin = parse_hex32(pin).ok_or(TokenError::Pin)?;
        Ok(Self {
            printed: SecretString::new(text),
            pin,
        })
    }

    /// The printed token, as sent to the service.
    pub fn expose(&self) -> &str {
        self.printed.expose()
    }

    /// SHA-256 of the service CA certificate's DER.
    pub fn pin(&self) -> &[u8; 32] {
        &self.pin
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let (hi, lo) = (digit(*chunk.first()?)?, digit(*chunk.get(1)?)?);
        *out.get_mut(i)? = hi << 4 | lo;
    }
    Some(out)
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const PIN: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn parses_a_good_token() {
        let t = JoinToken::parse(&format!("pta1.{SECRET}.{PIN}\n")).unwrap();
        assert_eq!(t.pin()[1], 0x11);
        assert_eq!(t.expose(), format!("pta1.{SECRET}.{PIN}"));
        assert!(!format!("{t:?}").contains(SECRET));
    }

    #[test]
    fn names_the_wrong_part() {
        let cases = [
            (format!("pta1.{SECRET}"), TokenError::Shape),
            (format!("pta1.{SECRET}.{PIN}.x"), TokenError::Shape),
            (format!("pta2.{SECRET}.{PIN}"), TokenError::Version),
            (format!("pta1.{}.{PIN}", &SECRET[1..]), TokenError::Secret),
            (format!("pta1.{SECRET}A.{PIN}"), TokenError::Secret),
            (format!("pta1.{}+.{PIN}", &SECRET[1..]), TokenError::Secret),
            (format!("pta1.{SECRET}.{}", &PIN[1..]), TokenError::Pin),
            (
                format!("pta1.{SECRET}.{}", PIN.to_uppercase()),
                TokenError::Pin,
            ),
        ];
        for (text, want) in cases {
            let err = JoinToken::parse(&text).unwrap_err();
            assert_eq!(err, want, "{text}");
            assert!(!err.to_string().contains(SECRET));
        }
    }
}
