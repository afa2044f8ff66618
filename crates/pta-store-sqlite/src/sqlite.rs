//! The SQLite store: one file, WAL, migrations by `user_version`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, Row, TransactionBehavior, params};

use crate::schema;
use pta_store::{
    AgentId, AgentRecord, AgentSeen, AgentStatus, AuditEvent, AuditKind, AuditOutcome, AuditQuery,
    Authority, CaKey, Change, ChangeKind, ChangeNotifier, ChangeSignal, Revocation,
    RevocationReason, Store, StoreError, Tenant, TenantId, TokenError, TokenHash, TokenRecord,
    lease_expiry,
};

/// How long a call waits for another process holding the file's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// State in one SQLite file: the default for a single service node.
///
/// [`open`](Self::open) creates the file (mode 0600 on Unix) or opens an existing one, turns
/// on WAL, foreign keys, `synchronous = FULL` (a consumed token or a revocation survives a
/// power cut) and `secure_delete` (deleted rows are overwritten), and brings the schema to
/// [`SCHEMA_VERSION`](Self::SCHEMA_VERSION). A file from a newer build is refused untouched
/// ([`StoreError::SchemaTooNew`]).
///
/// Every [`Store`] call runs on tokio's blocking pool (`spawn_blocking`) over one connection
/// behind a mutex, so it never blocks the async runtime; the calls must therefore be made
/// inside a tokio runtime. Write calls take the file's write lock at their start
/// (`BEGIN IMMEDIATE`), so several stores, or processes, on one file stay consistent: of
/// concurrent consumers of one token, exactly one succeeds.
///
/// # Change feed and signal
///
/// `create_tenant` and `add_revocation` (when it adds a row) append to the `changes` table in
/// their transaction. Its `seq` is an `AUTOINCREMENT` rowid assigned while the writer holds
/// the file's write lock, so sequence order is commit order: a reader never sees a `seq`
/// before a smaller one. [`change_signal`](Store::change_signal) fires after writes made
/// through this store or its clones; another store (or process) on the same file does not
/// fire it, so readers keep polling the feed as well.
///
/// # Schema (version 3)
///
/// Times are `INTEGER` Unix milliseconds; ids are lowercase UUID text; all tables are
/// `STRICT`.
///
/// | table | column | type | notes |
/// | --- | --- | --- | --- |
/// | `tenants` | `id` | TEXT | primary key |
/// | | `name` | TEXT | unique |
/// | | `created_at` | INTEGER | |
/// | | `agent_limit` | INTEGER | default 40 when created through [`Tenant::new`] |
/// | | `ca_certificate` | BLOB | opaque (DER or PEM) |
/// | | `ca_key` | BLOB | CA private key, PKCS#8 PEM, **in clear**: protect the file |
/// | | `crl_number` | INTEGER | last CRL number handed out, 0 before the first |
/// | `agents` | `id` | TEXT | primary key |
/// | | `tenant_id` | TEXT | references `tenants`; indexed with `first_seen` |
/// | | `certificate_serial` | BLOB | big-endian serial of the current certificate |
/// | | `public_key` | BLOB | DER `SubjectPublicKeyInfo` |
/// | | `software_version` | TEXT | |
/// | | `first_seen`, `last_seen` | INTEGER | |
/// | | `last_source` | TEXT | IP address, NULL until seen |
/// | | `status` | TEXT | `active`, `inactive` or `revoked` (CHECK) |
/// | `registration_tokens` | `hash` | BLOB | primary key, SHA-256 of the token (32 bytes, CHECK); the token itself is never stored |
/// | | `tenant_id` | TEXT | references `tenants` |
/// | | `created_at`, `expires_at` | INTEGER | expired from `expires_at` on; indexed |
/// | | `used_at` | INTEGER | NULL while unused |
/// | `revocations` | `tenant_id`, `serial` | TEXT, BLOB | primary key; `tenant_id` references `tenants` |
/// | | `agent_id` | TEXT | NULL if unknown; no foreign key (purged agents keep their revocations) |
/// | | `reason` | INTEGER | RFC 5280 `CRLReason` code |
/// | | `revoked_at` | INTEGER | |
/// | `audit_events` | `id` | INTEGER | rowid: append order |
/// | | `time` | INTEGER | indexed with `id`, and with `tenant_id` |
/// | | `tenant_id`, `agent_id` | TEXT | NULL when not applicable; no foreign keys |
/// | | `kind` | TEXT | [`AuditKind::code`] |
/// | | `login` | TEXT | at most 256 bytes |
/// | | `outcome` | TEXT | [`AuditOutcome::code`]: `ok`, `verdict:<code>`, `error:<code>` |
/// | | `latency_ms` | INTEGER | |
/// | | `source` | TEXT | IP address |
/// | `service_authority` | `id` | INTEGER | always 1 (CHECK): one row |
/// | | `ca_certificate`, `ca_key` | BLOB | the service CA; the key **in clear** |
/// | `changes` | `seq` | INTEGER | `AUTOINCREMENT` primary key: feed order |
/// | | `kind` | TEXT | `tenant_created` or `certificate_revoked` (CHECK) |
/// | | `tenant_id` | TEXT | no foreign key |
/// | | `serial`, `agent_id` | BLOB, TEXT | the revocation's, NULL otherwise |
/// | `leases` | `name` | TEXT | primary key |
/// | | `holder`, `expires_at` | TEXT, INTEGER | free again from `expires_at` on |
///
/// No column holds a password or a registration token.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    notifier: ChangeNotifier,
}

impl SqliteStore {
    /// The schema version this build writes (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

    /// Opens or creates the database file at `path` and migrates it.
    ///
    /// This blocks (file I/O, migrations): call it at startup, or inside
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`StoreError::SchemaTooNew`] for a file written by a newer build;
    /// [`StoreError::Backend`] if the file cannot be created or opened, is not an SQLite
    /// database, or a migration fails (the file is then as it was).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let mut conn = Connection::open(&path).map_err(backend)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        schema::check_not_newer(&conn)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(
                format!("could not switch the database to WAL (journal mode {mode})").into(),
            ));
        }
        for (pragma, value) in [
            ("foreign_keys", "ON"),
            ("synchronous", "FULL"),
            ("secure_delete", "ON"),
        ] {
            conn.pragma_update(None, pragma, value).map_err(backend)?;
        }
        schema::migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
            notifier: ChangeNotifier::new(),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection on tokio's blocking pool.
    async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic inside a transaction rolled it back while unwinding: the connection is
            // still good.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(Box::new(e)))?
    }
}

/// Creates the file readable and writable by its owner only, if it does not exist. SQLite
/// gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(Box::new(e))),
    }
}

/// The service authority from a `(ca_certificate, ca_key)` row.
fn service_authority_from_row(row: &Row<'_>) -> Result<Authority, StoreError> {
    let key = row
        .get_ref(1)
        .and_then(|v| Ok(v.as_blob()?.to_vec()))
        .map_err(backend)?;
    Ok(Authority::new(get(row, 0)?, CaKey::new(key)))
}

/// Wraps a database error.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(e: &rusqlite::Error) -> bool {
    const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.code == ErrorCode::ConstraintViolation
                && matches!(
                    err.extended_code,
                    SQLITE_CONSTRAINT_PRIMARYKEY | SQLITE_CONSTRAINT_UNIQUE
                )
    )
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

fn get<T: rusqlite::types::FromSql>(row: &Row<'_>, i: usize) -> Result<T, StoreError> {
    row.get(i).map_err(backend)
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

/// Collects the rows of `stmt` run with `params`, each through `decode`.
fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = stmt.query(params).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// The first row of `sql` run with `params`, through `decode`.
fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = stmt.query(params).map_err(backend)?;
    rows.next().map_err(backend)?.map(decode).transpose()
}

const TENANT_COLUMNS: &str = "id, name, created_at, agent_limit";

fn tenant_from_row(row: &Row<'_>) -> Result<Tenant, StoreError> {
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

const AGENT_COLUMNS: &str = "id, tenant_id, certificate_serial, public_key, software_version, \
                             first_seen, last_seen, last_source, status";

fn agent_from_row(row: &Row<'_>) -> Result<AgentRecord, StoreError> {
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

fn token_from_row(row: &Row<'_>) -> Result<TokenRecord, StoreError> {
    let hash: Vec<u8> = get(row, 0)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| StoreError::Corrupt { what: "token hash" })?;
    let tenant: String = get(row, 1)?;
    let created_at = from_sql(get(row, 2)?, "token created_at")?;
    let mut record = TokenRecord {
        hash: TokenHash::from_bytes(hash),
        tenant: parse_id(&tenant, "tenant id")?,
        created_at,
        expires_at: from_sql(get(row, 3)?, "token expires_at")?,
        used_at: None,
    };
    record.used_at = get::<Option<i64>>(row, 4)?
        .map(|t| from_sql(t, "token used_at"))
        .transpose()?;
    Ok(record)
}

const REVOCATION_COLUMNS: &str = "tenant_id, serial, agent_id, reason, revoked_at";

fn revocation_from_row(row: &Row<'_>) -> Result<Revocation, StoreError> {
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

fn audit_from_row(row: &Row<'_>) -> Result<AuditEvent, StoreError> {
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

/// Whether the tenant exists (inside a transaction).
/// Appends `kind` to the change feed (inside the caller's transaction).
fn append_change(conn: &Connection, kind: &ChangeKind) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO changes (kind, tenant_id, serial, agent_id) VALUES (?1, ?2, ?3, ?4)",
        params![
            kind.code(),
            kind.tenant().to_string(),
            kind.serial(),
            kind.agent().map(|a| a.to_string()),
        ],
    )
    .map_err(backend)?;
    Ok(())
}

fn change_from_row(row: &Row<'_>) -> Result<Change, StoreError> {
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

fn tenant_exists(conn: &Connection, tenant: &str) -> Result<bool, StoreError> {
    first(
        conn,
        "SELECT 1 FROM tenants WHERE id = ?1",
        [tenant],
        |_| Ok(()),
    )
    .map(|r| r.is_some())
}

/// Runs an UPDATE of one agent and reports an unknown agent.
fn update_agent(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<(), StoreError> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(backend)?;
    if changed == 0 {
        return Err(StoreError::UnknownAgent);
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        authority: &Authority,
    ) -> Result<(), StoreError> {
        let (tenant, authority) = (tenant.clone(), authority.clone());
        self.call(move |conn| {
            let created_at = to_sql(tenant.created_at, "created_at")?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let result = tx.execute(
                "INSERT INTO tenants (id, name, created_at, agent_limit, ca_certificate, ca_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tenant.id.to_string(),
                    tenant.name,
                    created_at,
                    i64::from(tenant.agent_limit),
                    authority.certificate,
                    authority.key.expose(),
                ],
            );
            match result {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Err(StoreError::TenantExists),
                Err(e) => return Err(backend(e)),
            }
            append_change(&tx, &ChangeKind::TenantCreated { tenant: tenant.id })?;
            tx.commit().map_err(backend)
        })
        .await?;
        self.notifier.notify();
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let id = id.to_string();
        self.call(move |conn| {
            let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1");
            first(conn, &sql, [id], tenant_from_row)
        })
        .await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StoreError> {
        let name = name.to_owned();
        self.call(move |conn| {
            let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE name = ?1");
            first(conn, &sql, [name], tenant_from_row)
        })
        .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.call(move |conn| {
            let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name");
            collect(conn, &sql, [], tenant_from_row)
        })
        .await
    }

    async fn set_agent_limit(&self, tenant: &TenantId, limit: u32) -> Result<(), StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE tenants SET agent_limit = ?2 WHERE id = ?1",
                    params![tenant, i64::from(limit)],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::UnknownTenant);
            }
            Ok(())
        })
        .await
    }

    async fn authority(&self, tenant: &TenantId) -> Result<Option<Authority>, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            first(
                conn,
                "SELECT ca_certificate, ca_key FROM tenants WHERE id = ?1",
                [tenant],
                |row| {
                    let key = row
                        .get_ref(1)
                        .and_then(|v| Ok(v.as_blob()?.to_vec()))
                        .map_err(backend)?;
                    Ok(Authority::new(get(row, 0)?, CaKey::new(key)))
                },
            )
        })
        .await
    }

    async fn service_authority(&self) -> Result<Option<Authority>, StoreError> {
        self.call(move |conn| {
            first(
                conn,
                "SELECT ca_certificate, ca_key FROM service_authority WHERE id = 1",
                [],
                service_authority_from_row,
            )
        })
        .await
    }

    async fn init_service_authority(&self, authority: &Authority) -> Result<Authority, StoreError> {
        let authority = authority.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            tx.execute(
                "INSERT OR IGNORE INTO service_authority (id, ca_certificate, ca_key) \
                 VALUES (1, ?1, ?2)",
                params![authority.certificate, authority.key.expose()],
            )
            .map_err(backend)?;
            let stored = first(
                &tx,
                "SELECT ca_certificate, ca_key FROM service_authority WHERE id = 1",
                [],
                service_authority_from_row,
            )?
            .ok_or(StoreError::Corrupt {
                what: "service authority",
            })?;
            tx.commit().map_err(backend)?;
            Ok(stored)
        })
        .await
    }

    async fn insert_agent(&self, agent: &AgentRecord) -> Result<(), StoreError> {
        let agent = agent.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let tenant = agent.tenant.to_string();
            let id = agent.id.to_string();
            let limit: i64 = first(
                &tx,
                "SELECT agent_limit FROM tenants WHERE id = ?1",
                [&tenant],
                |row| get(row, 0),
            )?
            .ok_or(StoreError::UnknownTenant)?;
            if first(&tx, "SELECT 1 FROM agents WHERE id = ?1", [&id], |_| Ok(()))?.is_some() {
                return Err(StoreError::AgentExists);
            }
            let count: i64 = first(
                &tx,
                "SELECT COUNT(*) FROM agents WHERE tenant_id = ?1 AND status <> 'revoked'",
                [&tenant],
                |row| get(row, 0),
            )?
            .unwrap_or(0);
            if count >= limit {
                return Err(StoreError::AgentLimitReached {
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                });
            }
            tx.execute(
                &format!(
                    "INSERT INTO agents ({AGENT_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    id,
                    tenant,
                    agent.certificate_serial,
                    agent.public_key,
                    agent.software_version,
                    to_sql(agent.first_seen, "first_seen")?,
                    to_sql(agent.last_seen, "last_seen")?,
                    agent.last_source.map(|ip| ip.to_string()),
                    agent.status.code(),
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentRecord>, StoreError> {
        let id = id.to_string();
        self.call(move |conn| {
            let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1");
            first(conn, &sql, [id], agent_from_row)
        })
        .await
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<AgentRecord>, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let sql = format!(
                "SELECT {AGENT_COLUMNS} FROM agents WHERE tenant_id = ?1 ORDER BY first_seen, id"
            );
            collect(conn, &sql, [tenant], agent_from_row)
        })
        .await
    }

    async fn agent_count(&self, tenant: &TenantId) -> Result<u32, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let n: i64 = first(
                conn,
                "SELECT COUNT(*) FROM agents WHERE tenant_id = ?1 AND status <> 'revoked'",
                [tenant],
                |row| get(row, 0),
            )?
            .unwrap_or(0);
            u32::try_from(n).map_err(|_| StoreError::OutOfRange {
                field: "agent count",
            })
        })
        .await
    }

    async fn record_seen(&self, id: &AgentId, seen: &AgentSeen) -> Result<(), StoreError> {
        let (id, seen) = (id.to_string(), seen.clone());
        self.call(move |conn| {
            update_agent(
                conn,
                "UPDATE agents SET last_seen = ?2, last_source = ?3, software_version = ?4 \
                 WHERE id = ?1",
                params![
                    id,
                    to_sql(seen.now, "now")?,
                    seen.source.to_string(),
                    seen.software_version
                ],
            )
        })
        .await
    }

    async fn set_certificate(
        &self,
        id: &AgentId,
        serial: &[u8],
        public_key: &[u8],
    ) -> Result<(), StoreError> {
        let (id, serial, public_key) = (id.to_string(), serial.to_vec(), public_key.to_vec());
        self.call(move |conn| {
            update_agent(
                conn,
                "UPDATE agents SET certificate_serial = ?2, public_key = ?3 WHERE id = ?1",
                params![id, serial, public_key],
            )
        })
        .await
    }

    async fn set_agent_status(&self, id: &AgentId, status: AgentStatus) -> Result<(), StoreError> {
        let id = id.to_string();
        self.call(move |conn| {
            update_agent(
                conn,
                "UPDATE agents SET status = ?2 WHERE id = ?1",
                params![id, status.code()],
            )
        })
        .await
    }

    async fn delete_agent(&self, id: &AgentId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.call(move |conn| {
            let n = conn
                .execute("DELETE FROM agents WHERE id = ?1", [id])
                .map_err(backend)?;
            Ok(n > 0)
        })
        .await
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let token = token.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let tenant = token.tenant.to_string();
            if !tenant_exists(&tx, &tenant)? {
                return Err(StoreError::UnknownTenant);
            }
            let result = tx.execute(
                &format!(
                    "INSERT INTO registration_tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"
                ),
                params![
                    token.hash.as_bytes().as_slice(),
                    tenant,
                    to_sql(token.created_at, "created_at")?,
                    to_sql(token.expires_at, "expires_at")?,
                    token.used_at.map(|t| to_sql(t, "used_at")).transpose()?,
                ],
            );
            match result {
                Ok(_) => tx.commit().map_err(backend),
                Err(e) if is_unique_violation(&e) => Err(StoreError::TokenExists),
                Err(e) => Err(backend(e)),
            }
        })
        .await
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, StoreError> {
        let hash = *hash;
        self.call(move |conn| {
            // As in `consume_token`: an index lookup, then a constant-time comparison.
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE hash = ?1");
            Ok(
                first(conn, &sql, [hash.as_bytes().as_slice()], token_from_row)?
                    .filter(|r| r.hash == hash),
            )
        })
        .await
    }

    async fn consume_token(&self, hash: &TokenHash, now: u64) -> Result<TokenRecord, StoreError> {
        let hash = *hash;
        self.call(move |conn| {
            let now_sql = to_sql(now, "now")?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            // Looked up by SHA-256 of a 256-bit random secret: the index lookup's timing
            // tells nothing about a token. The hash is compared again in constant time.
            let sql = format!("SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE hash = ?1");
            let record = first(&tx, &sql, [hash.as_bytes().as_slice()], token_from_row)?
                .filter(|r| r.hash == hash)
                .ok_or(TokenError::Unknown)?;
            record.check(now)?;
            let changed = tx
                .execute(
                    "UPDATE registration_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL",
                    params![hash.as_bytes().as_slice(), now_sql],
                )
                .map_err(backend)?;
            if changed != 1 {
                return Err(TokenError::AlreadyUsed.into());
            }
            tx.commit().map_err(backend)?;
            Ok(record)
        })
        .await
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let sql = format!(
                "SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE tenant_id = ?1 \
                 ORDER BY created_at DESC, rowid DESC"
            );
            collect(conn, &sql, [tenant], token_from_row)
        })
        .await
    }

    async fn prune_tokens(&self, before: u64) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let n = conn
                .execute(
                    "DELETE FROM registration_tokens WHERE expires_at < ?1",
                    [bound(before)],
                )
                .map_err(backend)?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn add_revocation(&self, revocation: &Revocation) -> Result<bool, StoreError> {
        let r = revocation.clone();
        let added = self
            .call(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(backend)?;
                let tenant = r.tenant.to_string();
                if !tenant_exists(&tx, &tenant)? {
                    return Err(StoreError::UnknownTenant);
                }
                let agent = r.agent.map(|a| a.to_string());
                let added = tx
                    .execute(
                        &format!(
                            "INSERT OR IGNORE INTO revocations ({REVOCATION_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5)"
                        ),
                        params![
                            tenant,
                            r.serial,
                            agent,
                            i64::from(r.reason.code()),
                            to_sql(r.revoked_at, "revoked_at")?,
                        ],
                    )
                    .map_err(backend)?;
                if added == 0 {
                    return Ok(false);
                }
                if let Some(agent) = agent {
                    tx.execute(
                        "UPDATE agents SET status = 'revoked' WHERE id = ?1 AND tenant_id = ?2",
                        params![agent, tenant],
                    )
                    .map_err(backend)?;
                }
                append_change(
                    &tx,
                    &ChangeKind::CertificateRevoked {
                        tenant: r.tenant,
                        serial: r.serial.clone(),
                        agent: r.agent,
                    },
                )?;
                tx.commit().map_err(backend)?;
                Ok(true)
            })
            .await?;
        if added {
            self.notifier.notify();
        }
        Ok(added)
    }

    async fn is_revoked(&self, tenant: &TenantId, serial: &[u8]) -> Result<bool, StoreError> {
        let (tenant, serial) = (tenant.to_string(), serial.to_vec());
        self.call(move |conn| {
            first(
                conn,
                "SELECT 1 FROM revocations WHERE tenant_id = ?1 AND serial = ?2",
                params![tenant, serial],
                |_| Ok(()),
            )
            .map(|r| r.is_some())
        })
        .await
    }

    async fn revocations(&self, tenant: &TenantId) -> Result<Vec<Revocation>, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let sql = format!(
                "SELECT {REVOCATION_COLUMNS} FROM revocations WHERE tenant_id = ?1 \
                 ORDER BY revoked_at, rowid"
            );
            collect(conn, &sql, [tenant], revocation_from_row)
        })
        .await
    }

    async fn next_crl_number(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let tenant = tenant.to_string();
        self.call(move |conn| {
            let n: i64 = first(
                conn,
                "UPDATE tenants SET crl_number = crl_number + 1 WHERE id = ?1 \
                 RETURNING crl_number",
                [tenant],
                |row| get(row, 0),
            )?
            .ok_or(StoreError::UnknownTenant)?;
            from_sql(n, "crl number")
        })
        .await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT INTO audit_events ({AUDIT_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    ))
                    .map_err(backend)?;
                for ev in &events {
                    stmt.execute(params![
                        to_sql(ev.time, "audit time")?,
                        ev.tenant.map(|t| t.to_string()),
                        ev.kind.code(),
                        ev.login,
                        ev.agent.map(|a| a.to_string()),
                        ev.outcome.code(),
                        ev.latency_ms.map(|l| to_sql(l, "latency")).transpose()?,
                        ev.source.map(|s| s.to_string()),
                    ])
                    .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let q = *query;
        self.call(move |conn| {
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_events \
                 WHERE tenant_id = ?1 AND time >= ?2 AND time < ?3 ORDER BY time, id LIMIT ?4"
            );
            collect(
                conn,
                &sql,
                params![
                    q.tenant.to_string(),
                    bound(q.from),
                    bound(q.until),
                    i64::from(q.limit)
                ],
                audit_from_row,
            )
        })
        .await
    }

    async fn prune_audit(&self, horizon: u64, max_rows: u64) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let by_age = tx
                .execute("DELETE FROM audit_events WHERE time < ?1", [bound(horizon)])
                .map_err(backend)?;
            let by_count = tx
                .execute(
                    "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events \
                     ORDER BY time, id LIMIT max(0, (SELECT COUNT(*) FROM audit_events) - ?1))",
                    [bound(max_rows)],
                )
                .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(u64::try_from(by_age + by_count).unwrap_or(u64::MAX))
        })
        .await
    }

    async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let after = bound(after);
        self.call(move |conn| {
            collect(
                conn,
                "SELECT seq, kind, tenant_id, serial, agent_id FROM changes WHERE seq > ?1 \
                 ORDER BY seq LIMIT ?2",
                params![after, i64::from(limit)],
                change_from_row,
            )
        })
        .await
    }

    async fn latest_change(&self) -> Result<u64, StoreError> {
        self.call(|conn| {
            let n: i64 = first(
                conn,
                "SELECT coalesce(max(seq), 0) FROM changes",
                [],
                |row| get(row, 0),
            )?
            .unwrap_or(0);
            from_sql(n, "change seq")
        })
        .await
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
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.call(move |conn| {
            // One statement: atomic under the file's write lock.
            first(
                conn,
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE \
                 SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder \
                 RETURNING 1",
                params![name, holder, expires_at, now],
                |_| Ok(()),
            )
            .map(|r| r.is_some())
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )
            .map(|n| n > 0)
            .map_err(backend)
        })
        .await
    }
}
