//! Leases: which node runs a job that must run once per cluster.
//!
//! A lease is a named row with a holder and an expiry. [`Store::try_lease`] takes it when it
//! is free or expired, renews it when the caller already holds it, and refuses it otherwise;
//! a node renews on every run of its job (the time to live a few times the job's interval),
//! so a node that dies loses the lease by expiry and one that stops releases it.
//!
//! ```text
//!             try_lease(h, now, ttl)            now >= expires_at
//!   free ---------------------------> held by h -----------------> expired
//!    ^  <--- release_lease(name, h) ----'  ^ |                       |
//!    |                                     | '- try_lease(h): renew  |
//!    '-------------------------------------+-- try_lease(any) -------'
//! ```
//!
//! [`Store::try_lease`]: crate::Store::try_lease

/// The longest a lease holder name may be, in bytes.
pub const MAX_LEASE_HOLDER_LEN: usize = 128;

/// Checks a lease name and holder (non-empty, at most [`MAX_LEASE_HOLDER_LEN`] bytes), and
/// returns the expiry of a lease taken at `now` for `ttl_ms`.
///
/// # Errors
///
/// [`StoreError::InvalidConfig`](crate::StoreError::InvalidConfig) for an empty or too long
/// name or holder, or a zero `ttl_ms`; [`StoreError::OutOfRange`](crate::StoreError::OutOfRange)
/// when the expiry does not fit the store's range.
pub fn lease_expiry(
    name: &str,
    holder: &str,
    now: u64,
    ttl_ms: u64,
) -> Result<u64, crate::StoreError> {
    for (value, field) in [(name, "lease name"), (holder, "lease holder")] {
        if value.is_empty() || value.len() > MAX_LEASE_HOLDER_LEN {
            return Err(crate::StoreError::InvalidConfig { field });
        }
    }
    if ttl_ms == 0 {
        return Err(crate::StoreError::InvalidConfig { field: "lease ttl" });
    }
    now.checked_add(ttl_ms)
        .filter(|e| i64::try_from(*e).is_ok())
        .ok_or(crate::StoreError::OutOfRange {
            field: "lease expiry",
        })
}
