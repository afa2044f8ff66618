//! What goes into a check (an [`Attempt`]), what comes out ([`Decision`]), and what is recorded
//! afterwards ([`Outcome`]).

use crate::{Location, PasswordTag, Source, UserKey};

/// One sign-in attempt, as the lockout policy sees it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Attempt {
    /// The account, from [`LockoutSecret::user_key`](crate::LockoutSecret::user_key).
    pub user: UserKey,
    /// Where the attempt comes from, for spray detection.
    pub source: Source,
    /// The attempt's location, for familiar / unfamiliar counting.
    pub location: Location,
    /// The tried password's tag, from
    /// [`LockoutSecret::password_tag`](crate::LockoutSecret::password_tag).
    pub password: PasswordTag,
}

impl Attempt {
    /// Bundles the four keys of an attempt.
    #[must_use]
    pub const fn new(
        user: UserKey,
        source: Source,
        location: Location,
        password: PasswordTag,
    ) -> Self {
        Self {
            user,
            source,
            location,
            password,
        }
    }
}

/// Whether an attempt may go on to an agent and the directory.
///
/// Only [`Decision::Allow`] lets it through. Every other answer is given without touching an
/// agent or the directory, and should not be followed by a `record` call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
#[must_use]
pub enum Decision {
    /// Go ahead: send the attempt to the directory, then `record` its outcome.
    Allow,
    /// The account is locked for attempts from this kind of location (familiar or unfamiliar)
    /// until `until` (milliseconds, same epoch as `now`; the first instant at which it is no
    /// longer locked). Answer "account locked, try later"; the on-prem account is untouched.
    Locked {
        /// First instant, in milliseconds, at which the lock no longer applies.
        until: u64,
    },
    /// The source has failed against too many distinct accounts (password spray) and is
    /// refused until `until`. Answer as for a lockout; other sources are unaffected.
    SourceBlocked {
        /// First instant, in milliseconds, at which the block no longer applies.
        until: u64,
    },
    /// This password failed for this account moments ago. Answer "invalid credentials" without
    /// asking the directory again, so a device retrying a stale password cannot lock the
    /// on-prem account.
    RepeatRejected,
}

impl Decision {
    /// Whether the attempt may proceed to the directory.
    #[must_use]
    pub const fn is_allow(self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// What the directory made of an allowed attempt, fed back with `record`.
///
/// Only [`Outcome::InvalidCredentials`] counts toward lockout and spray detection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The password was right. Also use this for verdicts that prove the password right while
    /// refusing the sign-in (password expired, must change password): the user knows it.
    Success,
    /// The directory said the credentials are wrong (wrong password or unknown user).
    InvalidCredentials,
    /// No verdict about the password: directory, agent or network failure, timeout, or an
    /// account-state verdict reached without checking the password (disabled, expired, locked
    /// on-prem). Never counts and changes nothing.
    Failure,
}
