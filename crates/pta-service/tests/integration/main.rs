#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-service. The state layer's tests are one body over `&dyn Store`,
//! run against both the [`MemoryStore`] and a [`SqliteStore`] file; the runtime's (`rt_*`)
//! run a service and test agents over real TLS on 127.0.0.1.
//!
//! [`MemoryStore`]: pta_service::MemoryStore
//! [`SqliteStore`]: pta_service::SqliteStore

mod agents;
mod audit;
mod migrations;
mod registration;
mod restart;
mod rt_dispatch;
mod rt_lifecycle;
mod rt_scale;
mod rt_service;
mod rt_support;
mod secrets;
mod support;
mod tokens;
