//! Connecting: a typed error naming host and port, never the password.

use std::time::Duration;

use pta_lockout::Policy;
use pta_lockout_redis::{RedisLockoutConfig, RedisLockoutError, RedisLockoutStore};

use crate::start_redis;

#[tokio::test]
async fn a_closed_port_is_a_connect_error_naming_host_and_port_without_the_password() {
    let mut redis = start_redis();
    let port = redis.port();
    redis.stop();
    let config = RedisLockoutConfig::new(format!("redis://:hunter2-secret@127.0.0.1:{port}"));
    assert!(!format!("{config:?}").contains("hunter2"));
    let err = RedisLockoutStore::connect(Policy::default(), config)
        .await
        .unwrap_err();
    match &err {
        RedisLockoutError::Connect { host, port: p, .. }
        | RedisLockoutError::ConnectTimeout { host, port: p, .. } => {
            assert_eq!(host, "127.0.0.1");
            assert_eq!(*p, port);
        }
        other => panic!("{other:?}"),
    }
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn bad_settings_are_refused() {
    let redis = start_redis();
    let mut config = RedisLockoutConfig::new(redis.url());
    config.timeout = Duration::ZERO;
    assert!(matches!(
        RedisLockoutStore::connect(Policy::default(), config).await,
        Err(RedisLockoutError::InvalidConfig { field: "timeout" })
    ));
    let mut config = RedisLockoutConfig::new(redis.url());
    config.key_prefix = String::new();
    assert!(matches!(
        RedisLockoutStore::connect(Policy::default(), config).await,
        Err(RedisLockoutError::InvalidConfig {
            field: "key_prefix"
        })
    ));
    let policy = {
        let mut p = Policy::default();
        p.threshold = 0;
        p
    };
    assert!(matches!(
        RedisLockoutStore::connect(policy, RedisLockoutConfig::new(redis.url())).await,
        Err(RedisLockoutError::Policy(_))
    ));
    assert!(matches!(
        RedisLockoutStore::connect(Policy::default(), RedisLockoutConfig::new("http://x")).await,
        Err(RedisLockoutError::InvalidUrl(_))
    ));
    // No TLS support in this build: a rediss:// URL is refused, not downgraded.
    assert!(matches!(
        RedisLockoutStore::connect(
            Policy::default(),
            RedisLockoutConfig::new("rediss://127.0.0.1:6380")
        )
        .await,
        Err(RedisLockoutError::InvalidUrl(_))
    ));
    // A working store prints no URL.
    let s = RedisLockoutStore::connect(Policy::default(), RedisLockoutConfig::new(redis.url()))
        .await
        .unwrap();
    assert!(!format!("{s:?}").contains("redis://"));
}
