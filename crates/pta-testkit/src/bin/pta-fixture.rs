//! `pta-fixture slapd [--bulk-users N] | samba | postgres | redis`: starts one fixture, prints
//! one JSON line describing it (for a directory: URLs, base DN, CA file, service account, bulk
//! users, server PID; for PostgreSQL: host, port, role, password, database; for Redis: its
//! URL) and keeps it running until standard input closes; then stops it and removes its files.
//!
//! For scripts (`scripts/bench.sh`): run it with standard input on a pipe or FIFO the script
//! holds open, and close that to stop the fixture. Exit codes: 0 after a clean stop, 1 when
//! the fixture could not start (reason on standard error), 2 on a usage error.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use pta_testkit::{
    Postgres, Redis, Role, SLAPD_BASE_DN, SLAPD_BULK_PASSWORD, SambaAd, Slapd, SlapdOptions,
    TestUser,
};

const USAGE: &str =
    "usage: pta-fixture slapd [--bulk-users N] | pta-fixture samba | postgres | redis";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str);
    match kind {
        Some("slapd") => {
            let mut options = SlapdOptions::default();
            match args.get(1..).unwrap_or_default() {
                [] => {}
                [flag, n] if flag == "--bulk-users" => match n.parse() {
                    Ok(n) => options.bulk_users = n,
                    Err(_) => return usage(),
                },
                _ => return usage(),
            }
            match Slapd::start_with(options) {
                Ok(slapd) => {
                    let (service_dn, _, service_password) = role(slapd.users(), Role::Service);
                    let line = format!(
                        "{{\"kind\":\"slapd\",\"ldap_url\":{},\"ldaps_url\":{},\"base_dn\":{},\
                         \"ca_file\":{},\"service_dn\":{},\"service_password\":{},\
                         \"bulk_users\":{},\"bulk_password\":{},\
                         \"bulk_dn_pattern\":{},\"pid\":{}}}",
                        quote(&slapd.ldap_url()),
                        quote(&slapd.ldaps_url()),
                        quote(SLAPD_BASE_DN),
                        quote_path(slapd.ca().ca_path()),
                        quote(service_dn),
                        quote(service_password),
                        slapd.bulk_users(),
                        quote(SLAPD_BULK_PASSWORD),
                        quote(&format!("uid=bulk{{i:05}},ou=bulk,{SLAPD_BASE_DN}")),
                        slapd.pid(),
                    );
                    serve(&line)
                }
                Err(e) => fail(&e),
            }
        }
        Some("samba") if args.len() == 1 => match SambaAd::start() {
            Ok(samba) => {
                let (service_dn, _, service_password) = role(samba.users(), Role::Service);
                let (_, good_login, good_password) = role(samba.users(), Role::Good);
                let line = format!(
                    "{{\"kind\":\"samba\",\"ldap_url\":{},\"ldaps_url\":{},\"base_dn\":{},\
                     \"ca_file\":{},\"service_dn\":{},\"service_password\":{},\
                     \"good_login\":{},\"good_password\":{},\"realm\":{},\"pid\":{}}}",
                    quote(&samba.ldap_url()),
                    quote(&samba.ldaps_url()),
                    quote(samba.base_dn()),
                    quote_path(samba.ca().ca_path()),
                    quote(service_dn),
                    quote(service_password),
                    quote(good_login),
                    quote(good_password),
                    quote(samba.realm()),
                    samba.pid(),
                );
                serve(&line)
            }
            Err(e) => fail(&e),
        },
        Some("postgres") if args.len() == 1 => match Postgres::start() {
            Ok(pg) => {
                let line = format!(
                    "{{\"kind\":\"postgres\",\"host\":{},\"port\":{},\"role\":{},\
                     \"password\":{},\"database\":{},\"pid\":{}}}",
                    quote(pg.host()),
                    pg.port(),
                    quote(pg.role()),
                    quote(pg.password()),
                    quote(pg.database()),
                    pg.pid().unwrap_or(0),
                );
                serve(&line)
            }
            Err(e) => fail(&e),
        },
        Some("redis") if args.len() == 1 => match Redis::start() {
            Ok(redis) => {
                let line = format!(
                    "{{\"kind\":\"redis\",\"url\":{},\"port\":{},\"pid\":{}}}",
                    quote(&redis.url()),
                    redis.port(),
                    redis.pid().unwrap_or(0),
                );
                serve(&line)
            }
            Err(e) => fail(&e),
        },
        _ => usage(),
    }
}

/// DN, login and password of the user of `role` (empty strings if the matrix lacks it).
fn role(users: &'static [TestUser], role: Role) -> (&'static str, &'static str, &'static str) {
    users
        .iter()
        .find(|u| u.role == role)
        .map_or(("", "", ""), |u| (u.dn, u.login, u.password))
}

fn serve(line: &str) -> ExitCode {
    let mut out = std::io::stdout();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        return ExitCode::FAILURE;
    }
    // Until standard input closes (EOF or error), then the fixture drops.
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    ExitCode::SUCCESS
}

fn fail(e: &pta_testkit::Error) -> ExitCode {
    eprintln!("pta-fixture: {e}");
    ExitCode::FAILURE
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
