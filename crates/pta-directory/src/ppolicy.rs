//! The password-policy response control (draft-behera-ldap-password-policy, OID
//! 1.3.6.1.4.1.42.2.27.8.5.1), which OpenLDAP's ppolicy overlay sends on a bind that asked
//! for it.
//!
//! ```text
//! PasswordPolicyResponseValue ::= SEQUENCE {                       -- 30 len
//!     warning [0] CHOICE {                                          -- a0 len
//!         timeBeforeExpiration [0] INTEGER (0 .. maxInt),           --   80 len int
//!         graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,--   81 len int
//!     error   [1] ENUMERATED { ... } OPTIONAL }                     -- 81 len enum
//! ```

/// OID of the password-policy request and response controls.
#[cfg(feature = "ldap")]
pub(crate) const PPOLICY_OID: &str = "1.3.6.1.4.1.42.2.27.8.5.1";

/// The `error` of a password-policy response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PpolicyError {
    /// 0: the password has expired.
    PasswordExpired,
    /// 1: the account is locked.
    AccountLocked,
    /// 2: the password was reset by an administrator and must be changed.
    ChangeAfterReset,
    /// 3: the user may not change the password.
    PasswordModNotAllowed,
    /// 4: the old password must be supplied.
    MustSupplyOldPassword,
    /// 5: the new password fails the quality check.
    InsufficientPasswordQuality,
    /// 6: the new password is too short.
    PasswordTooShort,
    /// 7: the current password is too young to change.
    PasswordTooYoung,
    /// 8: the new password is in the history.
    PasswordInHistory,
    /// Another value (later drafts add some).
    Other(u32),
}

impl PpolicyError {
    fn from_number(n: u32) -> Self {
        match n {
            0 => Self::PasswordExpired,
            1 => Self::AccountLocked,
            2 => Self::ChangeAfterReset,
            3 => Self::PasswordModNotAllowed,
            4 => Self::MustSupplyOldPassword,
            5 => Self::InsufficientPasswordQuality,
            6 => Self::PasswordTooShort,
            7 => Self::PasswordTooYoung,
            8 => Self::PasswordInHistory,
            n => Self::Other(n),
        }
    }

    fn number(self) -> u32 {
        match self {
            Self::PasswordExpired => 0,
            Self::AccountLocked => 1,
            Self::ChangeAfterReset => 2,
            Self::PasswordModNotAllowed => 3,
            Self::MustSupplyOldPassword => 4,
            Self::InsufficientPasswordQuality => 5,
            Self::PasswordTooShort => 6,
            Self::PasswordTooYoung => 7,
            Self::PasswordInHistory => 8,
            Self::Other(n) => n,
        }
    }
}

/// The `warning` of a password-policy response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PpolicyWarning {
    /// Seconds until the password expires.
    TimeBeforeExpiration(u32),
    /// Binds left with the expired password.
    GraceAuthNsRemaining(u32),
}

/// A decoded password-policy response control value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PpolicyResponse {
    /// The warning, if any.
    pub warning: Option<PpolicyWarning>,
    /// The error, if any.
    pub error: Option<PpolicyError>,
}

/// Why a password-policy control value could not be decoded; `offset` is where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("malformed password-policy control at byte {offset}")]
pub struct PpolicyDecodeError {
    /// Byte offset of the problem.
    pub offset: usize,
}

/// Values longer than this are refused (a real one is at most 15 bytes).
const MAX_LEN: usize = 64;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self) -> PpolicyDecodeError {
        PpolicyDecodeError { offset: self.pos }
    }

    fn byte(&mut self) -> Result<u8, PpolicyDecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| self.err())?;
        self.pos += 1;
        Ok(b)
    }

    /// One tag-length-value; returns the tag and the value.
    fn tlv(&mut self) -> Result<(u8, &'a [u8]), PpolicyDecodeError> {
        let tag = self.byte()?;
        let first = self.byte()?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x81 => usize::from(self.byte()?),
            _ => return Err(self.err()),
        };
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.err())?;
        let value = &self.bytes[self.pos..end];
        self.pos = end;
        Ok((tag, value))
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// A non-negative INTEGER or ENUMERATED of at most 32 bits, minimally encoded.
fn unsigned(value: &[u8], offset: usize) -> Result<u32, PpolicyDecodeError> {
    let err = PpolicyDecodeError { offset };
    match value {
        [] => Err(err),
        [first, ..] if first & 0x80 != 0 => Err(err),
        [0, second, ..] if second & 0x80 == 0 => Err(err),
        v if v.len() > 5 || (v.len() == 5 && v[0] != 0) => Err(err),
        v => Ok(v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))),
    }
}

impl PpolicyResponse {
    /// Decodes a control value. Total: any input gives a value or an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, PpolicyDecodeError> {
        if bytes.len() > MAX_LEN {
            return Err(PpolicyDecodeError { offset: MAX_LEN });
        }
        let mut outer = Reader { bytes, pos: 0 };
        let (tag, body) = outer.tlv()?;
        if tag != 0x30 || !outer.done() {
            return Err(PpolicyDecodeError { offset: 0 });
        }
        let base = bytes.len() - body.len();
        let mut r = Reader {
            bytes: body,
            pos: 0,
        };
        let mut out = PpolicyResponse::default();
        while !r.done() {
            let start = base + r.pos;
            let (tag, value) = r.tlv()?;
            let at = base + r.pos - value.len();
            match tag {
                0xa0 if out.warning.is_none() && out.error.is_none() => {
                    let mut w = Reader {
                        bytes: value,
                        pos: 0,
                    };
                    let (inner, n) = w.tlv()?;
                    if !w.done() {
                        return Err(PpolicyDecodeError { offset: at });
                    }
                    let n = unsigned(n, at + 2)?;
                    out.warning = Some(match inner {
                        0x80 => PpolicyWarning::TimeBeforeExpiration(n),
                        0x81 => PpolicyWarning::GraceAuthNsRemaining(n),
                        _ => return Err(PpolicyDecodeError { offset: at }),
                    });
                }
                0x81 if out.error.is_none() => {
                    out.error = Some(PpolicyError::from_number(unsigned(value, at)?));
                }
                _ => return Err(PpolicyDecodeError { offset: start }),
            }
        }
        Ok(out)
    }

    /// Encodes the control value (DER), the inverse of [`PpolicyResponse::decode`].
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut body = Vec::new();
        if let Some(w) = self.warning {
            let (tag, n) = match w {
                PpolicyWarning::TimeBeforeExpiration(n) => (0x80, n),
                PpolicyWarning::GraceAuthNsRemaining(n) => (0x81, n),
            };
            let int = encode_unsigned(n);
            body.extend([0xa0, (int.len() + 2) as u8, tag, int.len() as u8]);
            body.extend(int);
        }
        if let Some(e) = self.error {
            let int = encode_unsigned(e.number());
            body.extend([0x81, int.len() as u8]);
            body.extend(int);
        }
        out.extend([0x30, body.len() as u8]);
        out.extend(body);
    }
}

fn encode_unsigned(n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(3);
    let mut v = bytes[skip..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn values_seen_from_slapd() {
        let none = PpolicyResponse::decode(&[0x30, 0x00]).unwrap();
        assert_eq!(none, PpolicyResponse::default());
        let cases = [
            (0, PpolicyError::PasswordExpired),
            (1, PpolicyError::AccountLocked),
            (2, PpolicyError::ChangeAfterReset),
            (6, PpolicyError::PasswordTooShort),
            (8, PpolicyError::PasswordInHistory),
        ];
        for (n, e) in cases {
            let r = PpolicyResponse::decode(&[0x30, 0x03, 0x81, 0x01, n]).unwrap();
            assert_eq!(r.error, Some(e));
            assert_eq!(r.warning, None);
        }
    }

    #[test]
    fn warnings() {
        // timeBeforeExpiration 86400 (0x015180).
        let r = PpolicyResponse::decode(&[0x30, 0x07, 0xa0, 0x05, 0x80, 0x03, 0x01, 0x51, 0x80])
            .unwrap();
        assert_eq!(
            r.warning,
            Some(PpolicyWarning::TimeBeforeExpiration(86_400))
        );
        let r = PpolicyResponse::decode(&[0x30, 0x05, 0xa0, 0x03, 0x81, 0x01, 0x02]).unwrap();
        assert_eq!(r.warning, Some(PpolicyWarning::GraceAuthNsRemaining(2)));
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x01],
            &[0x31, 0x00],
            &[0x30, 0x00, 0x00],
            &[0x30, 0x03, 0x82, 0x01, 0x00],
            &[0x30, 0x03, 0x81, 0x01, 0x80],
            &[0x30, 0x04, 0x81, 0x02, 0x00, 0x01],
            &[0x30, 0x06, 0x81, 0x01, 0x00, 0x81, 0x01, 0x01],
            &[0x30, 0x84, 0x00, 0x00, 0x00, 0x00],
        ] {
            assert!(PpolicyResponse::decode(bad).is_err(), "{bad:02x?}");
        }
    }

    fn any_response() -> impl Strategy<Value = PpolicyResponse> {
        let warning = prop_oneof![
            Just(None),
            any::<u32>().prop_map(|n| Some(PpolicyWarning::TimeBeforeExpiration(n))),
            any::<u32>().prop_map(|n| Some(PpolicyWarning::GraceAuthNsRemaining(n))),
        ];
        let error = prop_oneof![
            Just(None),
            any::<u32>().prop_map(|n| Some(PpolicyError::from_number(n)))
        ];
        (warning, error).prop_map(|(warning, error)| PpolicyResponse { warning, error })
    }

    proptest! {
        #[test]
        fn round_trip(r in any_response()) {
            let mut buf = Vec::new();
            r.encode(&mut buf);
            prop_assert_eq!(PpolicyResponse::decode(&buf), Ok(r));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = PpolicyResponse::decode(&bytes);
        }
    }
}
