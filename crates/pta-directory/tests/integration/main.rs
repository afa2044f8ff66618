//! pta-directory against real servers: OpenLDAP and Samba AD started by pta-testkit.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "ldap")]
mod failover;
#[cfg(feature = "memory")]
mod memory_router;
#[cfg(feature = "ldap")]
mod samba;
#[cfg(feature = "ldap")]
mod slapd;

#[cfg(feature = "ldap")]
use pta_directory::Verdict;
#[cfg(feature = "ldap")]
use pta_testkit::Role;

/// The verdict each matrix role must give with its right password.
#[cfg(feature = "ldap")]
pub(crate) fn expected_verdict(role: Role) -> Option<Verdict> {
    Some(match role {
        Role::Good | Role::AlternateLogin | Role::Spare => Verdict::Success,
        Role::AdminLocked | Role::FailureLocked => Verdict::AccountLocked,
        Role::PasswordExpired => Verdict::PasswordExpired,
        Role::MustChange => Verdict::MustChangePassword,
        Role::Disabled => Verdict::AccountDisabled,
        Role::AccountExpired => Verdict::AccountExpired,
        // The service account is not a person.
        _ => return None,
    })
}
