//! The SQLite schema and its migrations, versioned by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use crate::sqlite::backend;
use pta_store::StoreError;

/// Migration `n` (0-based) takes a database from `user_version` `n` to `n + 1`. Append only:
/// never edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE tenants (
        id             TEXT    PRIMARY KEY,
        name           TEXT    NOT NULL UNIQUE,
        created_at     INTEGER NOT NULL,
        agent_limit    INTEGER NOT NULL,
        ca_certificate BLOB    NOT NULL,
        ca_key         BLOB    NOT NULL,
        crl_number     INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE agents (
        id                 TEXT    PRIMARY KEY,
        tenant_id          TEXT    NOT NULL REFERENCES tenants (id),
        certificate_serial BLOB    NOT NULL,
        public_key         BLOB    NOT NULL,
        software_version   TEXT    NOT NULL,
        first_seen         INTEGER NOT NULL,
        last_seen          INTEGER NOT NULL,
        last_source        TEXT,
        status             TEXT    NOT NULL CHECK (status IN ('active', 'inactive', 'revoked'))
    ) STRICT;
    CREATE INDEX agents_by_tenant ON agents (tenant_id, first_seen);

    CREATE TABLE registration_tokens (
        hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
        tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    ) STRICT;
    CREATE INDEX registration_tokens_by_tenant ON registration_tokens (tenant_id, created_at);
    CREATE INDEX registration_tokens_by_expiry ON registration_tokens (expires_at);

    CREATE TABLE revocations (
        tenant_id  TEXT    NOT NULL REFERENCES tenants (id),
        serial     BLOB    NOT NULL,
        agent_id   TEXT,
        reason     INTEGER NOT NULL,
        revoked_at INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, serial)
    ) STRICT;

    CREATE TABLE audit_events (
        id         INTEGER PRIMARY KEY,
        time       INTEGER NOT NULL,
        tenant_id  TEXT,
        kind       TEXT    NOT NULL,
        login      TEXT,
        agent_id   TEXT,
        outcome    TEXT    NOT NULL,
        latency_ms INTEGER,
        source     TEXT
    ) STRICT;
    CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, time, id);
    CREATE INDEX audit_events_by_time ON audit_events (time, id);
    ",
    // 2: the deployment's service CA (one row).
    "
    CREATE TABLE service_authority (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        ca_certificate BLOB    NOT NULL,
        ca_key         BLOB    NOT NULL
    ) STRICT;
    ",
    // 3: the change feed and leases. Existing tenants and revocations are not backfilled: a
    // starting node loads everything, then follows the feed from its newest entry.
    "
    CREATE TABLE changes (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        kind      TEXT    NOT NULL CHECK (kind IN ('tenant_created', 'certificate_revoked')),
        tenant_id TEXT    NOT NULL,
        serial    BLOB,
        agent_id  TEXT
    ) STRICT;

    CREATE TABLE leases (
        name       TEXT    PRIMARY KEY,
        holder     TEXT    NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    ",
];

/// The schema version this build writes: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The file's schema version.
pub(crate) fn version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)
}

/// Refuses a file from a newer build, without changing it.
pub(crate) fn check_not_newer(conn: &Connection) -> Result<(), StoreError> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Brings the schema to [`SCHEMA_VERSION`], in one transaction (a no-op when it is there).
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let start = usize::try_from(found).map_err(|_| StoreError::Corrupt {
        what: "schema version",
    })?;
    for sql in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(sql).map_err(backend)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(backend)?;
    tx.commit().map_err(backend)
}
