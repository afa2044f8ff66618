//! The commands: `serve`, and the offline admin commands that act directly on the configured
//! store (`tenant create`, `token create`, `agents list`, `agents revoke`). Every one of them
//! opens the store through [`open_store`].

use std::collections::HashMap;
use std::sync::Arc;

use pta_lockout::LockoutStore;
use pta_lockout_redis::RedisLockoutStore;
use pta_service::{
    AgentId, AgentRecord, Clock, Service, ServiceError, Store, StoreError, SystemClock, Tenant,
    TenantId,
};
use pta_service_http::{ServeOptions, Serving};
use pta_store_postgres::PostgresStore;
use pta_store_sqlite::SqliteStore;
use tracing_subscriber::EnvFilter;
use zeroize::Zeroizing;

use crate::config::{LogConfig, StoreTarget, parse_duration};
use crate::{CliError, Config};

/// Sends the logs to standard error, as `log` says (text or JSON lines, `EnvFilter` level).
///
/// # Errors
///
/// [`CliError::LogLevel`], [`CliError::Logging`].
pub fn init_logging(log: &LogConfig) -> Result<(), CliError> {
    let filter = EnvFilter::try_new(&log.level).map_err(|e| CliError::LogLevel {
        level: log.level.clone(),
        source: Box::new(e),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if log.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    result.map_err(CliError::Logging)
}

/// Opens the configured store: PostgreSQL when `store.url` is a PostgreSQL URL (its password
/// from `store.password_file`, `PTA_STORE_PASSWORD_FILE` or `PTA_STORE_PASSWORD`), else the
/// SQLite file (`store.path`, `sqlite://` URL, or `data_dir/pta.sqlite3`, creating `data_dir`
/// 0700 if needed). The one way every command opens its state.
///
/// # Errors
///
/// [`CliError::Config`] (the URL, the password file, the directory),
/// [`CliError::StoreConnect`] (PostgreSQL unreachable or refusing: names `host:port`, never
/// the password), [`CliError::Service`] (the SQLite file, a migration).
pub async fn open_store(
    config: &Config,
    env: &HashMap<String, String>,
) -> Result<Arc<dyn Store>, CliError> {
    match config.store_target()? {
        StoreTarget::Sqlite(path) => {
            if config.store.path.is_none() && config.store.url.is_none() {
                config.create_data_dir()?;
            }
            Ok(Arc::new(SqliteStore::open(&path)?))
        }
        StoreTarget::Postgres { endpoint, .. } => {
            let Some(pg) = config.postgres_config(env)? else {
                return Err(CliError::Config(crate::ConfigError::Invalid {
                    key: "store.url",
                    reason: "expected a PostgreSQL URL",
                }));
            };
            match PostgresStore::connect(pg).await {
                Ok(store) => {
                    tracing::info!(endpoint = %store.endpoint(), "state store: PostgreSQL");
                    Ok(Arc::new(store))
                }
                Err(source @ StoreError::Backend(_)) => {
                    Err(CliError::StoreConnect { endpoint, source })
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Sets the lockout stores of `options` as `[lockout]` says: nothing for `memory` (the
/// runtime makes in-memory stores from the policies [`Config::to_service_options`] set);
/// for `redis`, one [`RedisLockoutStore`] with the global policy and key prefix, and one per
/// tenant with its own policy under its own prefix ([`Config::tenant_key_prefix`]).
///
/// # Errors
///
/// [`CliError::Config`] (URL, password file, policy), [`CliError::LockoutStore`] (Redis
/// unreachable: names `host:port`, never the password).
pub async fn open_lockout_stores(
    config: &Config,
    env: &HashMap<String, String>,
    options: &mut pta_service::ServiceOptions,
) -> Result<(), CliError> {
    let Some(redis) = config.redis_config(env)? else {
        return Ok(());
    };
    let (global, tenants) = config.lockout_policies()?;
    let store: Arc<dyn LockoutStore> = Arc::new(
        RedisLockoutStore::connect(global, redis.clone())
            .await
            .map_err(CliError::LockoutStore)?,
    );
    options.lockout_store = Some(store);
    options.lockout_tenant_policies.clear();
    for (name, policy) in tenants {
        let mut own = redis.clone();
        own.key_prefix = config.tenant_key_prefix(&name);
        let store: Arc<dyn LockoutStore> = Arc::new(
            RedisLockoutStore::connect(policy, own)
                .await
                .map_err(CliError::LockoutStore)?,
        );
        options.lockout_tenant_stores.insert(name, store);
    }
    tracing::info!(
        overrides = options.lockout_tenant_stores.len(),
        "lockout store: Redis"
    );
    Ok(())
}

/// The tenant named by `key`: its id, else its name.
///
/// # Errors
///
/// [`CliError::NoSuchTenant`], [`CliError::Service`].
pub async fn find_tenant(store: &dyn Store, key: &str) -> Result<Tenant, CliError> {
    if let Ok(id) = key.parse::<TenantId>()
        && let Some(tenant) = store.tenant(&id).await?
    {
        return Ok(tenant);
    }
    store
        .tenant_by_name(key)
        .await?
        .ok_or_else(|| CliError::NoSuchTenant {
            key: key.to_owned(),
        })
}

/// `serve`: loads the secrets, opens the store, starts the service and serves its
/// registration and API listeners (logging a warning for a plain-HTTP API and for missing
/// secrets). The caller prints the addresses, waits for a signal, then calls
/// [`Serving::shutdown`].
///
/// # Errors
///
/// [`CliError::Config`] (secrets, data directory), [`CliError::Service`] (store, service
/// start), [`CliError::Http`] (a listener); the service is shut down again on the last.
pub async fn serve(config: &Config, env: &HashMap<String, String>) -> Result<Serving, CliError> {
    let secrets = config.load_secrets(env)?;
    let mut service_options = config.to_service_options();
    service_options.lockout_secret = config.lockout_secret_for_serve()?;
    if service_options.lockout_snapshot.is_some() {
        config.create_data_dir()?;
    }
    let store = open_store(config, env).await?;
    open_lockout_stores(config, env, &mut service_options).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = Service::start(store, service_options, Arc::clone(&clock)).await?;
    if !config.api.tls {
        tracing::warn!(
            listen = %config.api.listen,
            "api.tls = false: the API is served over plain HTTP; only do this behind a \
             TLS-terminating proxy"
        );
    }
    let api = config.api_options(&secrets, clock);
    if !api.auth.has_admin_token() {
        tracing::warn!("no admin token configured: the admin endpoints answer 401");
    }
    if api.auth.api_key_count() == 0 {
        tracing::warn!("no front-end API key configured: the sign-in endpoint answers 401");
    }
    drop(secrets);
    let mut options = ServeOptions::new(config.registration.listen, config.api.listen, api);
    options.registration = config.registration_options();
    options.api_tls = config.api.tls;
    match Serving::start(service.clone(), options).await {
        Ok(serving) => Ok(serving),
        Err(e) => {
            service.shutdown().await;
            Err(e.into())
        }
    }
}

/// `tenant create NAME`: creates a tenant with its issuing CA and the configured agent limit.
///
/// # Errors
///
/// [`CliError::BadTenantName`], [`CliError::TenantExists`], [`CliError::Config`],
/// [`CliError::Service`].
pub async fn tenant_create(
    config: &Config,
    env: &HashMap<String, String>,
    name: &str,
) -> Result<Tenant, CliError> {
    let name = name.trim();
    if !pta_service_http::is_valid_tenant_name(name) {
        return Err(CliError::BadTenantName);
    }
    let store = open_store(config, env).await?;
    let now = SystemClock.unix_ms();
    let registrar = config.to_service_options().registrar;
    let mut tenant = registrar
        .create_tenant(store.as_ref(), name, now)
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::TenantExists) => CliError::TenantExists {
                name: name.to_owned(),
            },
            e => e.into(),
        })?;
    if tenant.agent_limit != config.tenants.agent_limit {
        store
            .set_agent_limit(&tenant.id, config.tenants.agent_limit)
            .await?;
        tenant.agent_limit = config.tenants.agent_limit;
    }
    Ok(tenant)
}

/// `token create`: a one-time registration token for `tenant` (a name or an id), valid for
/// `lifetime` (a duration like `30m`, at most 7 days; `tokens.lifetime` when `None`), as the
/// printed join token `pta1.<token>.<service CA sha256>` (a secret).
///
/// # Errors
///
/// [`CliError::BadLifetime`], [`CliError::NoSuchTenant`], [`CliError::Config`],
/// [`CliError::Service`].
pub async fn token_create(
    config: &Config,
    env: &HashMap<String, String>,
    tenant: &str,
    lifetime: Option<&str>,
) -> Result<Zeroizing<String>, CliError> {
    let lifetime_ms = match lifetime {
        None => config.token_lifetime_ms(),
        Some(text) => match parse_duration(text) {
            Some(d) if !d.is_zero() && d <= pta_service_http::MAX_TOKEN_LIFETIME => {
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
            }
            _ => {
                return Err(CliError::BadLifetime {
                    text: text.to_owned(),
                });
            }
        },
    };
    let store = open_store(config, env).await?;
    let tenant = find_tenant(store.as_ref(), tenant).await?;
    let now = SystemClock.unix_ms();
    let ca =
        pta_service::load_or_create_service_ca(store.as_ref(), config.tenants.ca_key_bits, now)
            .await?;
    Ok(pta_service::create_join_token(store.as_ref(), &ca, &tenant.id, lifetime_ms, now).await?)
}

/// `agents list`: the agents of `tenant` (a name or an id).
///
/// # Errors
///
/// [`CliError::NoSuchTenant`], [`CliError::Config`], [`CliError::Service`].
pub async fn agents_list(
    config: &Config,
    env: &HashMap<String, String>,
    tenant: &str,
) -> Result<Vec<AgentRecord>, CliError> {
    let store = open_store(config, env).await?;
    let tenant = find_tenant(store.as_ref(), tenant).await?;
    Ok(store.agents(&tenant.id).await?)
}

/// The tab-separated table `agents list` prints: a header line, then one line per agent (id,
/// status, version, last seen, last source address), each ending in a newline.
pub fn agents_table(agents: &[AgentRecord]) -> String {
    let mut out = String::from("AGENT_ID\tSTATUS\tVERSION\tLAST_SEEN_MS\tLAST_SOURCE\n");
    for agent in agents {
        let source = agent
            .last_source
            .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            agent.id,
            agent.status.code(),
            agent.software_version,
            agent.last_seen,
            source,
        ));
    }
    out
}

/// `agents revoke`: revokes the agent with this id; `false` if it was revoked already.
///
/// # Errors
///
/// [`CliError::BadAgentId`], [`CliError::NoSuchAgent`], [`CliError::Config`],
/// [`CliError::Service`].
pub async fn agents_revoke(
    config: &Config,
    env: &HashMap<String, String>,
    agent: &str,
) -> Result<(AgentId, bool), CliError> {
    let agent: AgentId = agent.parse().map_err(|_| CliError::BadAgentId {
        text: agent.to_owned(),
    })?;
    let store = open_store(config, env).await?;
    let now = SystemClock.unix_ms();
    let newly = pta_service::revoke_agent_in_store(store.as_ref(), &agent, now)
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::UnknownAgent) => CliError::NoSuchAgent { agent },
            e => e.into(),
        })?;
    Ok((agent, newly))
}
