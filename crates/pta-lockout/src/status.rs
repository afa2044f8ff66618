//! Read-only views of an account's or a source's state, for administrators.

use crate::Location;

/// The two location classes, counted and locked separately.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum LocationClass {
    /// A location with a successful sign-in for this account within `familiar_window`.
    Familiar,
    /// Any other location, including [`Location::UNKNOWN`].
    Unfamiliar,
}

/// One location class's counters at some instant.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct ClassStatus {
    /// Counted failures since the last lockout, success, unlock or quiet period.
    pub failures: u8,
    /// Lockouts that still weigh on the next one (it lasts `lockout_duration * 2^level`,
    /// capped). While it is above 0 and no lock runs, one counted failure locks the class.
    pub level: u8,
    /// End of the running lock, in milliseconds, or `None` when not locked.
    pub locked_until: Option<u64>,
}

/// An account's lockout state at some instant, from [`UserRecord::status`] or
/// [`LockoutStore::user_status`].
///
/// [`UserRecord::status`]: crate::UserRecord::status
/// [`LockoutStore::user_status`]: crate::LockoutStore::user_status
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct UserStatus {
    /// Attempts from familiar locations.
    pub familiar: ClassStatus,
    /// Attempts from anywhere else.
    pub unfamiliar: ClassStatus,
    /// Locations that are familiar now.
    pub familiar_locations: Vec<Location>,
    /// Bad passwords remembered (as tags) for repeat detection, at most three.
    pub remembered_bad_passwords: usize,
}

/// A source's spray-detection state at some instant, from
/// [`LockoutStore::source_status`](crate::LockoutStore::source_status).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct SourceStatus {
    /// Distinct accounts this source failed against within the spray window.
    pub distinct_users: usize,
    /// End of the running block, in milliseconds, or `None` when not blocked.
    pub blocked_until: Option<u64>,
}
