//! Registration tokens: the secret, its stored hash, and the printed form that also pins the
//! service's CA certificate.

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{StoreError, TenantId, TokenError, hex};

/// How long a registration token stays usable unless the admin asks otherwise: one hour, in
/// milliseconds.
pub const DEFAULT_TOKEN_LIFETIME_MS: u64 = 60 * 60 * 1_000;

/// Bytes of randomness in a token.
const TOKEN_LEN: usize = 32;

/// The prefix (and format version) of a printed token.
const PRINTED_PREFIX: &str = "pta1";

/// A one-time registration token: 32 random bytes. Zeroized when dropped, printed as
/// `[redacted]` in Debug, never displayed.
///
/// The service keeps only its [`TokenHash`]; the admin hands the agent the printed
/// [`JoinToken`].
#[derive(Clone)]
pub struct RegistrationToken(Zeroizing<[u8; TOKEN_LEN]>);

impl RegistrationToken {
    /// A fresh token from the operating system's random generator.
    ///
    /// # Errors
    ///
    /// [`StoreError::Random`] if the generator fails.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = Zeroizing::new([0u8; TOKEN_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(StoreError::Random)?;
        Ok(Self(bytes))
    }

    /// A token from its 32 bytes (for tests and for the parser).
    pub fn from_bytes(bytes: [u8; TOKEN_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The token's bytes, for the one place that sends them.
    pub fn expose(&self) -> &[u8; TOKEN_LEN] {
        &self.0
    }

    /// The value the service stores and looks tokens up by: SHA-256 of the token's bytes.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_slice()).into())
    }
}

impl fmt::Debug for RegistrationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// SHA-256 of a [`RegistrationToken`]: what the store keeps instead of the token.
///
/// The token is 256 random bits, so its hash needs no salt or slow hash: nobody can find a
/// token from a stolen hash. Equality is constant-time.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// A hash from its stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for TokenHash {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(&self.0))
    }
}

/// SHA-256 of the service's CA certificate (DER), which the agent pins on first contact.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaFingerprint([u8; 32]);

impl CaFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// A fingerprint from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The fingerprint's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `der` is the pinned certificate (constant-time).
    pub fn matches(&self, der: &[u8]) -> bool {
        self.0.ct_eq(&Self::of_certificate(der).0).into()
    }
}

impl fmt::Display for CaFingerprint {
    /// 64 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFingerprint({self})")
    }
}

/// What the admin hands to the agent's installer: the registration token and the SHA-256 of
/// the service's CA certificate, so the agent can pin the service before it sends the token
/// (the kubeadm join pattern).
///
/// # Printed form
///
/// ```text
/// pta1.<token>.<fingerprint>
///
/// pta1         format version, literal
/// <token>      the 32 token bytes, base64url without padding (RFC 4648 section 5): 43 chars
/// <fingerprint> SHA-256 of the service CA certificate's DER, 64 hex digits
/// ```
///
/// 113 characters in all, only `[A-Za-z0-9_.-]`: safe in a shell, a URL or a config file.
/// [`JoinToken::parse`] trims surrounding ASCII whitespace (a pasted newline), accepts hex in
/// either case, and refuses anything else, including a non-canonical base64 ending.
///
/// ```
/// use pta_store::{CaFingerprint, JoinToken, RegistrationToken};
///
/// let join = JoinToken::new(
///     RegistrationToken::from_bytes([7; 32]),
///     CaFingerprint::of_certificate(b"the service CA certificate, DER"),
/// );
/// let printed = join.to_printed();
/// assert!(printed.starts_with("pta1.BwcH"));
/// let back = JoinToken::parse(&printed).unwrap();
/// assert_eq!(back.token().hash(), join.token().hash());
/// assert_eq!(back.ca_fingerprint(), join.ca_fingerprint());
/// ```
#[derive(Clone, Debug)]
pub struct JoinToken {
    token: RegistrationToken,
    ca_fingerprint: CaFingerprint,
}

impl JoinToken {
    /// Pairs a token with the fingerprint of the service CA certificate.
    pub fn new(token: RegistrationToken, ca_fingerprint: CaFingerprint) -> Self {
        Self {
            token,
            ca_fingerprint,
        }
    }

    /// The registration token.
    pub fn token(&self) -> &RegistrationToken {
        &self.token
    }

    /// The pinned CA fingerprint.
    pub fn ca_fingerprint(&self) -> CaFingerprint {
        self.ca_fingerprint
    }

    /// The printed form (see the type's docs). It holds the secret: zeroized when dropped.
    pub fn to_printed(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(113));
        out.push_str(PRINTED_PREFIX);
        out.push('.');
        let mut b64 = Zeroizing::new([0u8; 43]);
        match Base64UrlUnpadded::encode(self.token.expose(), b64.as_mut_slice()) {
            Ok(text) => out.push_str(text),
            // 32 bytes always fit 43 characters.
            Err(_) => return out,
        }
        out.push('.');
        hex::encode_into(self.ca_fingerprint.as_bytes(), &mut out);
        out
    }

    /// Parses the printed form.
    ///
    /// # Errors
    ///
    /// [`TokenError::Malformed`] for anything but `pta1.<43 base64url>.<64 hex>`.
    pub fn parse(printed: &str) -> Result<Self, TokenError> {
        let mut parts = printed.trim_ascii().split('.');
        let (Some(prefix), Some(token), Some(fingerprint), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if prefix != PRINTED_PREFIX || token.len() != 43 {
            return Err(TokenError::Malformed);
        }
        let mut bytes = Zeroizing::new([0u8; TOKEN_LEN]);
        let decoded = Base64UrlUnpadded::decode(token, bytes.as_mut_slice())
            .map_err(|_| TokenError::Malformed)?;
        if decoded.len() != TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let fingerprint = hex::decode::<32>(fingerprint).ok_or(TokenError::Malformed)?;
        Ok(Self {
            token: RegistrationToken(bytes),
            ca_fingerprint: CaFingerprint(fingerprint),
        })
    }
}

/// A registration token as the store keeps it: hashed, with its tenant and lifetime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token; unique.
    pub hash: TokenHash,
    /// The tenant an agent registered with this token joins.
    pub tenant: TenantId,
    /// When the token was created, Unix milliseconds.
    pub created_at: u64,
    /// First instant at which the token is expired, Unix milliseconds.
    pub expires_at: u64,
    /// When the token was consumed, Unix milliseconds; `None` while unused.
    pub used_at: Option<u64>,
}

impl TokenRecord {
    /// The record for a fresh `token` for `tenant`, created at `now`, usable for `lifetime_ms`
    /// (see [`DEFAULT_TOKEN_LIFETIME_MS`]).
    pub fn new(token: &RegistrationToken, tenant: TenantId, now: u64, lifetime_ms: u64) -> Self {
        Self {
            hash: token.hash(),
            tenant,
            created_at: now,
            expires_at: now.saturating_add(lifetime_ms),
            used_at: None,
        }
    }

    /// Whether the token may be consumed at `now` (a used token is refused before an expired
    /// one).
    ///
    /// # Errors
    ///
    /// [`TokenError::AlreadyUsed`] or [`TokenError::Expired`].
    pub fn check(&self, now: u64) -> Result<(), TokenError> {
        if self.used_at.is_some() {
            Err(TokenError::AlreadyUsed)
        } else if now >= self.expires_at {
            Err(TokenError::Expired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{
        CaFingerprint, DEFAULT_TOKEN_LIFETIME_MS, JoinToken, RegistrationToken, TokenRecord,
    };
    use crate::{StoreError, TenantId, TokenError};

    fn join(token: [u8; 32], fp: [u8; 32]) -> JoinToken {
        JoinToken::new(
            RegistrationToken::from_bytes(token),
            CaFingerprint::from_bytes(fp),
        )
    }

    #[test]
    fn printed_form_is_fixed() {
        let printed = join([0; 32], [0xab; 32]).to_printed();
        assert_eq!(
            printed.as_str(),
            format!("pta1.{}.{}", "A".repeat(43), "ab".repeat(32))
        );
        assert_eq!(printed.len(), 113);
    }

    #[test]
    fn malformed_forms_are_refused() {
        let good = join([9; 32], [1; 32]).to_printed().to_string();
        let (_, rest) = good.split_at(5);
        let bad = [
            String::new(),
            "pta1..".into(),
            good.replacen("pta1", "pta2", 1),
            format!("{good}.x"),
            good.replacen('.', ":", 1),
            good[..good.len() - 1].into(),
            format!("{good}0"),
            format!("pta1.{}", &rest[1..]),
            good.replacen('C', "!", 1),
            // Non-canonical base64 ending: the last character carries 2 unused bits.
            {
                let mut s = good.clone();
                assert_eq!(&s[47..48], "k");
                s.replace_range(47..48, "l");
                s
            },
            good.replace("01", "0g"),
        ];
        for b in bad {
            assert_eq!(
                JoinToken::parse(&b).err(),
                Some(TokenError::Malformed),
                "{b}"
            );
        }
        assert!(JoinToken::parse(&format!("  {good}\n")).is_ok());
        let upper_hex = format!("{}{}", &good[..49], good[49..].to_uppercase());
        let parsed = JoinToken::parse(&upper_hex).map(|j| j.ca_fingerprint());
        assert_eq!(parsed.ok(), Some(CaFingerprint::from_bytes([1; 32])));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let j = join([0x5a; 32], [0; 32]);
        let printed = j.to_printed();
        let token_part = &printed[5..48];
        let shown = format!("{j:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains(token_part));
        assert!(!shown.contains("90, 90"));
    }

    #[test]
    fn hash_is_sha256_and_compares() {
        let t = RegistrationToken::from_bytes([0; 32]);
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            crate::hex::encode(t.hash().as_bytes()),
            "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        assert_eq!(t.hash(), RegistrationToken::from_bytes([0; 32]).hash());
        assert_ne!(t.hash(), RegistrationToken::from_bytes([1; 32]).hash());
    }

    #[test]
    fn generated_tokens_differ() -> Result<(), StoreError> {
        let a = RegistrationToken::generate()?;
        let b = RegistrationToken::generate()?;
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.expose(), &[0; 32]);
        Ok(())
    }

    #[test]
    fn fingerprint_matches_only_its_certificate() {
        let fp = CaFingerprint::of_certificate(b"cert");
        assert!(fp.matches(b"cert"));
        assert!(!fp.matches(b"cert2"));
        assert_eq!(fp.to_string().len(), 64);
    }

    #[test]
    fn record_checks_use_then_expiry() {
        let tenant = TenantId::from_bytes([1; 16]);
        let t = RegistrationToken::from_bytes([3; 32]);
        let mut r = TokenRecord::new(&t, tenant, 1_000, DEFAULT_TOKEN_LIFETIME_MS);
        assert_eq!(r.expires_at, 1_000 + 3_600_000);
        assert_eq!(r.check(1_000), Ok(()));
        assert_eq!(r.check(r.expires_at - 1), Ok(()));
        assert_eq!(r.check(r.expires_at), Err(TokenError::Expired));
        r.used_at = Some(2_000);
        assert_eq!(r.check(1_500), Err(TokenError::AlreadyUsed));
        assert_eq!(r.check(r.expires_at), Err(TokenError::AlreadyUsed));
    }

    proptest! {
        #[test]
        fn printed_round_trip(token in any::<[u8; 32]>(), fp in any::<[u8; 32]>()) {
            let j = join(token, fp);
            let printed = j.to_printed();
            prop_assert_eq!(printed.len(), 113);
            prop_assert!(printed.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            let back = JoinToken::parse(&printed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(back.token().expose(), &token);
            prop_assert_eq!(*back.ca_fingerprint().as_bytes(), fp);
            let reprinted = back.to_printed();
            prop_assert_eq!(reprinted.as_str(), printed.as_str());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,130}") {
            let _ = JoinToken::parse(&s);
        }
    }
}
