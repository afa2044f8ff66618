//! The per-tenant agent limit, checked before a registration spends a token.

use crate::{ServiceError, Store, TenantId};

/// Checks that `tenant` may register one more agent; returns how many it has (counting toward
/// the limit).
///
/// Registration calls this before it consumes the token, so a tenant at its limit does not
/// burn tokens; [`Store::insert_agent`] checks again in its own transaction, which is what
/// holds against concurrent registrations.
///
/// # Errors
///
/// [`ServiceError::AgentLimitReached`], [`ServiceError::UnknownTenant`], or the store's error.
pub async fn check_agent_limit(store: &dyn Store, tenant: &TenantId) -> Result<u32, ServiceError> {
    let limit = store
        .tenant(tenant)
        .await?
        .ok_or(ServiceError::UnknownTenant)?
        .agent_limit;
    let count = store.agent_count(tenant).await?;
    if count >= limit {
        return Err(ServiceError::AgentLimitReached { limit });
    }
    Ok(count)
}
