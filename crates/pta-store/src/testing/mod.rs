//! The conformance suite: one test body per behaviour of the [`Store`] contract, written once
//! and run by every backend's tests (feature `testing`).
//!
//! A backend's test crate calls each body with a fresh, empty store:
//!
//! ```ignore
//! #[tokio::test]
//! async fn registry() {
//!     pta_store::testing::registry(&MyStore::open_empty().await).await;
//! }
//! ```
//!
//! The bodies that race (`*_race`) take several handles on **one** state, as several nodes
//! would hold them (separate connections or pools to one database; one `Arc` cloned for an
//! in-process store), and need a multi-threaded tokio runtime. Every body panics with a message
//! on the first broken guarantee: that is its job, so this module is exempt from the crate's
//! no-panic rule.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agents;
mod audit;
mod authority;
mod changes;
mod leases;
mod tokens;

pub use agents::{limit_race, registry, status_over_time};
pub use audit::log;
pub use authority::{crl_numbers, crl_numbers_race, service_authority_race, tenants};
pub use changes::{change_feed, change_feed_race, change_signal};
pub use leases::{lease_race, leases};
pub use tokens::{consume_race, lifecycle};

use std::net::IpAddr;
use std::sync::Arc;

use crate::{AgentId, AgentRecord, Authority, CaKey, Store, Tenant, TenantId};

/// A fixed start time, Unix ms.
pub const T0: u64 = 1_700_000_000_000;
/// A minute, ms.
pub const MIN: u64 = 60_000;
/// A day, ms.
pub const DAY: u64 = 24 * 60 * MIN;

/// An IP address from its text form.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A stand-in authority (opaque bytes: stores do not parse them) tagged with `tag`.
pub fn authority(tag: &str) -> Authority {
    Authority::new(
        format!("CERT {tag}").into_bytes(),
        CaKey::new(format!("KEY {tag}").into_bytes()),
    )
}

/// Creates a tenant named `name` at `now`.
pub async fn tenant(store: &dyn Store, name: &str, now: u64) -> Tenant {
    let t = Tenant::new(TenantId::random().unwrap(), name, now);
    store.create_tenant(&t, &authority(name)).await.unwrap();
    t
}

/// An agent record for `tenant`, with a serial and key made from `n`.
pub fn agent(tenant: TenantId, n: u8, now: u64) -> AgentRecord {
    AgentRecord::new(
        AgentId::random().unwrap(),
        tenant,
        vec![0x01, n],
        format!("spki-{n}").into_bytes(),
        now,
    )
}

/// The `i`-th of `stores`, round robin.
fn handle(stores: &[Arc<dyn Store>], i: usize) -> Arc<dyn Store> {
    assert!(!stores.is_empty(), "a race needs at least one store handle");
    Arc::clone(&stores[i % stores.len()])
}
