//! The NATS fixture: carries a message over its raw protocol, stops, restarts on the same port,
//! pauses and resumes, and leaves nothing behind.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use pta_testkit::{Nats, port_is_open, process_is_alive};

/// A raw client: reads the greeting, sends CONNECT, and can exchange lines.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nats");
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut client = Self {
            reader: BufReader::new(stream),
            writer,
        };
        assert!(client.line().starts_with("INFO {"));
        client.send("CONNECT {\"verbose\":false,\"pedantic\":true}\r\n");
        client
    }

    fn send(&mut self, s: &str) {
        self.writer.write_all(s.as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    /// PING, then the next line that is not a server PING.
    fn ping(&mut self) -> String {
        self.send("PING\r\n");
        self.line()
    }
}

#[test]
fn nats_relays_stops_restarts_pauses_and_is_gone_after_drop() {
    let mut nats = Nats::start().expect("nats-server starts");
    let port = nats.port();
    assert_eq!(nats.url(), format!("nats://127.0.0.1:{port}"));
    assert!(nats.is_serving());

    // One message from a publisher to a subscriber.
    let mut sub = Client::connect(port);
    sub.send("SUB pta.test 1\r\n");
    assert_eq!(sub.ping(), "PONG\r\n");
    let mut publisher = Client::connect(port);
    publisher.send("PUB pta.test 5\r\nhello\r\n");
    assert_eq!(publisher.ping(), "PONG\r\n");
    assert_eq!(sub.line(), "MSG pta.test 1 5\r\n");
    assert_eq!(sub.line(), "hello\r\n");

    // Paused: connections stay, nothing is answered; resumed: it answers again.
    assert!(nats.pause());
    let mut frozen = TcpStream::connect(("127.0.0.1", port)).expect("the kernel still accepts");
    frozen
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 5];
    assert!(
        std::io::Read::read(&mut frozen, &mut buf).is_err(),
        "a paused server greets"
    );
    assert!(nats.resume());
    assert_eq!(sub.ping(), "PONG\r\n");

    let first = nats.pid().expect("running");
    nats.stop();
    assert_eq!(nats.pid(), None);
    assert!(!process_is_alive(first), "nats {first} still runs");
    assert!(!port_is_open(port));
    assert!(!nats.is_serving());
    nats.stop(); // twice is fine

    nats.restart().expect("nats-server restarts");
    assert_eq!(nats.port(), port);
    let second = nats.pid().expect("running again");
    assert_ne!(first, second);
    assert_eq!(Client::connect(port).ping(), "PONG\r\n");
    // A paused server can be stopped too.
    assert!(nats.pause());
    nats.restart().expect("restart of a paused server");
    assert!(nats.is_serving());

    let (pid, dir) = (nats.pid().expect("running"), nats.dir().to_owned());
    assert!(dir.join("nats.conf").is_file());
    drop(nats);
    assert!(!process_is_alive(pid), "nats {pid} still runs");
    assert!(!port_is_open(port), "port {port} still open");
    assert!(!dir.exists(), "{} left behind", dir.display());
}
