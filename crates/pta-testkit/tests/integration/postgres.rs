//! The PostgreSQL fixture: it answers on its port, isolates databases, restarts on the same
//! port with its data, and leaves nothing behind.

use std::process::Command;

use pta_testkit::{Postgres, port_is_open, process_is_alive};

/// Whether `pg_isready` (from the fixture's PATH or Debian's directory) says the server accepts
/// sessions.
fn pg_isready(port: u16) -> bool {
    let dir = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pg_isready"))
        .find(|p| p.is_file())
        .expect("pg_isready installed");
    Command::new(dir)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .status()
        .unwrap()
        .success()
}

#[test]
fn postgres_answers_restarts_and_is_gone_after_drop() {
    let started = std::time::Instant::now();
    let mut pg = Postgres::start().expect("postgres starts");
    eprintln!(
        "postgres fixture start (initdb, listen): {:?}",
        started.elapsed()
    );
    let (port, pid, dir) = (pg.port(), pg.pid().unwrap(), pg.dir().to_owned());
    assert!(port_is_open(port));
    assert!(pg_isready(port));
    assert!(process_is_alive(pid));
    assert_eq!(pg.host(), "127.0.0.1");
    assert_eq!(pg.password().len(), 32);
    assert_eq!(
        pg.url(),
        format!(
            "postgres://pta_test:{}@127.0.0.1:{port}/pta_test",
            pg.password()
        )
    );
    // Over TCP the test role must give its password (scram-sha-256).
    let hba = std::fs::read_to_string(dir.join("data/pg_hba.conf")).unwrap();
    assert!(
        hba.contains("host all all 127.0.0.1/32 scram-sha-256"),
        "{hba}"
    );
    let listen = pg.psql("SHOW listen_addresses").unwrap();
    assert_eq!(listen.trim(), "127.0.0.1");

    let url = pg.create_database("isolated_one").unwrap();
    assert!(url.ends_with(&format!("127.0.0.1:{port}/isolated_one")));
    let owner = pg
        .psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'isolated_one'")
        .unwrap();
    assert_eq!(owner.trim(), "pta_test");
    assert!(pg.create_database("isolated_one").is_err(), "a taken name");
    assert!(pg.create_database("Bad-Name; DROP").is_err());

    // Stop and start again: same port, data kept.
    pg.stop();
    assert!(pg.pid().is_none());
    assert!(
        !process_is_alive(pid),
        "postgres {pid} still runs after stop"
    );
    assert!(!port_is_open(port));
    pg.start_again().expect("postgres starts again");
    assert_eq!(pg.port(), port);
    assert!(pg_isready(port));
    let found = pg
        .psql("SELECT count(*) FROM pg_database WHERE datname = 'isolated_one'")
        .unwrap();
    assert_eq!(found.trim(), "1");

    let pid = pg.pid().unwrap();
    drop(pg);
    assert!(!process_is_alive(pid), "postgres {pid} still runs");
    assert!(!port_is_open(port), "port {port} still open");
    assert!(!dir.exists(), "{} left behind", dir.display());
}
