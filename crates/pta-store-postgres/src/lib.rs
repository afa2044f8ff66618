//! The shared state store of a pass-through authentication service: a PostgreSQL database
//! that several service nodes use at once.
//!
//! [`PostgresStore`] implements [`pta_store::Store`] over a pool of `tokio-postgres`
//! connections (`deadpool-postgres`). [`PostgresStore::connect`] applies the schema
//! migrations in one transaction under an advisory lock (nodes starting together migrate
//! once) and refuses a database of a newer build. Each call is one transaction, and the
//! store's contract (one consumer per token, the agent limit, increasing CRL numbers, one
//! service authority) holds across nodes through row locks and single-statement updates in
//! the database. It passes the conformance suite of `pta_store::testing`, with its races run
//! over three stores on one database.
//!
//! The change feed's `seq` comes from a one-row counter locked until the writer commits, so
//! readers see it in commit order; writers `NOTIFY pta_changes`, and each store keeps one
//! dedicated `LISTEN` connection (a background task that reconnects with backoff and stops
//! when the store is dropped) that fires its
//! [`change_signal`](pta_store::Store::change_signal). Leases are one upsert each.
//!
//! What it does not do: TLS to the database (connections use `NoTls`; keep the database on
//! the host or a private network), create the database or its role, or read a clock.
//!
//! ```no_run
//! use std::sync::Arc;
//! use pta_store::Store;
//! use pta_store_postgres::{PostgresConfig, PostgresStore};
//!
//! # async fn demo() -> Result<(), pta_store::StoreError> {
//! let config = PostgresConfig::new("postgres://pta:secret@127.0.0.1:5432/pta");
//! let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(config).await?);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod listen;
mod schema;
mod store;

pub use error::PostgresError;
pub use store::{PostgresConfig, PostgresStore};
