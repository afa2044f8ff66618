//! The settings of a running service.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pta_cert::KeySize;

use crate::{AuditRetention, Registrar, StatusPolicy};

/// Settings of the running service.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceOptions {
    /// Where the agent listener binds (default 127.0.0.1:0).
    pub agent_listen: SocketAddr,
    /// `host:port` addresses agents are told to connect to (default: the bound listener).
    pub agent_endpoints: Vec<String>,
    /// DNS names and IP addresses in the service's TLS certificate (default `localhost`,
    /// `127.0.0.1`).
    pub server_names: Vec<String>,
    /// Sign-in deadline (default 10 s).
    pub sign_in_deadline: Duration,
    /// Most requests outstanding on one agent connection (default 256).
    pub max_in_flight_per_agent: u32,
    /// Session settings (frame size, in-flight cap, heartbeats; its `handshake_timeout_ms`,
    /// default 10 s, bounds TLS handshake, registry check and `Hello` together).
    pub wire: pta_wire::ServiceConfig,
    /// Agent status policy.
    pub status: StatusPolicy,
    /// Audit retention.
    pub audit_retention: AuditRetention,
    /// Registration settings.
    pub registrar: Registrar,
    /// Key size of the service CA (created at the first start) and of the service's TLS server
    /// key (RSA-3072 by default; 2048 for tests).
    pub service_key_size: KeySize,
    /// How often the store's change feed is read for revocations and tenants made by other
    /// processes even without a wake-up from the store's change signal (default 1 s). The
    /// signal (PostgreSQL `LISTEN`/`NOTIFY`, or the store's own writes) usually comes first;
    /// this poll is the safety net, and what catches another process writing an SQLite file.
    /// A poll that finds nothing costs one query.
    pub store_poll_interval: Duration,
    /// How often [`Service::sweep`](crate::Service::sweep) runs (default 30 s), on the one
    /// node holding the sweep's lease (its time to live: three intervals).
    pub sweep_interval: Duration,
    /// How often audit events are pruned per [`audit_retention`](Self::audit_retention), and
    /// expired registration tokens deleted (default 1 h), on the one node holding the pruning
    /// lease (its time to live: three intervals).
    pub audit_prune_interval: Duration,
    /// Capacity of the audit queue; events beyond it are dropped and counted (default 65 536).
    pub audit_queue: usize,
    /// Heartbeats write an agent's last-seen record at most this often (default 30 s); the
    /// connection itself always writes it.
    pub seen_write_interval: Duration,
    /// Smart-lockout policy of the in-memory lockout store (default
    /// [`pta_lockout::Policy::default`]: 10 counted failures). Ignored when
    /// [`lockout_store`](Self::lockout_store) is set: that store applies its own policy.
    pub lockout: pta_lockout::Policy,
    /// Where lockout state lives. `None` (the default): an in-memory
    /// [`pta_lockout::MemoryStore`] with the [`lockout`](Self::lockout) policy, which this node
    /// alone sees and a restart forgets. Several nodes must share one store.
    pub lockout_store: Option<Arc<dyn pta_lockout::LockoutStore>>,
    /// The secret that keys lockout's user keys and password tags. Every node sharing a
    /// lockout store must hold the same one (read it from a file). `None` (the default): a
    /// random secret is generated at start, with a warning in the log; fine for one node
    /// with the in-memory store, wrong for several.
    pub lockout_secret: Option<Arc<pta_lockout::LockoutSecret>>,
    /// A file that keeps the in-memory lockout state across a restart (default `None`: a
    /// restart forgets every lock and counter). Written every
    /// [`lockout_snapshot_interval`](Self::lockout_snapshot_interval) and at shutdown, read at
    /// start; mode 0600. Only useful with a [`lockout_secret`](Self::lockout_secret) that
    /// survives the restart too. A shared [`lockout_store`](Self::lockout_store) keeps its own
    /// state and is not written here.
    pub lockout_snapshot: Option<PathBuf>,
    /// How often the lockout snapshot is written (default 10 s): at most this much lockout
    /// state is lost when the process dies without shutting down.
    pub lockout_snapshot_interval: Duration,
    /// Per-tenant lockout policies, by tenant name, for the in-memory default: each named
    /// tenant gets its own [`pta_lockout::MemoryStore`] with that policy (the others share the
    /// one of [`lockout`](Self::lockout)). Only with [`lockout_store`](Self::lockout_store)
    /// `None`: a shared store is given per tenant in
    /// [`lockout_tenant_stores`](Self::lockout_tenant_stores) instead, and a policy here
    /// beside a shared store fails [`Service::start`](crate::Service::start).
    pub lockout_tenant_policies: HashMap<String, pta_lockout::Policy>,
    /// Per-tenant lockout stores, by tenant name (for example one Redis store per tenant with
    /// its own key prefix and policy). A tenant named here is checked, recorded, shown and
    /// unlocked in its store; the others in the default one. Wins over
    /// [`lockout_tenant_policies`](Self::lockout_tenant_policies) for the same name. Spray
    /// blocking (per source address) counts within each store: an address is blocked in
    /// the stores where it sprayed, and unblocking a source unblocks it in every store.
    pub lockout_tenant_stores: HashMap<String, Arc<dyn pta_lockout::LockoutStore>>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            agent_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            agent_endpoints: Vec::new(),
            server_names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            sign_in_deadline: Duration::from_secs(10),
            max_in_flight_per_agent: 256,
            wire: pta_wire::ServiceConfig::default(),
            status: StatusPolicy::default(),
            audit_retention: AuditRetention::default(),
            registrar: Registrar::default(),
            service_key_size: KeySize::Rsa3072,
            store_poll_interval: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(30),
            audit_prune_interval: Duration::from_secs(3600),
            audit_queue: 65_536,
            seen_write_interval: Duration::from_secs(30),
            lockout: pta_lockout::Policy::default(),
            lockout_store: None,
            lockout_secret: None,
            lockout_snapshot: None,
            lockout_snapshot_interval: Duration::from_secs(10),
            lockout_tenant_policies: HashMap::new(),
            lockout_tenant_stores: HashMap::new(),
        }
    }
}
