#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-store-sqlite: the conformance suite of `pta_store::testing`, then
//! what only a file can show (migrations, restarts, what the file holds).

mod conformance;
mod migrations;
mod restart;
mod secrets;
mod support;
