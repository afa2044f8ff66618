//! The Redis-backed [`LockoutStore`].

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use pta_lockout::{
    Attempt, Decision, LockoutError, LockoutStore, Outcome, Policy, Source, SourceRecord,
    SourceStatus, UserKey, UserRecord, UserStatus,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ConnectionAddr, Script};

use crate::expiry::{source_ttl, user_ttl};
use crate::{RedisLockoutConfig, RedisLockoutError};

/// Compare-and-set rounds before a `record` or `unlock_user` gives up with
/// [`RedisLockoutError::Contention`] (the call's timeout usually comes first).
const MAX_CAS_ROUNDS: u32 = 1_000;

/// Compare-and-set over any number of keys, all or nothing. `ARGV` holds, per key, the bytes
/// read before (empty: the key was absent), the bytes to write (empty: delete the key) and the
/// expiry in milliseconds (`-1`: keep the key's expiry). Returns 1 when it wrote, 0 when some
/// key had changed since it was read (the caller reads again and retries).
const CAS_SCRIPT: &str = r"
for i = 1, #KEYS do
  local current = redis.call('GET', KEYS[i])
  if not current then current = '' end
  if current ~= ARGV[3 * i - 2] then return 0 end
end
for i = 1, #KEYS do
  local new = ARGV[3 * i - 1]
  local ttl = tonumber(ARGV[3 * i])
  if new == '' then
    redis.call('DEL', KEYS[i])
  elseif ttl > 0 then
    redis.call('SET', KEYS[i], new, 'PX', ttl)
  else
    redis.call('SET', KEYS[i], new, 'KEEPTTL')
  end
end
return 1
";

/// Lockout state shared by several service nodes in one Redis.
///
/// Each account's [`UserRecord`] and each source's [`SourceRecord`] is one Redis string in the
/// crate's compact encoding ([`UserRecord::encode`]), under `<prefix>u:<user key, 16 hex
/// digits>` and `<prefix>s:<source, 32 hex digits>`. The policy runs here, on the decoded
/// records, exactly as in [`MemoryStore`](pta_lockout::MemoryStore):
///
/// - `check` reads both records in one `MGET` and writes nothing;
/// - `record` reads the account's record (and, for a wrong password, the source's), applies
///   the transition, and writes both back with one Lua script that compares the stored bytes
///   with those read and writes only if neither changed (compare-and-set); otherwise it reads
///   again and retries. Two nodes recording at once therefore both count;
/// - every write sets the key's expiry to the moment the record lapses
///   ([`UserRecord::is_lapsed`]: no lock, counters decayed, no familiar location or bad
///   password left) plus two seconds, so idle records vanish by themselves and a running lock
///   is never dropped. A record that has already lapsed is deleted. Expiries assume the
///   callers' `now` advances at the pace of real time;
/// - `unlock_user` rewrites the record keeping its expiry; `unblock_source` deletes the key.
///
/// Every call runs under the configured timeout. A Redis error, a timeout or an undecodable
/// record is [`LockoutError::Backend`] wrapping a [`RedisLockoutError`]: never a decision.
/// The connection is a [`ConnectionManager`], which reconnects on its own after Redis comes
/// back: the store need not be rebuilt.
///
/// Storage is bounded by the expiries (one key per account tracked within its windows, one
/// per source within the spray window or its block); size Redis's memory for them and do not
/// let Redis evict these keys (`maxmemory-policy noeviction` or a `volatile-*` policy on a
/// separate instance), since an evicted record would lift a lock.
#[derive(Clone)]
pub struct RedisLockoutStore {
    policy: Policy,
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    cas: Script,
}

impl std::fmt::Debug for RedisLockoutStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the connection: its client's settings may hold the password.
        f.debug_struct("RedisLockoutStore")
            .field("policy", &self.policy)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisLockoutStore {
    /// Connects to the Redis at `config.url` and returns a store applying `policy`.
    ///
    /// Must be called within a Tokio runtime (the connection manager runs on it).
    ///
    /// # Errors
    ///
    /// [`RedisLockoutError::Policy`] or [`RedisLockoutError::InvalidConfig`] for bad settings,
    /// [`RedisLockoutError::InvalidUrl`] for a URL that does not parse,
    /// [`RedisLockoutError::Connect`] or [`RedisLockoutError::ConnectTimeout`] (naming host and
    /// port) when Redis cannot be reached within `config.timeout`.
    pub async fn connect(
        policy: Policy,
        config: RedisLockoutConfig,
    ) -> Result<Self, RedisLockoutError> {
        policy.validate().map_err(RedisLockoutError::Policy)?;
        if config.timeout.is_zero() {
            return Err(RedisLockoutError::InvalidConfig { field: "timeout" });
        }
        if config.key_prefix.is_empty() {
            return Err(RedisLockoutError::InvalidConfig {
                field: "key_prefix",
            });
        }
        let client =
            redis::Client::open(config.url.as_str()).map_err(RedisLockoutError::InvalidUrl)?;
        let (host, port) = match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                (host.clone(), *port)
            }
            ConnectionAddr::Unix(path) => (path.display().to_string(), 0),
            _ => (String::from("(unknown)"), 0),
        };
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let conn = match tokio::time::timeout(
            config.timeout,
            client.get_connection_manager_with_config(manager_config),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(source)) => return Err(RedisLockoutError::Connect { host, port, source }),
            Err(_) => {
                return Err(RedisLockoutError::ConnectTimeout {
                    host,
                    port,
                    timeout: config.timeout,
                });
            }
        };
        Ok(Self {
            policy,
            conn,
            prefix: config.key_prefix,
            timeout: config.timeout,
            cas: Script::new(CAS_SCRIPT),
        })
    }

    /// The policy this store applies.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The Redis key of `user`'s record: `<prefix>u:<16 hex digits>`.
    #[must_use]
    pub fn user_key(&self, user: UserKey) -> String {
        format!("{}u:{:016x}", self.prefix, user.to_raw())
    }

    /// The Redis key of `source`'s record: `<prefix>s:<32 hex digits>`.
    #[must_use]
    pub fn source_key(&self, source: Source) -> String {
        format!("{}s:{:032x}", self.prefix, source.to_raw())
    }

    /// Runs `call` under the timeout, turning every failure into [`LockoutError::Backend`].
    async fn bounded<T>(
        &self,
        call: impl Future<Output = Result<T, RedisLockoutError>>,
    ) -> Result<T, LockoutError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(LockoutError::from),
            Err(_) => Err(RedisLockoutError::Timeout {
                timeout: self.timeout,
            }
            .into()),
        }
    }

    async fn get(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, RedisLockoutError> {
        let mut conn = self.conn.clone();
        redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(RedisLockoutError::Command)
    }

    /// The bytes stored at one key, `None` when there are none.
    async fn get_one(&self, key: &str) -> Result<Option<Vec<u8>>, RedisLockoutError> {
        Ok(self.get(&[key]).await?.into_iter().next().flatten())
    }

    /// Writes `writes` (key, bytes read, bytes to write, expiry) if no key changed since it
    /// was read. Returns whether it wrote.
    async fn compare_and_set(
        &self,
        writes: &[(&str, &[u8], Vec<u8>, i64)],
    ) -> Result<bool, RedisLockoutError> {
        let mut invocation = self.cas.prepare_invoke();
        for (key, old, new, ttl) in writes {
            invocation.key(*key).arg(*old).arg(new.as_slice()).arg(*ttl);
        }
        let mut conn = self.conn.clone();
        let wrote: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(RedisLockoutError::Command)?;
        Ok(wrote == 1)
    }

    async fn record_inner(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), RedisLockoutError> {
        let user_key = self.user_key(attempt.user);
        let source_key = self.source_key(attempt.source);
        let counts_for_source = outcome == Outcome::InvalidCredentials;
        let keys: Vec<&str> = if counts_for_source {
            vec![user_key.as_str(), source_key.as_str()]
        } else {
            vec![user_key.as_str()]
        };
        for _ in 0..MAX_CAS_ROUNDS {
            let mut read = self.get(&keys).await?.into_iter();
            let old_user = read.next().flatten().unwrap_or_default();
            let mut user = decode_user(&old_user)?;
            user.record(
                &self.policy,
                now,
                attempt.location,
                attempt.password,
                outcome,
            );
            let (new_user, user_expiry) = encode_user(&self.policy, now, &user);
            let mut writes = vec![(
                user_key.as_str(),
                old_user.as_slice(),
                new_user,
                user_expiry,
            )];
            let old_source = read.next().flatten().unwrap_or_default();
            if counts_for_source {
                let mut source = decode_source(&old_source)?;
                source.record(&self.policy, now, attempt.user, outcome);
                let (new_source, source_expiry) = encode_source(&self.policy, now, &source);
                writes.push((
                    source_key.as_str(),
                    old_source.as_slice(),
                    new_source,
                    source_expiry,
                ));
            }
            if self.compare_and_set(&writes).await? {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        Err(RedisLockoutError::Contention {
            attempts: MAX_CAS_ROUNDS,
        })
    }

    async fn unlock_inner(&self, user: UserKey) -> Result<bool, RedisLockoutError> {
        let key = self.user_key(user);
        for _ in 0..MAX_CAS_ROUNDS {
            let Some(old) = self.get_one(&key).await? else {
                return Ok(false);
            };
            let mut record = decode_user(&old)?;
            record.unlock();
            let mut new = Vec::with_capacity(UserRecord::ENCODED_LEN);
            record.encode(&mut new);
            // Unlocking only removes state: the key's expiry still bounds the record's life.
            if self
                .compare_and_set(&[(key.as_str(), old.as_slice(), new, -1)])
                .await?
            {
                return Ok(true);
            }
            tokio::task::yield_now().await;
        }
        Err(RedisLockoutError::Contention {
            attempts: MAX_CAS_ROUNDS,
        })
    }
}

fn decode_user(bytes: &[u8]) -> Result<UserRecord, RedisLockoutError> {
    if bytes.is_empty() {
        return Ok(UserRecord::EMPTY);
    }
    UserRecord::decode(bytes).map_err(|source| RedisLockoutError::Corrupt {
        record: "account",
        source,
    })
}

fn decode_source(bytes: &[u8]) -> Result<SourceRecord, RedisLockoutError> {
    if bytes.is_empty() {
        return Ok(SourceRecord::EMPTY);
    }
    SourceRecord::decode(bytes).map_err(|source| RedisLockoutError::Corrupt {
        record: "source",
        source,
    })
}

/// The bytes to store and their expiry; empty bytes (delete) for a lapsed record.
fn encode_user(policy: &Policy, now: u64, record: &UserRecord) -> (Vec<u8>, i64) {
    match user_ttl(policy, now, record) {
        None => (Vec::new(), 0),
        Some(ttl) => {
            let mut out = Vec::with_capacity(UserRecord::ENCODED_LEN);
            record.encode(&mut out);
            (out, i64::try_from(ttl).unwrap_or(i64::MAX))
        }
    }
}

fn encode_source(policy: &Policy, now: u64, record: &SourceRecord) -> (Vec<u8>, i64) {
    match source_ttl(policy, now, record) {
        None => (Vec::new(), 0),
        Some(ttl) => {
            let mut out = Vec::new();
            record.encode(&mut out);
            (out, i64::try_from(ttl).unwrap_or(i64::MAX))
        }
    }
}

#[async_trait]
impl LockoutStore for RedisLockoutStore {
    async fn check(&self, now: u64, attempt: &Attempt) -> Result<Decision, LockoutError> {
        self.bounded(async {
            let user_key = self.user_key(attempt.user);
            let source_key = self.source_key(attempt.source);
            let mut read = self
                .get(&[user_key.as_str(), source_key.as_str()])
                .await?
                .into_iter();
            let user = decode_user(&read.next().flatten().unwrap_or_default())?;
            let source = decode_source(&read.next().flatten().unwrap_or_default())?;
            let blocked = source.check(now);
            if !blocked.is_allow() {
                return Ok(blocked);
            }
            Ok(user.check(&self.policy, now, attempt.location, attempt.password))
        })
        .await
    }

    async fn record(
        &self,
        now: u64,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Result<(), LockoutError> {
        if outcome == Outcome::Failure {
            // Changes nothing, as in the policy: no round trip.
            return Ok(());
        }
        self.bounded(self.record_inner(now, attempt, outcome)).await
    }

    async fn unlock_user(&self, user: UserKey) -> Result<bool, LockoutError> {
        self.bounded(self.unlock_inner(user)).await
    }

    async fn unblock_source(&self, source: Source) -> Result<bool, LockoutError> {
        self.bounded(async {
            let mut conn = self.conn.clone();
            let deleted: i64 = redis::cmd("DEL")
                .arg(self.source_key(source))
                .query_async(&mut conn)
                .await
                .map_err(RedisLockoutError::Command)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn user_status(&self, now: u64, user: UserKey) -> Result<UserStatus, LockoutError> {
        self.bounded(async {
            let key = self.user_key(user);
            let bytes = self.get_one(&key).await?;
            Ok(decode_user(&bytes.unwrap_or_default())?.status(&self.policy, now))
        })
        .await
    }

    async fn source_status(&self, now: u64, source: Source) -> Result<SourceStatus, LockoutError> {
        self.bounded(async {
            let key = self.source_key(source);
            let bytes = self.get_one(&key).await?;
            Ok(decode_source(&bytes.unwrap_or_default())?.status(&self.policy, now))
        })
        .await
    }
}
