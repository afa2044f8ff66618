/// What the directory said about a login and password.
///
/// A verdict is an answer from the directory; a failure to get one is a
/// [`DirectoryError`](crate::DirectoryError), never a verdict. Only
/// [`Verdict::InvalidCredentials`] should count toward a lockout.
///
/// Except for [`Verdict::InvalidCredentials`] and [`Verdict::AccountLocked`], the account
/// states are reported only when the password was right (that is how Active Directory and the
/// OpenLDAP password-policy overlay behave), so they reveal nothing to someone guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The password is right and the account may sign in.
    Success,
    /// Wrong password, unknown user, or a login that cannot be a user (empty password, NUL,
    /// injection attempt). The same verdict for all of them, by design.
    InvalidCredentials,
    /// The account is locked (by failures or by an administrator).
    AccountLocked,
    /// The password is right but past its maximum age.
    PasswordExpired,
    /// The password is right but must be changed before use (set by an administrator).
    MustChangePassword,
    /// The account is disabled.
    AccountDisabled,
    /// The account is past its expiry date.
    AccountExpired,
    /// The account may not sign in at this time of day.
    LogonHoursRestricted,
    /// The account may not sign in from this workstation.
    WorkstationRestricted,
}

impl Verdict {
    /// Whether the user may sign in.
    pub fn is_success(self) -> bool {
        self == Verdict::Success
    }

    /// Whether the verdict proves the password was right. True for success and for the account
    /// states a directory reports only after checking the password (expired, must change,
    /// disabled, account expired, logon hours, workstation); false for invalid credentials and
    /// for a locked account, which directories report whatever the password.
    pub fn password_was_right(self) -> bool {
        !matches!(self, Verdict::InvalidCredentials | Verdict::AccountLocked)
    }
}

/// Non-fatal information that came with a verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Warnings {
    /// Seconds until the password expires, when the directory said.
    pub seconds_until_expiry: Option<u64>,
    /// Sign-ins left with an expired password (grace logins), when the directory said.
    pub grace_logins_left: Option<u32>,
}

/// The directory entry a login resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MatchedUser {
    /// Distinguished name of the entry.
    pub dn: String,
    /// The user principal name, when the directory has one.
    pub upn: Option<String>,
}

impl MatchedUser {
    /// A matched entry.
    pub fn new(dn: impl Into<String>, upn: Option<String>) -> Self {
        Self { dn: dn.into(), upn }
    }
}

/// The answer to an authentication or a password change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Outcome {
    /// What the directory said.
    pub verdict: Verdict,
    /// The entry the login resolved to, when the backend looked it up (none for an unknown
    /// user, or for a direct UPN bind that needed no search).
    pub user: Option<MatchedUser>,
    /// Password-expiry warnings.
    pub warnings: Warnings,
}

impl Outcome {
    /// An outcome with no matched user and no warnings.
    pub fn new(verdict: Verdict) -> Self {
        Self {
            verdict,
            user: None,
            warnings: Warnings::default(),
        }
    }

    /// The same outcome, naming the matched user.
    pub fn with_user(mut self, user: MatchedUser) -> Self {
        self.user = Some(user);
        self
    }

    /// The same outcome, with warnings.
    pub fn with_warnings(mut self, warnings: Warnings) -> Self {
        self.warnings = warnings;
        self
    }

    /// Invalid credentials, no user.
    pub fn invalid() -> Self {
        Self::new(Verdict::InvalidCredentials)
    }
}
