//! Bearer secrets: the admin token and the front-end API keys, kept only as SHA-256 and
//! compared in constant time.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The SHA-256 of one bearer secret. The secret itself is not kept.
#[derive(Clone)]
struct SecretHash([u8; 32]);

impl SecretHash {
    fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }
}

/// Who may call the API: the admin token and the front-end API keys, each kept only as its
/// SHA-256.
///
/// A request is authenticated by `Authorization: Bearer <secret>`; the presented secret is
/// hashed and compared in constant time with **every** stored hash (no early exit), so
/// timing reveals neither which key matched nor how much of it. With no admin token
/// configured, every admin endpoint answers 401; with no API key, the sign-in endpoint does.
#[derive(Clone, Default)]
pub struct ApiAuth {
    admin: Option<SecretHash>,
    api_keys: Vec<SecretHash>,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAuth")
            .field("admin", &self.admin.as_ref().map(|_| "[redacted]"))
            .field("api_keys", &self.api_keys.len())
            .finish()
    }
}

impl ApiAuth {
    /// Hashes the admin token (if any) and the front-end API keys. The caller keeps (and
    /// zeroizes) the secrets themselves.
    pub fn new<'a>(
        admin_token: Option<&[u8]>,
        api_keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        Self {
            admin: admin_token.map(SecretHash::of),
            api_keys: api_keys.into_iter().map(SecretHash::of).collect(),
        }
    }

    /// Whether an admin token is configured.
    pub fn has_admin_token(&self) -> bool {
        self.admin.is_some()
    }

    /// How many front-end API keys are configured.
    pub fn api_key_count(&self) -> usize {
        self.api_keys.len()
    }

    /// Whether the request carries the admin token.
    pub(crate) fn is_admin(&self, headers: &HeaderMap) -> bool {
        match (&self.admin, bearer(headers)) {
            (Some(admin), Some(presented)) => bool::from(matches(admin, &presented)),
            _ => false,
        }
    }

    /// Whether the request carries one of the front-end API keys.
    pub(crate) fn is_front_end(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = bearer(headers) else {
            return false;
        };
        let mut found = Choice::from(0);
        for key in &self.api_keys {
            found |= matches(key, &presented);
        }
        bool::from(found)
    }
}

fn matches(stored: &SecretHash, presented: &SecretHash) -> Choice {
    stored.0.ct_eq(&presented.0)
}

/// The hash of the bearer secret in `Authorization`, if the header is `Bearer <secret>`
/// (scheme case-insensitive, one header).
fn bearer(headers: &HeaderMap) -> Option<SecretHash> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let secret = rest.trim_ascii();
    if secret.is_empty() {
        return None;
    }
    Some(SecretHash::of(secret))
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};

    use super::ApiAuth;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn admin_and_keys_are_told_apart() {
        let auth = ApiAuth::new(
            Some(b"admin-secret-0123456789".as_slice()),
            [
                b"key-one-0123456789".as_slice(),
                b"key-two-0123456789".as_slice(),
            ],
        );
        assert!(auth.is_admin(&headers("Bearer admin-secret-0123456789")));
        assert!(auth.is_admin(&headers("bearer admin-secret-0123456789")));
        assert!(!auth.is_front_end(&headers("Bearer admin-secret-0123456789")));
        assert!(auth.is_front_end(&headers("Bearer key-two-0123456789")));
        assert!(auth.is_front_end(&headers("Bearer key-one-0123456789")));
        assert!(!auth.is_admin(&headers("Bearer key-one-0123456789")));
        assert!(!auth.is_front_end(&headers("Bearer key-one-012345678")));
        assert!(!auth.is_front_end(&headers("Basic key-one-0123456789")));
        assert!(!auth.is_front_end(&headers("Bearer ")));
        assert!(!auth.is_front_end(&HeaderMap::new()));
        let mut two = headers("Bearer key-one-0123456789");
        two.append(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(!auth.is_front_end(&two));
    }

    #[test]
    fn nothing_configured_admits_nobody_and_debug_hides_hashes() {
        let auth = ApiAuth::new(None, []);
        assert!(!auth.is_admin(&headers("Bearer anything")));
        assert!(!auth.is_front_end(&headers("Bearer anything")));
        let auth = ApiAuth::new(Some(b"s3cret-admin-token".as_slice()), []);
        let debug = format!("{auth:?}");
        assert!(
            debug.contains("[redacted]") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
