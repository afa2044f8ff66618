//! A bounded pool of connections to one server.

use std::sync::Mutex;
use std::time::Duration;

use ldap3::Ldap;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::conn::Failure;
use crate::DirectoryError;

/// At most `size` connections exist at once (idle or leased); a lease is exclusive, so one
/// connection carries one bind at a time.
pub(crate) struct Pool {
    idle: Mutex<Vec<Ldap>>,
    permits: Semaphore,
}

/// A connection taken from a [`Pool`]; it goes back on drop unless discarded.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    conn: Ldap,
    keep: bool,
    _permit: SemaphorePermit<'a>,
}

impl Pool {
    pub(crate) fn new(size: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Takes an idle live connection, or opens one with `open` when there is none; waits at most
    /// `wait` for a free slot.
    pub(crate) async fn lease<F, Fut>(&self, wait: Duration, open: F) -> Result<Lease<'_>, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Ldap, Failure>>,
    {
        let permit = match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(Failure::Fatal(DirectoryError::Timeout)),
        };
        let idle = self.take_idle();
        let conn = match idle {
            Some(conn) => conn,
            None => open().await?,
        };
        Ok(Lease {
            pool: self,
            conn,
            keep: true,
            _permit: permit,
        })
    }

    fn take_idle(&self) -> Option<Ldap> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut conn) = idle.pop() {
            if !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Drops every idle connection (after the server failed).
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Idle connections (for tests).
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Lease<'_> {
    /// The leased connection.
    pub(crate) fn conn(&mut self) -> &mut Ldap {
        &mut self.conn
    }

    /// Closes the connection instead of returning it (it broke, or its state is unknown).
    pub(crate) fn discard(&mut self) {
        self.keep = false;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.keep {
            let conn = self.conn.clone();
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
        }
    }
}
