//! Real directory servers as test fixtures: a private OpenLDAP ([`Slapd`]) and a Samba Active
//! Directory domain controller ([`SambaAd`]), both on 127.0.0.1, a private Redis ([`Redis`]) for
//! shared-state stores, with TLS from a throw-away
//! test CA ([`TestCa`]) and a documented matrix of users whose bind outcomes are pinned by this
//! crate's integration tests.
//!
//! Tests of real directory behaviour in the other crates start one of these instead of a mock.
//! A fixture that cannot start returns an [`Error`] saying why (missing package, port taken,
//! the server's own log): tests `.expect()` it and fail; they never skip. Install the servers
//! with `scripts/install-deps.sh` (as root).
//!
//! ```no_run
//! let slapd = pta_testkit::Slapd::start().expect("slapd starts");
//! let alice = slapd.user(pta_testkit::Role::Good).expect("matrix has a good user");
//! println!("bind {} at {} trusting:\n{}", alice.dn, slapd.ldaps_url(), slapd.ca_pem());
//! // slapd is stopped and its directory removed when `slapd` drops.
//! ```
//!
//! # OpenLDAP ([`Slapd`])
//!
//! A new slapd per fixture: own temporary directory, free ports for `ldap://` (StartTLS works
//! on it) and `ldaps://`, mdb database, ppolicy overlay (lockout after 3 failures, must-change
//! after reset, new passwords of at least 8 characters and not among the last 3, and a one-day
//! maximum age for the expired user). Starts in about 0.1 s plus key generation and bulk-user
//! loading. [`SlapdOptions::allow_empty_password_binds`] makes a DN with an empty password bind
//! as anonymous, as Windows AD does; [`SlapdOptions::log_operations`] logs every operation so a
//! test can see which binds reached the server ([`Slapd::log`]).
//!
//! | role | login (`uid`) | password | bind as DN with the right password gives |
//! | --- | --- | --- | --- |
//! | Good | `alice` | `Alice-Passw0rd!` | 0, ppolicy control `30 00` |
//! | AlternateLogin (`mail: bob.smith@mail.example.test`) | `bob` | `Bob-Passw0rd!` | 0, `30 00` |
//! | AdminLocked | `carol` | `Carol-Passw0rd!` | 49, accountLocked `30 03 81 01 01` |
//! | FailureLocked | `dave` | `Dave-Passw0rd!` | 49, accountLocked |
//! | PasswordExpired | `erin` | `Erin-Passw0rd!` | 49, passwordExpired `30 03 81 01 00` |
//! | MustChange | `frank` | `Frank-Passw0rd!` | 0, changeAfterReset `30 03 81 01 02` |
//! | Spare | `grace` | `Grace-Passw0rd!` | 0, `30 00` (locked after 3 bad binds) |
//! | Service (`cn=svc-pta,ou=services`) | `svc-pta` | `Service-Passw0rd!` | 0, `30 00` |
//! | 300 bulk users (`uid=bulk00000,ou=bulk` ...) | `bulk00000` ... | `Bulk-Passw0rd!` | 0 |
//!
//! Users are `uid=NAME,ou=people,dc=example,dc=test` with {SSHA} passwords. A wrong password
//! gives 49 with `30 00`; a locked user gives 49 with accountLocked even with a wrong password
//! (`ppolicy_use_lockout`). A mail address used as a bind DN gives 34 (invalidDNSyntax). A DN
//! with an empty password gives 53 (unwillingToPerform), or 0 with
//! `allow_empty_password_binds`. Without the ppolicy request control, locked and expired users
//! look like a wrong password (49, no control) and the must-change bind succeeds. Anonymous
//! searches below the base get 50 (insufficientAccessRights); the service account reads
//! everything except passwords.
//!
//! # Samba AD ([`SambaAd`])
//!
//! Domain `EXAMPLE.TEST` (NetBIOS `EXAMPLE`), base `DC=example,DC=test`, LDAP on
//! 127.0.0.1:389 and LDAPS on :636 (fixed ports: one fixture at a time per machine, see
//! [`SambaAd`]). Lockout threshold 3; minimum password length 7, history 24, no complexity
//! rules; `old password allowed period = 0`, so an old password stops working at once after a
//! change (Samba's default keeps it valid for an hour). Users are
//! `CN=NAME,CN=Users,DC=example,DC=test`.
//!
//! | role | login (UPN) | password | bind with the right password gives |
//! | --- | --- | --- | --- |
//! | Good | `alice@example.test` | `Alice-Passw0rd!` | 0 |
//! | AlternateLogin (`mail: bob.smith@alt.test`) | `bob@alt.test` | `Bob-Passw0rd!` | 0 |
//! | Disabled | `carol@example.test` | `Carol-Passw0rd!` | 49, `data 533` |
//! | FailureLocked | `dave@example.test` | `Dave-Passw0rd!` | 49, `data 775` |
//! | PasswordExpired | `erin@example.test` | `Erin-Passw0rd!` | 49, `data 532` |
//! | MustChange (`pwdLastSet=0`) | `frank@example.test` | `Frank-Passw0rd!` | 49, `data 773` |
//! | AccountExpired | `ivan@example.test` | `Ivan-Passw0rd!` | 49, `data 701` |
//! | Spare | `grace@example.test` | `Grace-Passw0rd!` | 0 (`775` after 3 bad binds) |
//! | Service | `svc-pta@example.test` | `Service-Passw0rd!` | 0 |
//!
//! The diagnostic message of result 49 reads `80090308: LdapErr: DSID-..., comment:
//! AcceptSecurityContext error, data XXX, v1db1`. A wrong password, an unknown user and an
//! empty password all give `data 52e` (the empty one also counts as a bad password); the
//! account-state codes appear only with the right password, except `775`, which a locked
//! account gives for any password. Bind names accepted: UPN, `NAME@example.test`,
//! `EXAMPLE\NAME`, the DN; a bare `NAME` or a mail address gives `52e`.
//!
//! # HTTP proxy ([`Tinyproxy`])
//!
//! A private tinyproxy on 127.0.0.1 (free port, clients from 127.0.0.1 only, `CONNECT` to any
//! port), optionally requiring basic authentication, started in the foreground and killed by its
//! process id on drop. Its log shows each `CONNECT`, so a test can prove that traffic went
//! through it.
//!
//! # Redis ([`Redis`])
//!
//! A private `redis-server` (Debian's package) per fixture: own temporary directory, a free port
//! on 127.0.0.1 only, protected mode on, no persistence, started in the foreground and ready
//! when it answers a raw `PING` (at most 10 s). [`Redis::stop`] kills it by its process id and
//! keeps the port; [`Redis::restart`] starts a new, empty server on the same port, so a test can
//! make a store vanish mid-run and come back. Dropping the fixture stops the server and removes
//! its directory. [`Redis::url`] gives `redis://127.0.0.1:PORT`.
//!
//! ```no_run
//! let mut redis = pta_testkit::Redis::start().expect("redis-server starts");
//! assert!(redis.ping());
//! redis.stop();
//! redis.restart().expect("redis-server restarts on the same port");
//! println!("connect to {}", redis.url());
//! // The server is stopped and its directory removed when `redis` drops.
//! ```
//!
//! # NATS ([`Nats`])
//!
//! A private `nats-server` (Debian's package) per fixture: own temporary directory, a free
//! client port on 127.0.0.1 only, no monitoring port, no cluster, no JetStream, ready when it
//! greets a client with `INFO` (at most 10 s). [`Nats::stop`] and [`Nats::restart`] take it away
//! and bring it back on the same port; [`Nats::pause`] and [`Nats::resume`] freeze and thaw it
//! (SIGSTOP, SIGCONT). [`Nats::url`] gives `nats://127.0.0.1:PORT`.
//!
//! ```no_run
//! let mut nats = pta_testkit::Nats::start().expect("nats-server starts");
//! assert!(nats.is_serving());
//! nats.pause();
//! nats.resume();
//! println!("connect to {}", nats.url());
//! // The server is stopped and its directory removed when `nats` drops.
//! ```
//!
//! # PostgreSQL ([`Postgres`])
//!
//! A fresh cluster per fixture (`initdb` from Debian's `/usr/lib/postgresql/<version>/bin`,
//! newest version installed) in its own temporary directory (`pta-testkit-postgres-*`), on a
//! free port of 127.0.0.1 with its Unix socket in that directory. Run as root, the server runs
//! as Debian's `postgres` system user (PostgreSQL refuses root). The test role `pta_test` has a
//! generated password ([`Postgres::password`]) checked with scram-sha-256 over TCP, may create
//! databases, and owns the database `pta_test` ([`Postgres::url`]). One server, a fresh
//! database per test: [`Postgres::create_database`] creates one and returns its URL.
//! [`Postgres::stop`] and [`Postgres::start_again`] restart it on the same port with its data,
//! for fault tests. Durability is off (`fsync = off`) for speed. Debian's own cluster, if the
//! package created one, is never started.
//!
//! ```no_run
//! let pg = pta_testkit::Postgres::start().expect("postgres starts");
//! let url = pg.create_database("my_test").expect("database created");
//! println!("connect to {url}");
//! // The server is stopped and its directory removed when `pg` drops.
//! ```
//!
//! # Environment
//!
//! `PTA_TESTKIT_DIR` (default `/var/tmp/pta-testkit`) holds the Samba lock, the pristine copy and
//! the running copy. OpenLDAP, Redis, NATS and PostgreSQL fixtures live in the system temporary
//! directory (`pta-testkit-slapd-*`, `pta-testkit-redis-*`, `pta-testkit-nats-*`,
//! `pta-testkit-postgres-*`).

#![forbid(unsafe_code)]

mod error;
mod nats;
mod postgres;
mod process;
mod proxy;
mod redis;
mod samba;
mod slapd;
mod tls;
mod users;

pub use error::{Error, Result};
pub use nats::Nats;
pub use postgres::Postgres;
pub use process::{port_is_open, process_is_alive};
pub use proxy::Tinyproxy;
pub use redis::Redis;
pub use samba::{SambaAd, StartReport, fixture_dir};
pub use slapd::{Slapd, SlapdOptions};
pub use tls::TestCa;
pub use users::{
    Expected, Ppolicy, Role, SAMBA_ALT_SUFFIX, SAMBA_BASE_DN, SAMBA_DOMAIN, SAMBA_REALM,
    SAMBA_USERS, SLAPD_BASE_DN, SLAPD_BULK_PASSWORD, SLAPD_USERS, TestUser,
};
