//! The crate's one error type: the cause inside [`StoreError::Backend`](pta_store::StoreError).

/// Why the PostgreSQL backend failed. Every [`Store`](pta_store::Store) call and
/// [`PostgresStore::connect`](crate::PostgresStore::connect) report it as the source of a
/// [`StoreError::Backend`](pta_store::StoreError::Backend); no message carries the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PostgresError {
    /// The first connection to the server failed (refused, timed out, authentication failed,
    /// unknown database).
    ///
    /// Check that the server runs at `endpoint`, that it accepts this role from this host
    /// (`pg_hba.conf`), and the role's password; then start again.
    #[error("cannot connect to PostgreSQL at {endpoint}")]
    Connect {
        /// `host:port` (or the socket directory) tried, without the role or password.
        endpoint: String,
        /// The driver's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// No pooled connection could be had in time (the server went away, or every connection
    /// is busy).
    ///
    /// Treat as a temporary failure and retry; if it lasts, check the server and raise
    /// `pool_size`.
    #[error("no PostgreSQL connection available")]
    Pool(#[source] deadpool_postgres::PoolError),
    /// A statement or transaction failed (lost connection, serialization failure, a server
    /// error).
    ///
    /// The transaction was rolled back: treat as a temporary failure and retry.
    #[error("PostgreSQL statement failed")]
    Query(#[source] tokio_postgres::Error),
}
