//! The LDAP / Active Directory backend.

mod backend;
mod config;
mod conn;
mod pool;

pub use backend::LdapDirectory;
pub use config::{Dialect, LdapConfig, LoginResolution, ServiceAccount};
