//! Integration tests of the fixtures: every matrix user binds with ldap3 and gets exactly the raw
//! outcome the crate documents, over plain LDAP, StartTLS and LDAPS; fixtures leave nothing
//! running.

// Test helpers outside #[test] functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ldap;
mod lifecycle;
mod nats;
mod postgres;
mod redis;
mod samba;
mod slapd;
