//! The Redis fixture: answers over a raw socket, stops, restarts on the same port, and leaves
//! nothing behind.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pta_testkit::{Redis, port_is_open, process_is_alive};

/// Sends one RESP command and reads one reply line.
fn command(port: u16, parts: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut out = format!("*{}\r\n", parts.len());
    for p in parts {
        out.push_str(&format!("${}\r\n{p}\r\n", p.len()));
    }
    stream.write_all(out.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).unwrap();
        reply.push(byte[0]);
    }
    String::from_utf8(reply).unwrap()
}

#[test]
fn redis_answers_stops_restarts_and_is_gone_after_drop() {
    let mut redis = Redis::start().expect("redis-server starts");
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
    assert!(redis.ping());
    assert_eq!(command(port, &["PING"]), "+PONG\r\n");
    assert_eq!(command(port, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(command(port, &["GET", "k"]), "$1\r\n");
    // Protected mode is on, and nothing is persisted.
    assert!(
        command(port, &["CONFIG", "GET", "protected-mode"]).starts_with("*2"),
        "CONFIG GET answers"
    );

    let first = redis.pid().expect("running");
    assert!(process_is_alive(first));
    redis.stop();
    assert_eq!(redis.pid(), None);
    assert!(!process_is_alive(first), "redis {first} still runs");
    assert!(!port_is_open(port));
    assert!(!redis.ping());
    redis.stop(); // twice is fine

    redis.restart().expect("redis-server restarts");
    assert_eq!(redis.port(), port);
    let second = redis.pid().expect("running again");
    assert_ne!(first, second);
    assert_eq!(command(port, &["PING"]), "+PONG\r\n");
    // A restarted server is empty.
    assert_eq!(command(port, &["EXISTS", "k"]), ":0\r\n");
    // Restart of a running server works too.
    redis.restart().expect("restart while running");
    assert!(redis.ping());

    let (pid, dir) = (redis.pid().expect("running"), redis.dir().to_owned());
    assert!(dir.is_dir());
    drop(redis);
    assert!(!process_is_alive(pid), "redis {pid} still runs");
    assert!(!port_is_open(port), "port {port} still open");
    assert!(!dir.exists(), "{} left behind", dir.display());
}
