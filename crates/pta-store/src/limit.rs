//! The per-tenant agent limit, checked before a registration spends a token.

use crate::{Store, StoreError, TenantId};

/// Checks that `tenant` may register one more agent; returns how many it has (counting toward
/// the limit).
///
/// Registration calls this before it consumes the token, so a tenant at its limit does not
/// burn tokens; [`Store::insert_agent`] checks again in its own transaction, which is what
/// holds against concurrent registrations.
///
/// # Errors
///
/// [`StoreError::AgentLimitReached`], [`StoreError::UnknownTenant`], or the store's error.
pub async fn check_agent_limit(store: &dyn Store, tenant: &TenantId) -> Result<u32, StoreError> {
    let limit = store
        .tenant(tenant)
        .await?
        .ok_or(StoreError::UnknownTenant)?
        .agent_limit;
    let count = store.agent_count(tenant).await?;
    if count >= limit {
        return Err(StoreError::AgentLimitReached { limit });
    }
    Ok(count)
}
