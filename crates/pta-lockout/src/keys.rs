//! Keyed identifiers: the deployment secret, user keys and password tags.
//!
//! Both identifiers are truncated HMAC-SHA-256 outputs under one deployment secret, with a
//! distinct label per use. Keying matters for both: an attacker who could compute user keys
//! offline could pick a login name whose key collides with a victim's and lock the victim out
//! by failing on the decoy, and an attacker who could compute password tags could test guesses
//! against a stolen lockout record.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::LockoutError;

const USER_LABEL: &[u8] = b"pta-lockout v1 user\0";
const PASSWORD_LABEL: &[u8] = b"pta-lockout v1 password-tag\0";

/// The deployment secret that keys [`UserKey`] and [`PasswordTag`] derivation.
///
/// Every service node of a deployment must hold the same bytes, or the nodes would not agree on
/// keys and tags. The secret is kept only as the keyed HMAC state (the inner and outer padded-key
/// digests, computed once), which the `zeroize` features of `hmac` and `sha2` wipe on drop.
/// `Debug` prints `[redacted]`; no `Display`, no `Clone`.
pub struct LockoutSecret {
    keyed: Hmac<Sha256>,
}

impl LockoutSecret {
    /// The shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// Takes a copy of `bytes` as the secret.
    ///
    /// # Errors
    ///
    /// [`LockoutError::SecretTooShort`] when `bytes` is shorter than [`Self::MIN_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LockoutError> {
        let too_short = LockoutError::SecretTooShort { len: bytes.len() };
        if bytes.len() < Self::MIN_LEN {
            return Err(too_short);
        }
        // HMAC accepts keys of any length, so the error arm is not reached.
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).map_err(|_| too_short)?;
        Ok(Self { keyed })
    }

    /// The key under which `login` of `tenant` is tracked.
    ///
    /// The inputs are taken as given: normalise the login first (case, UPN versus
    /// `DOMAIN\user`) the same way the directory does, or one account gets several keys and
    /// several failure budgets.
    ///
    /// Keys are 64 bits. Two distinct accounts share a key with probability about
    /// `n² / 2⁶⁵` for `n` tracked accounts (3·10⁻⁸ for a million); such a pair would share one
    /// lockout state. Because the derivation is keyed, an attacker cannot search for a collision.
    #[must_use]
    pub fn user_key(&self, tenant: &str, login: &str) -> UserKey {
        let mut mac = self.mac();
        mac.update(USER_LABEL);
        mac.update(&(tenant.len() as u64).to_le_bytes());
        mac.update(tenant.as_bytes());
        mac.update(login.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        UserKey(u64::from_le_bytes(first))
    }

    /// The tag of `password` as tried against `user`, used to recognise a repeated bad password
    /// without storing the password.
    ///
    /// Tags are HMAC-SHA-256 truncated to 32 bits; why that is enough is explained on
    /// [`PasswordTag`].
    #[must_use]
    pub fn password_tag(&self, user: UserKey, password: &[u8]) -> PasswordTag {
        let mut mac = self.mac();
        mac.update(PASSWORD_LABEL);
        mac.update(&user.0.to_le_bytes());
        mac.update(password);
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 4];
        first.copy_from_slice(&out[..4]);
        PasswordTag(u32::from_le_bytes(first))
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }
}

impl fmt::Debug for LockoutSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockoutSecret([redacted])")
    }
}

/// The key under which one account's lockout state is kept.
///
/// Derive it with [`LockoutSecret::user_key`]. [`UserKey::from_raw`] exists for keys that were
/// already derived elsewhere with a secret (a shared store handing them back), for tests and for
/// benchmarks.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct UserKey(u64);

impl UserKey {
    /// Wraps a key value as is. Values must be unpredictable to attackers (keyed hashes): the
    /// store relies on that for collision resistance and for spreading keys over its shards.
    #[must_use]
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The key's value, for a shared store to persist.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.0
    }
}

/// A truncated keyed hash of one password tried against one user.
///
/// Records keep the tags of the last three bad passwords, never the passwords. Tags are 32 bits
/// so that three of them (with their times) fit a small record; the cost of that truncation is
/// a chance of `3 / 2³²` (about 7·10⁻¹⁰) per attempt that a different password is taken for a
/// remembered bad one. When that happens with repeat rejection on, the attempt is answered
/// "invalid credentials" without reaching the directory (for an attacker, a guess that was not
/// tested; for the real user, one retry); with it off, the attempt reaches the directory but
/// does not count. Tags are keyed, so nobody without the secret can aim for a collision.
///
/// `Debug` prints `[redacted]`; tags are compared with `==` (a check's answer reveals a match
/// anyway, so constant time would hide nothing).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PasswordTag(u32);

impl PasswordTag {
    /// Wraps a tag value as is, for tests, benchmarks and shared stores that persisted
    /// [`PasswordTag::to_raw`].
    #[must_use]
    pub const fn from_raw(raw: u32) -> Self {
        Self(raw)
    }

    /// The tag's value, for a shared store to persist.
    #[must_use]
    pub const fn to_raw(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for PasswordTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordTag([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> LockoutSecret {
        LockoutSecret::from_bytes(&[byte; 32]).unwrap()
    }

    #[test]
    fn keyed_state_is_wiped_on_drop() {
        // `Hmac<Sha256>` holds two SHA-256 cores (the padded-key states) and a block buffer;
        // with the `zeroize` features each wipes itself on drop, which this pins.
        fn wiped_on_drop<T: sha2::digest::zeroize::ZeroizeOnDrop>() {}
        wiped_on_drop::<Sha256>();
        wiped_on_drop::<sha2::block_api::Sha256VarCore>();
    }

    #[test]
    fn short_secret_is_refused() {
        let err = LockoutSecret::from_bytes(&[7; 31]).unwrap_err();
        assert!(matches!(err, LockoutError::SecretTooShort { len: 31 }));
    }

    #[test]
    fn debug_never_shows_secret_or_tag() {
        let s = secret(0x41);
        let shown = format!("{s:?}");
        assert_eq!(shown, "LockoutSecret([redacted])");
        let tag = s.password_tag(UserKey::from_raw(1), b"hunter2");
        assert_eq!(format!("{tag:?}"), "PasswordTag([redacted])");
    }

    #[test]
    fn derivation_is_deterministic_and_keyed() {
        let a = secret(1);
        let b = secret(2);
        assert_eq!(a.user_key("t", "alice"), a.user_key("t", "alice"));
        assert_ne!(a.user_key("t", "alice"), b.user_key("t", "alice"));
        let user = a.user_key("t", "alice");
        assert_eq!(a.password_tag(user, b"pw"), a.password_tag(user, b"pw"));
        assert_ne!(a.password_tag(user, b"pw"), a.password_tag(user, b"pw2"));
        assert_ne!(a.password_tag(user, b"pw"), b.password_tag(user, b"pw"));
    }

    #[test]
    fn tenant_and_login_are_separated() {
        let s = secret(3);
        assert_ne!(s.user_key("ab", "c"), s.user_key("a", "bc"));
        assert_ne!(s.user_key("t1", "alice"), s.user_key("t2", "alice"));
    }

    #[test]
    fn tag_depends_on_user() {
        let s = secret(4);
        let a = s.user_key("t", "alice");
        let b = s.user_key("t", "bob");
        assert_ne!(s.password_tag(a, b"pw"), s.password_tag(b, b"pw"));
    }

    #[test]
    fn matches_hmac_sha256_reference() {
        // The tag is the first four bytes (little endian) of HMAC-SHA-256 over the label, the
        // user key and the password, computed here independently of `password_tag`.
        let key = [9u8; 32];
        let s = LockoutSecret::from_bytes(&key).unwrap();
        let user = UserKey::from_raw(0x0102_0304_0506_0708);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(b"pta-lockout v1 password-tag\0");
        mac.update(&[8, 7, 6, 5, 4, 3, 2, 1]);
        mac.update(b"correct horse");
        let full = mac.finalize().into_bytes();
        let expected = u32::from_le_bytes([full[0], full[1], full[2], full[3]]);
        assert_eq!(s.password_tag(user, b"correct horse").to_raw(), expected);
    }
}
