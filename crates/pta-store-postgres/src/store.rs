//! The PostgreSQL store: a pool of connections, one transaction per call.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::error::PostgresError;
use crate::listen::{self, ListenerGuard};
use crate::schema;
use pta_store::{
    AgentId, AgentRecord, AgentSeen, AgentStatus, AuditEvent, AuditKind, AuditOutcome, AuditQuery,
    Authority, CaKey, Change, ChangeKind, ChangeNotifier, ChangeSignal, Revocation,
    RevocationReason, Store, StoreError, Tenant, TenantId, TokenError, TokenHash, TokenRecord,
    lease_expiry,
};

/// How to reach the database.
///
/// `url` is a libpq-style URL or key-value string
/// (`postgres://role:password@host:port/database`); keep it out of logs, it holds the
/// password. Nothing of it appears in this crate's errors but `host:port`.
#[derive(Clone)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The connection string, with the password.
    pub url: String,
    /// Connections kept by this node's pool (default 16).
    pub pool_size: usize,
    /// How long opening a connection, or waiting for a free one, may take (default 5 s).
    pub connect_timeout: Duration,
}

impl PostgresConfig {
    /// A configuration for `url` with the default pool size and timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &"[redacted]")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// State in a PostgreSQL database shared by every service node.
///
/// [`connect`](Self::connect) opens a pool, makes one connection (failing with the server's
/// `host:port`, never the password) and brings the schema to
/// [`SCHEMA_VERSION`](Self::SCHEMA_VERSION) in one transaction under an advisory lock, so
/// nodes starting at once migrate once; a database of a newer build is refused untouched
/// ([`StoreError::SchemaTooNew`]).
///
/// Every [`Store`] call is one statement or one transaction on a pooled connection
/// (READ COMMITTED). The contract holds across nodes because the database does the checking:
///
/// - `consume_token` locks the token's row (`SELECT ... FOR UPDATE`) before checking it and
///   marks it with `UPDATE ... WHERE used_at IS NULL`: of concurrent consumers, one succeeds;
/// - `insert_agent` locks the tenant's row (`FOR UPDATE`) before counting its agents, so
///   registrations of one tenant are serialised and cannot pass the limit;
/// - `next_crl_number` is `UPDATE ... SET crl_number = crl_number + 1 RETURNING`;
/// - `init_service_authority` is `INSERT ... ON CONFLICT DO NOTHING`, then a read;
/// - `try_lease` is one `INSERT ... ON CONFLICT DO UPDATE ... WHERE` (expired, or the same
///   holder) `RETURNING`: of concurrent callers one gets the row.
///
/// # Change feed and signal
///
/// `create_tenant` and `add_revocation` (when it adds a row) append to `changes` in their
/// transaction, and `NOTIFY pta_changes` (delivered at commit). The `seq` comes from the one
/// row of `change_counter` (`UPDATE ... SET seq = seq + 1 RETURNING seq`), not from a
/// sequence: a sequence hands out numbers at insert time, so a transaction holding 5 could
/// commit after one holding 6, and a reader that saw 6 would move its cursor past 5 for good.
/// The counter row stays locked until the writer commits, so the next writer gets its number
/// only after the previous one committed: `seq` order is commit order, and a reader that sees
/// `n` sees everything below it. (The counter is updated last in each transaction, so the lock
/// is held only for the commit.)
///
/// [`change_signal`](Store::change_signal) is fired by a background task holding one
/// dedicated connection (outside the pool) that `LISTEN`s on `pta_changes`; it reconnects with
/// backoff (100 ms to 10 s) and fires after each reconnect, as changes may have been missed.
/// The task ends when the last clone of the store is dropped.
///
/// Connections are made without TLS (`NoTls`): run the database on the same host or a private
/// network. TLS to the database is future work.
///
/// # Schema (version 2)
///
/// The tables and columns of `pta_store_sqlite::SqliteStore`, in PostgreSQL types (`TEXT`
/// ids, `BIGINT` Unix milliseconds, `BYTEA` blobs), plus an identity column `seq` on
/// `registration_tokens` and `revocations` for their insertion order, the one-row tables
/// `pta_schema (id, version)` and `change_counter (id, seq)`, with `changes.seq` a plain
/// `BIGINT` key taken from the counter. The CA keys are stored **in clear**: give the service its own
/// database role and keep others out of the database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    endpoint: String,
    notifier: ChangeNotifier,
    /// Stops the `LISTEN` task when the last clone goes.
    _listener: std::sync::Arc<ListenerGuard>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// The schema version this build writes (`pta_schema.version`).
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

    /// Connects to the database of `config` and migrates it.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] for a `url` that does not parse or a zero `pool_size`;
    /// [`StoreError::SchemaTooNew`] for a database written by a newer build;
    /// [`StoreError::Backend`] with [`PostgresError::Connect`] (naming `host:port`) if the
    /// server cannot be reached or refuses the role, or with [`PostgresError::Query`] if a
    /// migration fails (the database is then as it was).
    pub async fn connect(config: PostgresConfig) -> Result<Self, StoreError> {
        // The driver's parse error could quote the string: report the field only.
        let mut pg: tokio_postgres::Config = config
            .url
            .parse()
            .map_err(|_| StoreError::InvalidConfig { field: "url" })?;
        if config.pool_size == 0 {
            return Err(StoreError::InvalidConfig { field: "pool_size" });
        }
        pg.connect_timeout(config.connect_timeout);
        let endpoint = endpoint(&pg);
        let listen_config = pg.clone();
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|_| StoreError::InvalidConfig { field: "pool_size" })?;
        let mut client = pool.get().await.map_err(|e| {
            StoreError::Backend(Box::new(PostgresError::Connect {
                endpoint: endpoint.clone(),
                source: Box::new(e),
            }))
        })?;
        schema::migrate(&mut client).await?;
        drop(client);
        let notifier = ChangeNotifier::new();
        let listener = listen::spawn(listen_config, notifier.clone());
        Ok(Self {
            pool,
            endpoint,
            notifier,
            _listener: std::sync::Arc::new(listener),
        })
    }

    /// `host:port` of the database (for logs).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(Box::new(PostgresError::Pool(e))))
    }
}

/// `host:port[, host:port ...]` of a configuration, without role or password.
fn endpoint(pg: &tokio_postgres::Config) -> String {
    let ports = pg.get_ports();
    pg.get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", dir.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wraps a database error.
pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    StoreError::Backend(Box::new(PostgresError::Query(e)))
}

fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// A time or count for storage.
fn to_sql(value: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field })
}

/// A query bound: times beyond the storable range mean "no bound".
fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored time or count.
fn from_sql(value: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt { what })
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(backend)
}

fn parse_id<T: std::str::FromStr>(text: &str, what: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt { what })
}

fn parse_opt<T: std::str::FromStr>(
    text: Option<String>,
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse_id(&t, what)).transpose()
}

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// The rows of `sql`, each through `decode`.
async fn collect<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    decode: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = client.query(sql, params).await.map_err(backend)?;
    rows.iter().map(decode).collect()
}

/// The first row of `sql`, if any, through `decode`.
async fn first<C: GenericClient, T>(
    client: &C,
    sql: &str,
    params: &Params<'_>,
    decode: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let row = client.query_opt(sql, params).await.map_err(backend)?;
    row.as_ref().map(decode).transpose()
}

const TENANT_COLUMNS: &str = "id, name, created_at, agent_limit";

fn tenant_from_row(row: &Row) -> Result<Tenant, StoreError> {
    let id: String = get(row, 0)?;
    let mut tenant = Tenant::new(
        parse_id(&id, "tenant id")?,
        get::<String>(row, 1)?,
        from_sql(get(row, 2)?, "tenant created_at")?,
    );
    tenant.agent_limit = u32::try_from(get::<i64>(row, 3)?).map_err(|_| StoreError::Corrupt {
        what: "agent limit",
    })?;
    Ok(tenant)
}

fn authority_from_row(row: &Row) -> Result<Authority, StoreError> {
    Ok(Authority::new(get(row, 0)?, CaKey::new(get(row, 1)?)))
}

const AGENT_COLUMNS: &str = "id, tenant_id, certificate_serial, public_key, software_version, \
                             first_seen, last_seen, last_source, status";

fn agent_from_row(row: &Row) -> Result<AgentRecord, StoreError> {
    let id: String = get(row, 0)?;
    let tenant: String = get(row, 1)?;
    let mut agent = AgentRecord::new(
        parse_id(&id, "agent id")?,
        parse_id(&tenant, "tenant id")?,
        get(row, 2)?,
        get(row, 3)?,
        from_sql(get(row, 5)?, "agent first_seen")?,
    );
    agent.software_version = get(row, 4)?;
    agent.last_seen = from_sql(get(row, 6)?, "agent last_seen")?;
    agent.last_source = parse_opt::<IpAddr>(get(row, 7)?, "agent source address")?;
    agent.status = AgentStatus::from_code(&get::<String>(row, 8)?)?;
    Ok(agent)
}

const TOKEN_COLUMNS: &str = "hash, tenant_id, created_at, expires_at, used_at";

fn token_from_row(row: &Row) -> Result<TokenRecord, StoreError> {
    let hash: Vec<u8> = get(row, 0)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Corrupt { what: "token hash" })?;
    let tenant: String = get(row, 1)?;
    Ok(TokenRecord {
        hash: TokenHash::from_bytes(hash),
        tenant: parse_id(&tenant, "tenant id")?,
        created_at: from_sql(get(row, 2)?, "token created_at")?,
        expires_at: from_sql(get(row, 3)?, "token expires_at")?,
        used_at: get::<Option<i64>>(row, 4)?
            .map(|t| from_sql(t, "token used_at"))
            .transpose()?,
    })
}

const REVOCATION_COLUMNS: &str = "tenant_id, serial, agent_id, reason, revoked_at";

fn revocation_from_row(row: &Row) -> Result<Revocation, StoreError> {
    let tenant: String = get(row, 0)?;
    let reason = u8::try_from(get::<i64>(row, 3)?).map_err(|_| StoreError::Corrupt {
        what: "revocation reason",
    })?;
    Ok(Revocation::new(
        parse_id(&tenant, "tenant id")?,
        get(row, 1)?,
        parse_opt(get(row, 2)?, "agent id")?,
        RevocationReason::from_code(reason)?,
        from_sql(get(row, 4)?, "revoked_at")?,
    ))
}

const AUDIT_COLUMNS: &str = "time, tenant_id, kind, login, agent_id, outcome, latency_ms, source";

fn audit_from_row(row: &Row) -> Result<AuditEvent, StoreError> {
    let kind = AuditKind::from_code(&get::<String>(row, 2)?)?;
    let outcome = AuditOutcome::from_code(&get::<String>(row, 5)?)?;
    let mut ev = AuditEvent::new(from_sql(get(row, 0)?, "audit time")?, kind, outcome);
    ev.tenant = parse_opt(get(row, 1)?, "tenant id")?;
    ev.login = get(row, 3)?;
    ev.agent = parse_opt(get(row, 4)?, "agent id")?;
    ev.latency_ms = get::<Option<i64>>(row, 6)?
        .map(|l| from_sql(l, "audit latency"))
        .transpose()?;
    ev.source = parse_opt(get(row, 7)?, "audit source address")?;
    Ok(ev)
}

/// Appends `kind` to the change feed and announces it, inside the caller's transaction. Call
/// it last: the counter row stays locked until the commit (see the type's docs).
async fn append_change<C: GenericClient>(client: &C, kind: &ChangeKind) -> Result<(), StoreError> {
    let seq: i64 = client
        .query_one(
            "UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    client
        .execute(
            "INSERT INTO changes (seq, kind, tenant_id, serial, agent_id) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &seq,
                &kind.code(),
                &kind.tenant().to_string(),
                &kind.serial(),
                &kind.agent().map(|a| a.to_string()),
            ],
        )
        .await
        .map_err(backend)?;
    client
        .execute("SELECT pg_notify($1, '')", &[&listen::CHANNEL])
        .await
        .map_err(backend)?;
    Ok(())
}

fn change_from_row(row: &Row) -> Result<Change, StoreError> {
    let seq = from_sql(get(row, 0)?, "change seq")?;
    let code: String = get(row, 1)?;
    let tenant: String = get(row, 2)?;
    let kind = ChangeKind::from_parts(
        &code,
        parse_id(&tenant, "change tenant id")?,
        get(row, 3)?,
        parse_opt(get(row, 4)?, "change agent id")?,
    )?;
    Ok(Change { seq, kind })
}

async fn tenant_exists<C: GenericClient>(client: &C, tenant: &str) -> Result<bool, StoreError> {
    first(
        client,
        "SELECT 1 FROM tenants WHERE id = $1",
        &[&tenant],
        |_| Ok(()),
    )
    .await
    .map(|r| r.is_some())
}

/// Runs an UPDATE of one agent and reports an unknown agent.
async fn update_agent(client: &Object, sql: &str, params: &Params<'_>) -> Result<(), StoreError> {
    let changed = client.execute(sql, params).await.map_err(backend)?;
    if changed == 0 {
        return Err(StoreError::UnknownAgent);
    }
    Ok(())
}

const AGENT_COUNT: &str =
    "SELECT COUNT(*) FROM agents WHERE tenant_id = $1 AND status <> 'revoked'";

#[async_trait]
impl Store for PostgresStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        authority: &Authority,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let result = tx
            .execute(
                "INSERT INTO tenants (id, name, created_at, agent_limit, ca_certificate, ca_key) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &tenant.id.to_string(),
                    &tenant.name,
                    &to_sql(tenant.created_at, "created_at")?,
                    &i64::from(tenant.agent_limit),
                    &authority.certificate,
                    &authority.key.expose(),
                ],
            )
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::TenantExists),
            Err(e) => return Err(backend(e)),
        }
        append_change(&tx, &ChangeKind::TenantCreated { tenant: tenant.id }).await?;
        tx.commit().await.map_err(backend)
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        first(&client, &sql, &[&id.to_string()], tenant_from_row).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1");
        first(&client, &sql, &[&name], tenant_from_row).await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name COLLATE \"C\"");
        collect(&client, &sql, &[], tenant_from_row).await
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), StoreError> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE tenants SET agent_limit = $2 WHERE id = $1",
                &[&tenant.to_string(), &i64::from(limit)],
            )
            .await
            .map_err(backend)?;
        if changed == 0 {
            return Err(StoreError::UnknownTenant);
        }
        Ok(())
    }

    async fn authority(&self, tenant: &TenantId) -> Result<Option<Authority>, StoreError> {
        let client = self.client().await?;
        first(
            &client,
            "SELECT ca_certificate, ca_key FROM tenants WHERE id = $1",
            &[&tenant.to_string()],
            authority_from_row,
        )
        .await
    }

    async fn service_authority(&self) -> Result<Option<Authority>, StoreError> {
        let client = self.client().await?;
        first(
            &client,
            "SELECT ca_certificate, ca_key FROM service_authority WHERE id = 1",
            &[],
            authority_from_row,
        )
        .await
    }

    async fn init_service_authority(&self, authority: &Authority) -> Result<Authority, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        // A concurrent inserter makes this wait for its commit, then do nothing; the read
        // below (a new snapshot under READ COMMITTED) then sees the winner.
        tx.execute(
            "INSERT INTO service_authority (id, ca_certificate, ca_key) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
            &[&authority.certificate, &authority.key.expose()],
        )
        .await
        .map_err(backend)?;
        let stored = first(
            &tx,
            "SELECT ca_certificate, ca_key FROM service_authority WHERE id = 1",
            &[],
            authority_from_row,
        )
        .await?
        .ok_or(StoreError::Corrupt {
            what: "service authority",
        })?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }

    async fn insert_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let tenant = agent.tenant.to_string();
        let id = agent.id.to_string();
        // Locking the tenant's row serialises the registrations of one tenant on every node.
        let limit: i64 = first(
            &tx,
            "SELECT agent_limit FROM tenants WHERE id = $1 FOR UPDATE",
            &[&tenant],
            |row| get(row, 0),
        )
        .await?
        .ok_or(StoreError::UnknownTenant)?;
        if first(
            &tx,
            "SELECT 1 FROM agents WHERE id = $1",
            &[&id],
            |_| Ok(()),
        )
        .await?
        .is_some()
        {
            return Err(StoreError::AgentExists);
        }
        let count: i64 = first(&tx, AGENT_COUNT, &[&tenant], |row| get(row, 0))
            .await?
            .unwrap_or(0);
        if count >= limit {
            return Err(StoreError::AgentLimitReached {
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
            });
        }
        let result = tx
            .execute(
                &format!(
                    "INSERT INTO agents ({AGENT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                &[
                    &id,
                    &tenant,
                    &agent.certificate_serial,
                    &agent.public_key,
                    &agent.software_version,
                    &to_sql(agent.first_seen, "first_seen")?,
                    &to_sql(agent.last_seen, "last_seen")?,
                    &agent.last_source.map(|ip| ip.to_string()),
                    &agent.status.code(),
                ],
            )
            .await;
        match result {
            Ok(_) => tx.commit().await.map_err(backend),
            // The same id registered meanwhile under another tenant.
            Err(e) if is_unique_violation(&e) => Err(StoreError::AgentExists),
            Err(e) => Err(backend(e)),
        }
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1");
        first(&client, &sql, &[&id.to_string()], agent_from_row).await
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE tenant_id = $1 ORDER BY first_seen, id"
        );
        collect(&client, &sql, &[&tenant.to_string()], agent_from_row).await
    }

    async fn agent_count(&self, tenant: &TenantId) -> Result<u32, StoreError> {
        let client = self.client().await?;
        let n: i64 = first(&client, AGENT_COUNT, &[&tenant.to_string()], |row| {
            get(row, 0)
        })
        .await?
        .unwrap_or(0);
        u32::try_from(n).map_err(|_| StoreError::OutOfRange {
            field: "agent count",
        })
    }

    async fn record_seen(&self, id: &AgentId, seen: &AgentSeen) -> Result<(), StoreError> {
        let client = self.client().await?;
        update_agent(
            &client,
            "UPDATE agents SET last_seen = $2, last_source = $3, software_version = $4 \
             WHERE id = $1",
            &[
                &id.to_string(),
                &to_sql(seen.now, "now")?,
                &seen.source.to_string(),
                &seen.software_version,
            ],
        )
        .await
    }

    async fn set_certificate(
        &self,
        id: &AgentId,
        serial: &[u8],
        public_key: &[u8],
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        update_agent(
            &client,
            "UPDATE agents SET certificate_serial = $2, public_key = $3 WHERE id = $1",
            &[&id.to_string(), &serial, &public_key],
        )
        .await
    }

    async fn set_agent_status(&self, id: &AgentId, status: AgentStatus) -> Result<(), StoreError> {
        let client = self.client().await?;
        update_agent(
            &client,
            "UPDATE agents SET status = $2 WHERE id = $1",
            &[&id.to_string(), &status.code()],
        )
        .await
    }

    async fn delete_agent(&self, id: &AgentId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM agents WHERE id = $1", &[&id.to_string()])
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let tenant = token.tenant.to_string();
        if !tenant_exists(&tx, &tenant).await? {
            return Err(StoreError::UnknownTenant);
        }
        let result = tx
            .execute(
                &format!(
                    "INSERT INTO registration_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                ),
                &[
                    &token.hash.as_bytes().as_slice(),
                    &tenant,
                    &to_sql(token.created_at, "created_at")?,
                    &to_sql(token.expires_at, "expires_at")?,
                    &token.used_at.map(|t| to_sql(t, "used_at")).transpose()?,
                ],
            )
            .await;
        match result {
            Ok(_) => tx.commit().await.map_err(backend),
            Err(e) if is_unique_violation(&e) => Err(StoreError::TokenExists),
            Err(e) => Err(backend(e)),
        }
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let client = self.client().await?;
        // An index lookup by SHA-256 of a 256-bit secret, then a constant-time comparison.
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE hash = $1");
        Ok(first(
            &client,
            &sql,
            &[&hash.as_bytes().as_slice()],
            token_from_row,
        )
        .await?
        .filter(|r| r.hash == *hash))
    }

    async fn consume_token(&self, hash: &TokenHash, now: u64) -> Result<TokenRecord, StoreError> {
        let now_sql = to_sql(now, "now")?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let key = hash.as_bytes().as_slice();
        // The row lock makes a concurrent consumer wait for this transaction, then read the
        // row as it left it (used).
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE hash = $1 FOR UPDATE");
        let record = first(&tx, &sql, &[&key], token_from_row)
            .await?
            .filter(|r| r.hash == *hash)
            .ok_or(TokenError::Unknown)?;
        record.check(now)?;
        let changed = tx
            .execute(
                "UPDATE registration_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL",
                &[&key, &now_sql],
            )
            .await
            .map_err(backend)?;
        if changed != 1 {
            return Err(TokenError::AlreadyUsed.into());
        }
        tx.commit().await.map_err(backend)?;
        Ok(record)
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE tenant_id = $1 \
             ORDER BY created_at DESC, seq DESC"
        );
        collect(&client, &sql, &[&tenant.to_string()], token_from_row).await
    }

    async fn prune_tokens(&self, before: u64) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM registration_tokens WHERE expires_at < $1",
                &[&bound(before)],
            )
            .await
            .map_err(backend)
    }

    async fn add_revocation(&self, revocation: &Revocation) -> Result<bool, StoreError> {
        let r = revocation;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let tenant = r.tenant.to_string();
        if !tenant_exists(&tx, &tenant).await? {
            return Err(StoreError::UnknownTenant);
        }
        let agent = r.agent.map(|a| a.to_string());
        let added = tx
            .execute(
                &format!(
                    "INSERT INTO revocations ({REVOCATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id, serial) DO NOTHING"
                ),
                &[
                    &tenant,
                    &r.serial,
                    &agent,
                    &i64::from(r.reason.code()),
                    &to_sql(r.revoked_at, "revoked_at")?,
                ],
            )
            .await
            .map_err(backend)?;
        if added == 0 {
            return Ok(false);
        }
        if let Some(agent) = agent {
            tx.execute(
                "UPDATE agents SET status = 'revoked' WHERE id = $1 AND tenant_id = $2",
                &[&agent, &tenant],
            )
            .await
            .map_err(backend)?;
        }
        append_change(
            &tx,
            &ChangeKind::CertificateRevoked {
                tenant: r.tenant,
                serial: r.serial.clone(),
                agent: r.agent,
            },
        )
        .await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn is_revoked(&self, tenant: &TenantId, serial: &[u8]) -> Result<bool, StoreError> {
        let client = self.client().await?;
        first(
            &client,
            "SELECT 1 FROM revocations WHERE tenant_id = $1 AND serial = $2",
            &[&tenant.to_string(), &serial],
            |_| Ok(()),
        )
        .await
        .map(|r| r.is_some())
    }

    async fn revocations(&self, tenant: &TenantId) -> Result<Vec<Revocation>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {REVOCATION_COLUMNS} FROM revocations WHERE tenant_id = $1 \
             ORDER BY revoked_at, seq"
        );
        collect(&client, &sql, &[&tenant.to_string()], revocation_from_row).await
    }

    async fn next_crl_number(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let n: i64 = first(
            &client,
            "UPDATE tenants SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number",
            &[&tenant.to_string()],
            |row| get(row, 0),
        )
        .await?
        .ok_or(StoreError::UnknownTenant)?;
        from_sql(n, "crl number")
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO audit_events ({AUDIT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .await
            .map_err(backend)?;
        for ev in events {
            tx.execute(
                &stmt,
                &[
                    &to_sql(ev.time, "audit time")?,
                    &ev.tenant.map(|t| t.to_string()),
                    &ev.kind.code(),
                    &ev.login,
                    &ev.agent.map(|a| a.to_string()),
                    &ev.outcome.code(),
                    &ev.latency_ms.map(|l| to_sql(l, "latency")).transpose()?,
                    &ev.source.map(|s| s.to_string()),
                ],
            )
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events \
             WHERE tenant_id = $1 AND time >= $2 AND time < $3 ORDER BY time, id LIMIT $4"
        );
        collect(
            &client,
            &sql,
            &[
                &query.tenant.to_string(),
                &bound(query.from),
                &bound(query.until),
                &i64::from(query.limit),
            ],
            audit_from_row,
        )
        .await
    }

    async fn prune_audit(&self, horizon: u64, max_rows: u64) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let by_age = tx
            .execute(
                "DELETE FROM audit_events WHERE time < $1",
                &[&bound(horizon)],
            )
            .await
            .map_err(backend)?;
        let by_count = tx
            .execute(
                "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
                 ORDER BY time, id LIMIT GREATEST(0, (SELECT COUNT(*) FROM audit_events) - $1))",
                &[&bound(max_rows)],
            )
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(by_age.saturating_add(by_count))
    }

    async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let client = self.client().await?;
        collect(
            &client,
            "SELECT seq, kind, tenant_id, serial, agent_id FROM changes WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
            &[&bound(after), &i64::from(limit)],
            change_from_row,
        )
        .await
    }

    async fn latest_change(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        // The counter, not max(changes.seq): a number is only taken by a writer that commits
        // its change with it (the counter's update rolls back with the transaction).
        let n: i64 = first(
            &client,
            "SELECT seq FROM change_counter WHERE id = 1",
            &[],
            |row| get(row, 0),
        )
        .await?
        .unwrap_or(0);
        from_sql(n, "change seq")
    }

    fn change_signal(&self) -> Option<ChangeSignal> {
        Some(self.notifier.subscribe())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        ttl_ms: u64,
    ) -> Result<bool, StoreError> {
        let expires_at = to_sql(lease_expiry(name, holder, now, ttl_ms)?, "lease expiry")?;
        let now = to_sql(now, "now")?;
        let client = self.client().await?;
        // A concurrent insert of the same new name waits for the first and then takes the
        // DO UPDATE path, whose WHERE sees the winner's row: one caller gets the row back.
        first(
            &client,
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE \
             SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at \
             WHERE leases.expires_at <= $4 OR leases.holder = EXCLUDED.holder \
             RETURNING 1",
            &[&name, &holder, &expires_at, &now],
            |_| Ok(()),
        )
        .await
        .map(|r| r.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM leases WHERE name = $1 AND holder = $2",
                &[&name, &holder],
            )
            .await
            .map(|n| n > 0)
            .map_err(backend)
    }
}
