use zeroize::Zeroizing;

/// A password: zeroized when dropped, printed as `[redacted]`, never displayed.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Self(Zeroizing::new(password.into()))
    }

    /// The password text, for the one place that sends it to the directory.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a bind may be attempted with this password at all. An empty password would make
    /// many LDAP servers (Windows AD among them) perform an unauthenticated bind that
    /// "succeeds"; a NUL byte is cut short by some servers. Both are invalid credentials without
    /// any request to the directory.
    pub fn is_bindable(&self) -> bool {
        !self.0.is_empty() && !self.0.contains('\0')
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn debug_is_redacted() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "[redacted]");
        assert!(!format!("{:?}", Some(&p)).contains("hunter2"));
    }

    #[test]
    fn empty_and_nul_are_not_bindable() {
        assert!(!Password::new("").is_bindable());
        assert!(!Password::new("a\0b").is_bindable());
        assert!(Password::new("a b").is_bindable());
    }
}
