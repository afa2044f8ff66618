//! Checking passwords against Active Directory and OpenLDAP.
//!
//! The agent's whole job ends in one question to the directory: is this password right for this
//! login? This crate asks it and keeps the two kinds of answer apart:
//!
//! - a [`Verdict`] is what the directory said (success, wrong password, locked, expired, must
//!   change, disabled, ...), with the matched entry and expiry warnings in an [`Outcome`];
//! - a [`DirectoryError`] is a failure to get a verdict (server down, timeout, misconfiguration,
//!   ambiguous login). It is never a verdict and must never count toward a lockout.
//!
//! Backends implement the [`Directory`] trait (usable as `dyn Directory`):
//!
//! - `LdapDirectory`: Active Directory, Samba AD or OpenLDAP over LDAPS or StartTLS with a
//!   pinned CA; several servers with failover and back-off; pooled connections; direct UPN bind
//!   or search-then-bind (RFC 4515 escaping, exactly one match, no referrals) or a bind DN built
//!   from a template (RFC 4514 escaping, one operation, no service account); AD's `data XXX`
//!   sub-codes and OpenLDAP's password-policy control mapped to verdicts; password change
//!   (AD `unicodePwd`, RFC 3062 Password Modify) with typed policy rejections.
//! - `MemoryDirectory`: users from a TOML file with Argon2id hashes and account states, for the
//!   embedded demo and fast tests.
//! - [`SuffixRouter`]: several forests chosen by the login's UPN suffix.
//!
//! What this crate does not do: count failures or lock accounts (that is `pta-lockout`'s job,
//! before the directory is asked), or log anything. No error or `Debug` output contains a
//! password.
//!
//! ```
//! # #[cfg(feature = "memory")]
//! # async fn demo() -> Result<(), pta_directory::DirectoryError> {
//! use pta_directory::{Directory, MemoryDirectory, MemoryUser, Password, Verdict};
//!
//! let hash = MemoryDirectory::hash_password(&Password::new("correct horse"))?;
//! let directory = MemoryDirectory::from_users([MemoryUser::new("alice@example.test", hash)])?;
//!
//! let outcome = directory.authenticate("alice@example.test", &"correct horse".into()).await?;
//! assert_eq!(outcome.verdict, Verdict::Success);
//! // An empty password is never sent anywhere: invalid credentials.
//! let outcome = directory.authenticate("alice@example.test", &"".into()).await?;
//! assert_eq!(outcome.verdict, Verdict::InvalidCredentials);
//! # Ok(())
//! # }
//! # #[cfg(feature = "memory")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Feature flags
//!
//! - `ldap` (default): [`LdapDirectory`], the LDAP / Active Directory backend over ldap3 and
//!   rustls. This backend does network I/O and reads the monotonic clock (timeouts and server
//!   back-off); it needs a tokio runtime.
//! - `memory` (default): the in-memory directory, from a TOML users file with Argon2id hashes.
//!
//! Without features the crate has only the trait, the types and the pure parsers (AD
//! diagnostic sub-codes, the password-policy control, RFC 4515 and RFC 4514 escaping, DN
//! templates).
#![forbid(unsafe_code)]

mod ad;
mod directory;
mod dn;
mod error;
mod filter;
#[cfg(feature = "ldap")]
mod ldap;
#[cfg(feature = "memory")]
mod memory;
mod password;
mod ppolicy;
mod router;
mod verdict;

#[doc(hidden)]
pub mod fuzzing;

pub use ad::{AdCode, ad_data_code, ad_verdict};
pub use directory::{Directory, upn_suffix};
pub use dn::{DnTemplate, LOGIN_PLACEHOLDER, escape_dn_value};
pub use error::{DirectoryError, Misconfiguration, PasswordRejection};
pub use filter::escape_filter_value;
#[cfg(feature = "ldap")]
pub use ldap::{Dialect, LdapConfig, LdapDirectory, LoginResolution, ServiceAccount};
#[cfg(feature = "memory")]
pub use memory::{MemoryDirectory, MemoryUser};
pub use password::Password;
pub use ppolicy::{PpolicyDecodeError, PpolicyError, PpolicyResponse, PpolicyWarning};
pub use router::SuffixRouter;
pub use verdict::{MatchedUser, Outcome, Verdict, Warnings};
