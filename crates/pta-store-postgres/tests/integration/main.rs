#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-store-postgres against a real PostgreSQL (pta-testkit's
//! fixture): the conformance suite of `pta_store::testing`, then what only a shared database
//! shows (migrations, reconnecting, connect errors).

mod conformance;
mod connect;
mod feed;
mod support;
