#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-service's state layer. Every behaviour test is one body over
//! `&dyn Store`, run against both the [`MemoryStore`] and a [`SqliteStore`] file.
//!
//! [`MemoryStore`]: pta_service::MemoryStore
//! [`SqliteStore`]: pta_service::SqliteStore

mod agents;
mod audit;
mod migrations;
mod registration;
mod restart;
mod secrets;
mod support;
mod tokens;
