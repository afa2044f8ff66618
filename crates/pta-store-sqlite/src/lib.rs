//! The single-node state store of a pass-through authentication service: one SQLite file.
//!
//! [`SqliteStore`] implements [`pta_store::Store`] over one file (WAL, `synchronous = FULL`,
//! `secure_delete`, mode 0600), with schema migrations applied at open and a file from a newer
//! build refused untouched. Several processes may open one file (the service and its offline
//! admin commands): write calls take the file's write lock first, so the store's contract
//! (one consumer per token, the agent limit, increasing CRL numbers) holds across them. It
//! passes the conformance suite of `pta_store::testing`.
//!
//! Calls run on tokio's blocking pool: use the store inside a tokio runtime.
//!
//! ```no_run
//! use std::sync::Arc;
//! use pta_store::Store;
//! use pta_store_sqlite::SqliteStore;
//!
//! # fn demo() -> Result<(), pta_store::StoreError> {
//! let store: Arc<dyn Store> = Arc::new(SqliteStore::open("/var/lib/pta-service/state.db")?);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None. SQLite is compiled in (rusqlite's `bundled` feature).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod schema;
mod sqlite;

pub use sqlite::SqliteStore;
