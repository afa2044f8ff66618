//! The PostgreSQL schema and its migrations, versioned in the one-row table `pta_schema`.

use deadpool_postgres::Object;
use pta_store::StoreError;

use crate::store::backend;

/// Migration `n` (0-based) takes a database from version `n` to `n + 1`. Append only: never
/// edit a migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema (the SQLite backend's version 2, in PostgreSQL types).
    "
    CREATE TABLE tenants (
        id             TEXT   PRIMARY KEY,
        name           TEXT   NOT NULL UNIQUE,
        created_at     BIGINT NOT NULL,
        agent_limit    BIGINT NOT NULL,
        ca_certificate BYTEA  NOT NULL,
        ca_key         BYTEA  NOT NULL,
        crl_number     BIGINT NOT NULL DEFAULT 0
    );

    CREATE TABLE agents (
        id                 TEXT   PRIMARY KEY,
        tenant_id          TEXT   NOT NULL REFERENCES tenants (id),
        certificate_serial BYTEA  NOT NULL,
        public_key         BYTEA  NOT NULL,
        software_version   TEXT   NOT NULL,
        first_seen         BIGINT NOT NULL,
        last_seen          BIGINT NOT NULL,
        last_source        TEXT,
        status             TEXT   NOT NULL CHECK (status IN ('active', 'inactive', 'revoked'))
    );
    CREATE INDEX agents_by_tenant ON agents (tenant_id, first_seen);

    CREATE TABLE registration_tokens (
        hash       BYTEA  PRIMARY KEY CHECK (length(hash) = 32),
        seq        BIGINT GENERATED ALWAYS AS IDENTITY,
        tenant_id  TEXT   NOT NULL REFERENCES tenants (id),
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at    BIGINT
    );
    CREATE INDEX registration_tokens_by_tenant ON registration_tokens (tenant_id, created_at);
    CREATE INDEX registration_tokens_by_expiry ON registration_tokens (expires_at);

    CREATE TABLE revocations (
        tenant_id  TEXT   NOT NULL REFERENCES tenants (id),
        serial     BYTEA  NOT NULL,
        seq        BIGINT GENERATED ALWAYS AS IDENTITY,
        agent_id   TEXT,
        reason     BIGINT NOT NULL,
        revoked_at BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, serial)
    );

    CREATE TABLE audit_events (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time       BIGINT NOT NULL,
        tenant_id  TEXT,
        kind       TEXT   NOT NULL,
        login      TEXT,
        agent_id   TEXT,
        outcome    TEXT   NOT NULL,
        latency_ms BIGINT,
        source     TEXT
    );
    CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, time, id);
    CREATE INDEX audit_events_by_time ON audit_events (time, id);

    CREATE TABLE service_authority (
        id             BIGINT PRIMARY KEY CHECK (id = 1),
        ca_certificate BYTEA  NOT NULL,
        ca_key         BYTEA  NOT NULL
    );
    ",
    // 2: the change feed, its one-row sequence counter, and leases. Existing tenants and
    // revocations are not backfilled: a starting node loads everything, then follows the feed
    // from its newest entry.
    "
    CREATE TABLE change_counter (
        id  BIGINT PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL
    );
    INSERT INTO change_counter (id, seq) VALUES (1, 0);

    CREATE TABLE changes (
        seq       BIGINT PRIMARY KEY,
        kind      TEXT   NOT NULL CHECK (kind IN ('tenant_created', 'certificate_revoked')),
        tenant_id TEXT   NOT NULL,
        serial    BYTEA,
        agent_id  TEXT
    );

    CREATE TABLE leases (
        name       TEXT   PRIMARY KEY,
        holder     TEXT   NOT NULL,
        expires_at BIGINT NOT NULL
    );
    ",
];

/// The schema version this build writes: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock key that serialises migrations of nodes starting at once
/// (`'pta-schema'` as ASCII).
const MIGRATION_LOCK: i64 = 0x7074_612d_7363_6865;

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction under an advisory lock, so of
/// several nodes starting at once one migrates and the others find it done. Refuses a database
/// of a newer build without changing it.
pub(crate) async fn migrate(client: &mut Object) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS pta_schema (
             id      BIGINT PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );
         INSERT INTO pta_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await
    .map_err(backend)?;
    let found: i64 = tx
        .query_one("SELECT version FROM pta_schema WHERE id = 1", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    if found > SCHEMA_VERSION {
        // Dropping `tx` rolls back: nothing was changed.
        return Err(StoreError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(found).map_err(|_| StoreError::Corrupt {
        what: "schema version",
    })?;
    if start < MIGRATIONS.len() {
        for sql in MIGRATIONS.iter().skip(start) {
            tx.batch_execute(sql).await.map_err(backend)?;
        }
        tx.execute(
            "UPDATE pta_schema SET version = $1 WHERE id = 1",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}
