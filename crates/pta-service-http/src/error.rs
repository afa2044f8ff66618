//! The crate's one error type.

use std::net::SocketAddr;

/// What can go wrong when serving the HTTP listeners.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A listener could not be bound (the address is in use, not local, or needs privileges)
    /// or its bound address could not be read.
    ///
    /// Nothing is served: choose another address or free this one, then start again. The
    /// service passed in is left running; shut it down if giving up.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}
