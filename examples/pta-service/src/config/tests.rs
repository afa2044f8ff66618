//! The configuration's unit tests.

use std::collections::HashMap;
use std::time::Duration;

use pta_cert::KeySize;

use super::{Config, ConfigError, parse_duration};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, &HashMap::new())
}

#[test]
fn empty_file_gives_the_defaults() {
    let config = parse("").unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.sign_in.deadline, Duration::from_secs(10));
    assert_eq!(config.tokens.lifetime, Duration::from_secs(3600));
    assert_eq!(config.tenants.agent_limit, 40);
    assert_eq!(config.tenants.ca_key_bits, KeySize::Rsa3072);
    assert!(config.api.tls);
    assert!(config.secrets.admin_token_file.is_none());
    let options = config.to_service_options();
    assert_eq!(options.sign_in_deadline, Duration::from_secs(10));
    assert_eq!(options.max_in_flight_per_agent, 256);
    assert_eq!(options.status, pta_service::StatusPolicy::default());
    assert_eq!(
        options.audit_retention,
        pta_service::AuditRetention::default()
    );
    assert_eq!(options.registrar, pta_service::Registrar::default());
    assert_eq!(
        config.database_path(),
        std::path::Path::new("/var/lib/pta-service/pta.sqlite3")
    );
}

#[test]
fn the_documented_example_parses_to_its_values() {
    let text = include_str!("../../pta-service.toml");
    let config = parse(text).unwrap();
    assert_eq!(config.agent.listen, "0.0.0.0:8443".parse().unwrap());
    assert_eq!(
        config.agent.endpoints,
        vec!["pta.example.com:8443".to_owned()]
    );
    assert_eq!(config.registration.listen, "0.0.0.0:8444".parse().unwrap());
    assert_eq!(config.api.listen, "127.0.0.1:8445".parse().unwrap());
    assert_eq!(config.sign_in.deadline, Duration::from_secs(10));
    assert_eq!(config.status.purge_after, Duration::from_secs(10 * 86_400));
    assert_eq!(
        config.secrets.api_keys_file.as_deref(),
        Some(std::path::Path::new("/etc/pta/api-keys"))
    );
}

#[test]
fn values_reach_the_service_options() {
    let config = parse(
        r#"
        data_dir = "/tmp/x"
        [agent]
        listen = "127.0.0.1:9000"
        endpoints = ["a.example:9000", "b.example:9001"]
        server_names = ["a.example"]
        max_in_flight = 7
        [sign_in]
        deadline = "1500ms"
        [tenants]
        ca_key_bits = 2048
        agent_certificate_lifetime = "30d"
        [status]
        inactive_after = 60
        purge_after = "2h"
        [audit]
        max_age = "1d"
        max_rows = 99
        "#,
    )
    .unwrap();
    let o = config.to_service_options();
    assert_eq!(o.agent_listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(o.agent_endpoints.len(), 2);
    assert_eq!(o.server_names, vec!["a.example".to_owned()]);
    assert_eq!(o.max_in_flight_per_agent, 7);
    assert_eq!(o.sign_in_deadline, Duration::from_millis(1500));
    assert_eq!(o.registrar.ca_key_size, KeySize::Rsa2048);
    assert_eq!(
        o.registrar.agent_certificate_lifetime,
        Duration::from_secs(30 * 86_400)
    );
    assert_eq!(o.status.inactive_after_ms, 60_000);
    assert_eq!(o.status.purge_after_ms, 7_200_000);
    assert_eq!(o.audit_retention.max_age_ms, 86_400_000);
    assert_eq!(o.audit_retention.max_rows, 99);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    assert_eq!(parse_duration("10d"), Some(Duration::from_secs(864_000)));
    // humantime, as every pta configuration: several units, weeks and fractions too.
    assert_eq!(parse_duration("1h 30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration(" 10 s "), Some(Duration::from_secs(10)));
    assert_eq!(parse_duration("2w"), Some(Duration::from_secs(14 * 86_400)));
    assert_eq!(
        parse_duration("30days"),
        Some(Duration::from_secs(30 * 86_400))
    );
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    for bad in [
        "",
        "10",
        "s",
        "10x",
        "-1s",
        "1h 30",
        "99999999999999999999d",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    let e = parse("[sign_in]\ndeadline = \"ten\"\n").unwrap_err();
    assert!(
        matches!(&e, ConfigError::Parse { line: 2, message, .. } if message.contains("invalid duration")),
        "{e}"
    );
    let e = parse("[sign_in]\n\ndeadline = -3\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 3, .. }), "{e}");
    let e = parse("[sign_in]\ndeadline = true\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let e =
        parse("data_dir = \"/x\"\n\n[api]\nlisten = \"127.0.0.1:1\"\ntsl = true\n").unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, ConfigError::Parse { line: 5, .. }), "{text}");
    assert!(text.contains("tsl") && text.contains("line 5"), "{text}");
    let e = parse("colour = 1\n").unwrap_err();
    assert!(
        e.to_string().contains("colour") && e.to_string().contains("line 1"),
        "{e}"
    );
    let e = parse("[nope]\n").unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn syntax_and_type_errors_have_lines() {
    let e = parse("data_dir = \"/x\"\n[agent\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
    let e = parse("[agent]\nlisten = \"not an address\"\n").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e}");
    let e = parse("[tenants]\nca_key_bits = 1024\n").unwrap_err();
    assert!(e.to_string().contains("2048, 3072 or 4096"), "{e}");
}

#[test]
fn plain_secrets_are_refused_without_echo() {
    let e = parse("[secrets]\n\nadmin_token = \"hunter2hunter2hunter2\"\n").unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            ConfigError::PlainSecret {
                key: "secrets.admin_token",
                line: 3,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("PTA_ADMIN_TOKEN") && !text.contains("hunter2"),
        "{text}"
    );
    let e = parse("[secrets]\napi_keys = [\"k-0123456789abcdef\"]\n").unwrap_err();
    assert!(e.to_string().contains("PTA_API_KEYS") && !e.to_string().contains("k-0123"));
}

#[test]
fn environment_overrides() {
    let e = env(&[
        ("PTA_DATA_DIR", "/srv/pta"),
        ("PTA_AGENT_LISTEN", "127.0.0.1:1001"),
        ("PTA_REGISTRATION_LISTEN", "[::1]:1002"),
        ("PTA_API_LISTEN", "127.0.0.1:1003"),
        ("PTA_LOG", "debug,hyper=warn"),
        ("PTA_LOG_JSON", "true"),
        ("UNRELATED", "x"),
    ]);
    let config = Config::parse("data_dir = \"/x\"\n[log]\njson = false\n", &e).unwrap();
    assert_eq!(config.data_dir, std::path::Path::new("/srv/pta"));
    assert_eq!(config.agent.listen, "127.0.0.1:1001".parse().unwrap());
    assert_eq!(config.registration.listen, "[::1]:1002".parse().unwrap());
    assert_eq!(config.api.listen, "127.0.0.1:1003".parse().unwrap());
    assert_eq!(config.log.level, "debug,hyper=warn");
    assert!(config.log.json);
    let config = Config::parse("", &env(&[("PTA_LOG_JSON", "0")])).unwrap();
    assert!(!config.log.json);
}

#[test]
fn bad_environment_values_are_named() {
    for (var, value) in [
        ("PTA_AGENT_LISTEN", "localhost"),
        ("PTA_REGISTRATION_LISTEN", "1.2.3.4"),
        ("PTA_API_LISTEN", ""),
        ("PTA_LOG_JSON", "maybe"),
        ("PTA_DATA_DIR", ""),
    ] {
        let e = Config::parse("", &env(&[(var, value)])).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Env { var: v, .. } if *v == var),
            "{e}"
        );
        assert!(e.to_string().contains(var));
    }
}

#[test]
fn out_of_range_values_are_named() {
    for (text, key) in [
        ("data_dir = \"\"", "data_dir"),
        ("[agent]\nserver_names = []", "agent.server_names"),
        ("[agent]\nserver_names = [\" \"]", "agent.server_names"),
        ("[agent]\nendpoints = [\"nohost\"]", "agent.endpoints"),
        ("[agent]\nendpoints = [\"h:0\"]", "agent.endpoints"),
        ("[agent]\nmax_in_flight = 0", "agent.max_in_flight"),
        (
            "[registration]\nrate_limit_per_minute = 0",
            "registration.rate_limit_per_minute",
        ),
        (
            "[registration]\nrate_limit_burst = 0",
            "registration.rate_limit_burst",
        ),
        ("[sign_in]\ndeadline = \"50ms\"", "sign_in.deadline"),
        ("[sign_in]\ndeadline = \"6m\"", "sign_in.deadline"),
        ("[tenants]\nagent_limit = 0", "tenants.agent_limit"),
        (
            "[tenants]\nagent_certificate_lifetime = \"1h\"",
            "tenants.agent_certificate_lifetime",
        ),
        ("[tokens]\nlifetime = \"8d\"", "tokens.lifetime"),
        ("[tokens]\nlifetime = 10", "tokens.lifetime"),
        ("[status]\ninactive_after = 0", "status.inactive_after"),
        (
            "[status]\ninactive_after = \"1h\"\npurge_after = \"1h\"",
            "status.purge_after",
        ),
        ("[audit]\nmax_age = 0", "audit.max_age"),
        ("[audit]\nmax_rows = 0", "audit.max_rows"),
        ("[log]\nlevel = \"\"", "log.level"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
            "{text}: {e}"
        );
        assert!(e.to_string().contains(key));
    }
}

#[test]
fn secrets_from_files_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin");
    let keys = dir.path().join("keys");
    std::fs::write(&admin, "admin-token-0123456789\n").unwrap();
    std::fs::write(
        &keys,
        "# front ends\nkey-one-0123456789\n\n  key-two-0123456789  \n",
    )
    .unwrap();
    let text = format!(
        "[secrets]\nadmin_token_file = {:?}\napi_keys_file = {:?}\n",
        admin.display().to_string(),
        keys.display().to_string()
    );
    let config = parse(&text).unwrap();
    let secrets = config.load_secrets(&HashMap::new()).unwrap();
    assert_eq!(
        secrets.admin_token.as_ref().unwrap().expose(),
        "admin-token-0123456789"
    );
    let got: Vec<_> = secrets.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(got, ["key-one-0123456789", "key-two-0123456789"]);
    let debug = format!("{secrets:?}");
    assert!(
        !debug.contains("0123456789") && debug.contains("[redacted]"),
        "{debug}"
    );
    let auth = secrets.api_auth();
    assert!(auth.has_admin_token());
    assert_eq!(auth.api_key_count(), 2);

    // The environment wins over the files.
    let e = env(&[
        ("PTA_ADMIN_TOKEN", "env-admin-0123456789"),
        ("PTA_API_KEYS", "env-key-a-0123456789, env-key-b-0123456789"),
    ]);
    let secrets = config.load_secrets(&e).unwrap();
    assert_eq!(
        secrets.admin_token.unwrap().expose(),
        "env-admin-0123456789"
    );
    let got: Vec<_> = secrets.api_keys.iter().map(|k| k.expose()).collect();
    assert_eq!(got, ["env-key-a-0123456789", "env-key-b-0123456789"]);

    // Nothing configured: nothing loaded.
    let none = Config::default().load_secrets(&HashMap::new()).unwrap();
    assert!(none.admin_token.is_none() && none.api_keys.is_empty());
}

#[test]
fn bad_secrets_are_refused_without_echo() {
    let config = Config::default();
    let e = config
        .load_secrets(&env(&[("PTA_ADMIN_TOKEN", "short-secret")]))
        .unwrap_err();
    assert!(matches!(&e, ConfigError::BadSecret { .. }), "{e}");
    assert!(e.to_string().contains("admin token") && !e.to_string().contains("short-secret"));
    let e = config
        .load_secrets(&env(&[(
            "PTA_API_KEYS",
            "good-key-0123456789,bad key with blanks!!",
        )]))
        .unwrap_err();
    assert!(
        e.to_string().contains("API key 2") && !e.to_string().contains("blanks"),
        "{e}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.secrets.admin_token_file = Some(dir.path().join("missing"));
    let e = config.load_secrets(&HashMap::new()).unwrap_err();
    assert!(matches!(
        &e,
        ConfigError::SecretFile {
            key: "secrets.admin_token_file",
            ..
        }
    ));
    let binary = dir.path().join("binary");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    config.secrets.admin_token_file = Some(binary);
    let e = config.load_secrets(&HashMap::new()).unwrap_err();
    assert!(matches!(&e, ConfigError::BadSecret { .. }), "{e}");
}

#[test]
fn missing_file_is_named() {
    let e = Config::load(
        std::path::Path::new("/nonexistent/pta.toml"),
        &HashMap::new(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/pta.toml"), "{e}");
}

#[cfg(unix)]
#[test]
fn data_dir_is_created_0700() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("a").join("state"),
        ..Config::default()
    };
    let db = config.create_data_dir().unwrap();
    assert_eq!(db, config.data_dir.join("pta.sqlite3"));
    let mode = std::fs::metadata(&config.data_dir)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // Again: an existing directory is fine.
    config.create_data_dir().unwrap();
    // A file in the way is an error naming the path.
    config.data_dir = dir.path().join("file");
    std::fs::write(&config.data_dir, b"x").unwrap();
    let e = config.create_data_dir().unwrap_err();
    assert!(matches!(e, ConfigError::DataDir { .. }), "{e}");
}

#[test]
fn lockout_secret_from_a_file() {
    // No file: no secret (the service generates one and warns).
    assert!(Config::default().load_lockout_secret().unwrap().is_none());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lockout.key");
    // Raw bytes, any of them, a trailing newline included.
    let mut bytes = vec![0xA5_u8; 31];
    bytes.push(b'\n');
    std::fs::write(&file, &bytes).unwrap();
    let text = format!(
        "[lockout]\nsecret_file = {:?}\n",
        file.display().to_string()
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.lockout.secret_file.as_deref(), Some(file.as_path()));
    let secret = config.load_lockout_secret().unwrap().unwrap();
    assert_eq!(format!("{secret:?}"), "LockoutSecret([redacted])");

    // The environment names another file.
    let other = dir.path().join("other.key");
    std::fs::write(&other, [7_u8; 48]).unwrap();
    let e = env(&[("PTA_LOCKOUT_SECRET_FILE", other.to_str().unwrap())]);
    let config = Config::parse(&text, &e).unwrap();
    assert_eq!(config.lockout.secret_file.as_deref(), Some(other.as_path()));
    assert!(config.load_lockout_secret().unwrap().is_some());
    let e = Config::parse("", &env(&[("PTA_LOCKOUT_SECRET_FILE", "")])).unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::Env {
                var: "PTA_LOCKOUT_SECRET_FILE",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn unreadable_lockout_secret_names_key_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.lockout.secret_file = Some(dir.path().join("missing.key"));
    let e = config.load_lockout_secret().unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::SecretFile {
                key: "lockout.secret_file",
                ..
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("lockout.secret_file") && text.contains("missing.key"),
        "{text}"
    );
}

#[test]
fn short_lockout_secret_is_refused_without_echo() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.key");
    std::fs::write(&file, "SHORTSECRET-0123456789abcdef\n").unwrap();
    let mut config = Config::default();
    config.lockout.secret_file = Some(file.clone());
    let e = config.load_lockout_secret().unwrap_err();
    assert!(
        matches!(
            &e,
            ConfigError::ShortSecretFile {
                key: "lockout.secret_file",
                len: 29,
                min: 32,
                ..
            }
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("lockout.secret_file") && text.contains("short.key") && text.contains("32"),
        "{text}"
    );
    assert!(!text.contains("SHORTSECRET"), "{text}");
}

#[test]
fn store_defaults_to_sqlite_in_data_dir() {
    use super::StoreTarget;
    let config = parse("data_dir = \"/srv/pta\"").unwrap();
    assert_eq!(
        config.store_target().unwrap(),
        StoreTarget::Sqlite("/srv/pta/pta.sqlite3".into())
    );
    assert!(config.postgres_config(&env(&[])).unwrap().is_none());
    let config = parse("[store]\nurl = \"sqlite:///tmp/x.sqlite3\"").unwrap();
    assert_eq!(
        config.store_target().unwrap(),
        StoreTarget::Sqlite("/tmp/x.sqlite3".into())
    );
    let config = parse("[store]\npath = \"/tmp/y.sqlite3\"").unwrap();
    assert_eq!(
        config.store_target().unwrap(),
        StoreTarget::Sqlite("/tmp/y.sqlite3".into())
    );
}

#[test]
fn postgres_store_takes_its_password_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg-password");
    std::fs::write(&file, "s3cret:p@ss\n").unwrap();
    let text = format!(
        "[store]\nurl = \"postgres://pta@127.0.0.1:5433/pta\"\npassword_file = {:?}\npool_size = 4\nconnect_timeout = \"2s\"\n",
        file.display().to_string()
    );
    let config = parse(&text).unwrap();
    match config.store_target().unwrap() {
        super::StoreTarget::Postgres { endpoint, .. } => assert_eq!(endpoint, "127.0.0.1:5433"),
        other => panic!("{other:?}"),
    }
    let pg = config.postgres_config(&env(&[])).unwrap().unwrap();
    assert_eq!(pg.url, "postgres://pta:s3cret%3Ap%40ss@127.0.0.1:5433/pta");
    assert_eq!(pg.pool_size, 4);
    assert_eq!(pg.connect_timeout, Duration::from_secs(2));
    assert!(!format!("{pg:?}{config:?}").contains("s3cret"));
    // The environment wins: the password itself, then a file it names.
    let pg = config
        .postgres_config(&env(&[("PTA_STORE_PASSWORD", "from-env")]))
        .unwrap()
        .unwrap();
    assert_eq!(pg.url, "postgres://pta:from-env@127.0.0.1:5433/pta");
    let other = dir.path().join("other");
    std::fs::write(&other, "other-file").unwrap();
    let pg = config
        .postgres_config(&env(&[(
            "PTA_STORE_PASSWORD_FILE",
            other.to_str().unwrap(),
        )]))
        .unwrap()
        .unwrap();
    assert_eq!(pg.url, "postgres://pta:other-file@127.0.0.1:5433/pta");
    // No password at all: the URL as written (trust or peer authentication).
    let config = parse("[store]\nurl = \"postgresql://pta@db.internal/pta\"").unwrap();
    let pg = config.postgres_config(&env(&[])).unwrap().unwrap();
    assert_eq!(pg.url, "postgresql://pta@db.internal/pta");
}

#[test]
fn passwords_in_urls_or_the_file_are_refused_without_echo() {
    for (text, key) in [
        (
            "[store]\nurl = \"postgres://pta:hunter2hunter2@db/pta\"",
            "store.url",
        ),
        (
            "[store]\nurl = \"postgres://pta@db/pta?password=hunter2hunter2\"",
            "store.url",
        ),
        (
            "[lockout]\nredis_url = \"redis://:hunter2hunter2@127.0.0.1:6379\"",
            "lockout.redis_url",
        ),
    ] {
        let e = parse(text).unwrap_err();
        assert!(
            matches!(e, ConfigError::PasswordInUrl { key: k, .. } if k == key),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("password_file"), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
    for (text, key) in [
        ("[store]\npassword = \"hunter2hunter2\"", "store.password"),
        (
            "[lockout]\nredis_password = \"hunter2hunter2\"",
            "lockout.redis_password",
        ),
    ] {
        let e = parse(text).unwrap_err();
        assert!(
            matches!(e, ConfigError::PlainSecret { key: k, .. } if k == key),
            "{e:?}"
        );
        assert!(!e.to_string().contains("hunter2"));
    }
}

#[test]
fn bad_store_values_are_named() {
    for (text, key) in [
        ("[store]\nurl = \"mysql://x@y/z\"", "store.url"),
        ("[store]\nurl = \"postgres://db/pta\"", "store.url"),
        ("[store]\nurl = \"sqlite://\"", "store.url"),
        (
            "[store]\nurl = \"sqlite:///a\"\npath = \"/b\"",
            "store.path",
        ),
        ("[store]\npool_size = 0", "store.pool_size"),
        (
            "[store]\nconnect_timeout = \"10ms\"",
            "store.connect_timeout",
        ),
        ("[lockout]\nstore = \"redis\"", "lockout.redis_url"),
        (
            "[lockout]\nstore = \"memory\"\nredis_url = \"redis://127.0.0.1:6379\"",
            "lockout.redis_url",
        ),
        (
            "[lockout]\nredis_url = \"http://127.0.0.1:6379\"",
            "lockout.redis_url",
        ),
        (
            "[lockout]\nredis_url = \"redis://h:1\"\nkey_prefix = \"\"",
            "lockout.key_prefix",
        ),
    ] {
        match parse(text) {
            Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn lockout_policy_knobs_and_tenant_overrides() {
    let text = r#"
[lockout]
threshold = 5
lockout_duration = "2m"
max_lockout_duration = "2h"
quiet_period = "30m"
familiar_window = "14d"
repeat_window = "off"
spray_threshold = 20
spray_window = "5m"
spray_block_duration = "1h"

[lockout.tenants."contoso"]
threshold = 3
repeat_window = "10m"

[lockout.tenants."fabrikam"]
spray_threshold = 50
"#;
    let config = parse(text).unwrap();
    let (global, tenants) = config.lockout_policies().unwrap();
    assert_eq!(global.threshold, 5);
    assert_eq!(global.lockout_duration, Duration::from_secs(120));
    assert_eq!(global.max_lockout_duration, Duration::from_secs(7200));
    assert_eq!(global.quiet_period, Duration::from_secs(1800));
    assert_eq!(global.familiar_window, Duration::from_secs(14 * 86_400));
    assert_eq!(global.repeat_window, None);
    assert_eq!(global.spray_threshold, 20);
    assert_eq!(global.spray_window, Duration::from_secs(300));
    assert_eq!(global.spray_block_duration, Duration::from_secs(3600));
    let contoso = &tenants["contoso"];
    assert_eq!(contoso.threshold, 3);
    assert_eq!(contoso.repeat_window, Some(Duration::from_secs(600)));
    assert_eq!(
        contoso.spray_threshold, 20,
        "inherited from the global knobs"
    );
    assert_eq!(tenants["fabrikam"].threshold, 5);
    assert_eq!(tenants["fabrikam"].spray_threshold, 50);
    // Memory: the runtime gets the policies.
    let options = config.to_service_options();
    assert_eq!(options.lockout, global);
    assert_eq!(options.lockout_tenant_policies.len(), 2);
    assert_eq!(options.lockout_tenant_policies["contoso"].threshold, 3);
    assert!(options.lockout_store.is_none());
    // No knob: the defaults.
    let (global, tenants) = parse("").unwrap().lockout_policies().unwrap();
    assert_eq!(global, pta_lockout::Policy::default());
    assert!(tenants.is_empty());
}

#[test]
fn bad_lockout_policies_are_named() {
    for (text, key) in [
        ("[lockout]\nthreshold = 0", "lockout.threshold"),
        (
            "[lockout]\nlockout_duration = \"2h\"",
            "lockout.max_lockout_duration",
        ),
        (
            "[lockout]\nspray_threshold = 2000",
            "lockout.spray_threshold",
        ),
        ("[lockout]\nquiet_period = 0", "lockout.quiet_period"),
        (
            "[lockout.tenants.\"contoso\"]\nspray_window = 0",
            "lockout.tenants.\"contoso\".spray_window",
        ),
        (
            "[lockout.tenants.\"\"]\nthreshold = 3",
            "lockout.tenants.\"\"",
        ),
    ] {
        match parse(text) {
            Err(ConfigError::LockoutPolicy { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    // Unknown knobs are refused with their line, in the tenant tables too.
    let e = parse("[lockout.tenants.\"contoso\"]\n\nthreshhold = 3").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 3, .. }), "{e:?}");
    let e = parse("[lockout]\nthreshold = 300").unwrap_err();
    assert!(matches!(e, ConfigError::Parse { line: 2, .. }), "{e:?}");
}

#[test]
fn redis_lockout_settings_with_the_password_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis-password");
    std::fs::write(&file, "r3dis-pw\n").unwrap();
    let text = format!(
        "[lockout]\nredis_url = \"redis://127.0.0.1:6390/2\"\nredis_password_file = {:?}\nkey_prefix = \"eu:\"\ntimeout = \"250ms\"\n[lockout.tenants.\"ab\"]\nthreshold = 3\n",
        file.display().to_string()
    );
    let config = parse(&text).unwrap();
    assert_eq!(config.lockout_backend(), super::LockoutBackend::Redis);
    let redis = config.redis_config(&env(&[])).unwrap().unwrap();
    assert_eq!(redis.url, "redis://:r3dis-pw@127.0.0.1:6390/2");
    assert_eq!(redis.key_prefix, "eu:");
    assert_eq!(redis.timeout, Duration::from_millis(250));
    assert!(!format!("{redis:?}").contains("r3dis"));
    assert_eq!(config.tenant_key_prefix("ab"), "eu:t:6162:");
    let redis = config
        .redis_config(&env(&[("PTA_LOCKOUT_REDIS_PASSWORD", "env-pw")]))
        .unwrap()
        .unwrap();
    assert_eq!(redis.url, "redis://:env-pw@127.0.0.1:6390/2");
    // Redis: the runtime gets stores from the command, not policies to build memory stores.
    assert!(
        config
            .to_service_options()
            .lockout_tenant_policies
            .is_empty()
    );
    assert!(
        parse("")
            .unwrap()
            .redis_config(&env(&[]))
            .unwrap()
            .is_none()
    );
}
