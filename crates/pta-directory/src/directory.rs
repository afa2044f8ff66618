use async_trait::async_trait;

use crate::{DirectoryError, Outcome, Password};

/// A directory that checks passwords.
///
/// # Contract
///
/// An implementation must:
/// - answer a wrong password, an unknown login and an unusable password (empty, containing NUL,
///   see [`Password::is_bindable`]) with the same verdict,
///   [`Verdict::InvalidCredentials`](crate::Verdict::InvalidCredentials), and send nothing to
///   the directory for an unusable password;
/// - return a [`DirectoryError`], never a verdict, when it could not get an answer (server down,
///   timeout, misconfiguration, ambiguous login), so a caller never counts an outage as a bad
///   password;
/// - never log, store or put in an error the password;
/// - be usable concurrently from many tasks (`&self`) and as `dyn Directory`.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Checks `password` for `login` (a UPN, a DN, or another login name the directory is
    /// configured to resolve).
    async fn authenticate(
        &self,
        login: &str,
        password: &Password,
    ) -> Result<Outcome, DirectoryError>;

    /// Changes the password of `login` from `old` to `new`. The verdict says whether `old` was
    /// accepted ([`Verdict::Success`](crate::Verdict::Success) once the change is made); a
    /// refusal of `new` under the directory's policy is
    /// [`DirectoryError::PasswordRejected`].
    async fn change_password(
        &self,
        login: &str,
        old: &Password,
        new: &Password,
    ) -> Result<Outcome, DirectoryError>;
}

/// The part of a login after its last `@`, lower-cased: the UPN suffix that selects a forest.
/// `None` for logins without one (`DOMAIN\user`, a DN).
pub fn upn_suffix(login: &str) -> Option<String> {
    let (name, suffix) = login.rsplit_once('@')?;
    (!name.is_empty() && !suffix.is_empty()).then(|| suffix.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::upn_suffix;

    #[test]
    fn suffixes() {
        assert_eq!(
            upn_suffix("alice@Example.TEST").as_deref(),
            Some("example.test")
        );
        assert_eq!(upn_suffix("a@b@alt.test").as_deref(), Some("alt.test"));
        assert_eq!(upn_suffix("EXAMPLE\\alice"), None);
        assert_eq!(upn_suffix("@example.test"), None);
        assert_eq!(upn_suffix("alice@"), None);
    }
}
