//! The join token (PROTOCOL.md section 13.1): `pta1.<token>.<ca-sha256>`.

use std::io::Read;
use std::path::PathBuf;

use base64ct::{Base64UrlUnpadded, Encoding};
use zeroize::Zeroizing;

use crate::Error;
use crate::error::TokenError;
use crate::secret::SecretString;

/// Where the join token comes from (`pta-agent register`'s `--token`, `--token-file`, or
/// standard input).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TokenSource {
    /// Given on the command line, where other local users can read it: a warning is logged.
    Argument(SecretString),
    /// A file holding the token (a trailing newline is ignored).
    File(PathBuf),
    /// Standard input, to its end.
    Stdin,
}

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

    /// Reads the token from `source` and parses it. A token given as an argument is warned
    /// about (other local users can see it in the process list).
    ///
    /// # Errors
    ///
    /// [`Error::SecretSource`] when the file or standard input cannot be read,
    /// [`Error::Token`] for a malformed token. The error never contains the token.
    pub fn read(source: TokenSource) -> Result<Self, Error> {
        let text = match source {
            TokenSource::Argument(t) => {
                // The binary's own target: the line reads as it did when the binary logged it.
                tracing::warn!(
                    target: "pta_agent",
                    "the token was given on the command line, where other local users can see it; prefer --token-file or standard input"
                );
                t
            }
            TokenSource::File(path) => SecretString::new(
                std::fs::read_to_string(&path)
                    .map_err(|_| Error::SecretSource(format!("file {}", path.display())))?,
            ),
            TokenSource::Stdin => {
                let mut t = Zeroizing::new(String::new());
                std::io::stdin()
                    .read_to_string(&mut t)
                    .map_err(|_| Error::SecretSource("standard input".into()))?;
                SecretString::new(std::mem::take(&mut *t))
            }
        };
        Ok(Self::parse(text.expose())?)
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
    fn reads_from_an_argument_or_a_file() {
        let text = format!("pta1.{SECRET}.{PIN}");
        let t = JoinToken::read(TokenSource::Argument(SecretString::new(text.clone()))).unwrap();
        assert_eq!(t.expose(), text);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("token");
        std::fs::write(&path, format!("{text}\n")).unwrap();
        assert_eq!(
            JoinToken::read(TokenSource::File(path.clone()))
                .unwrap()
                .expose(),
            text
        );
        std::fs::write(&path, "pta1.short.abc").unwrap();
        assert!(matches!(
            JoinToken::read(TokenSource::File(path)),
            Err(Error::Token(TokenError::Secret))
        ));
        let missing = TokenSource::File(tmp.path().join("missing"));
        assert!(matches!(
            JoinToken::read(missing),
            Err(Error::SecretSource(_))
        ));
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
