#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-service. Registration runs one body over `&dyn Store` against
//! both the `MemoryStore` and an SQLite file; the runtime's tests (`rt_*`) run a service and
//! test agents over real TLS on 127.0.0.1. The store's own contract is tested by pta-store's
//! conformance suite, in pta-store, pta-store-sqlite and pta-store-postgres. `rt_cluster`
//! runs two services on one store (PostgreSQL from pta-testkit's fixture, or one SQLite file):
//! the change feed across nodes and the leases of once-per-cluster jobs.

mod registration;
mod rt_cluster;
mod rt_dispatch;
mod rt_lifecycle;
mod rt_lockout;
mod rt_scale;
mod rt_service;
mod rt_support;
mod support;
