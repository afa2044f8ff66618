//! A private Redis server.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, io};
use crate::process::{ServerProcess, StartFailure, find_program, free_port, log_tail};

/// How long redis-server may take to answer `PING` (it takes a few milliseconds).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts: a free port can be taken by someone else between our probe and the bind.
const START_ATTEMPTS: usize = 3;
/// How long one readiness probe may take.
const PING_TIMEOUT: Duration = Duration::from_millis(200);

/// A private Redis server on 127.0.0.1: its own temporary directory, a free port, protected
/// mode on, no persistence (no RDB snapshots, no append-only file). Stopped (killed by its
/// process id) and its directory deleted on drop.
///
/// [`Redis::stop`] and [`Redis::restart`] take the server away and bring it back on the same
/// port, empty, for tests of a client that must survive its store vanishing mid-run.
#[derive(Debug)]
pub struct Redis {
    program: PathBuf,
    /// `None` while stopped.
    process: Option<ServerProcess>,
    port: u16,
    /// How many times the server has been started (names the log of each run).
    runs: u32,
    // Last, so the directory goes after the process has stopped.
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts a fixture on a free port.
    ///
    /// # Errors
    ///
    /// [`Error::MissingProgram`] without `redis-server` (run `scripts/install-deps.sh`),
    /// [`Error::Exited`] or [`Error::StartTimeout`] with the server's log when it does not
    /// answer `PING` within 10 s, [`Error::Io`] when the directory cannot be written.
    pub fn start() -> Result<Self> {
        let program = find_program("redis-server", "redis-server")?;
        let dir = tempfile::Builder::new()
            .prefix("pta-testkit-redis-")
            .tempdir()
            .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
        let mut redis = Self {
            program,
            process: None,
            port: 0,
            runs: 0,
            dir,
        };
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            redis.port = free_port()?;
            match redis.spawn() {
                Ok(process) => {
                    redis.process = Some(process);
                    return Ok(redis);
                }
                // Most likely a port race: try another port.
                Err(StartFailure::Exited(e)) => last = Some(e),
                Err(StartFailure::Timeout(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::PortBusy { port: redis.port }))
    }

    /// `redis://127.0.0.1:PORT` (no password, database 0).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port, the same for the fixture's whole life (across [`Redis::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Process id of the running server, `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ServerProcess::pid)
    }

    /// The fixture's directory (configuration `redis.conf`, logs `redis-N.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server answers a raw `PING` with `+PONG` right now.
    pub fn ping(&self) -> bool {
        ping(self.port)
    }

    /// Stops the server (killed by its process id; its data is gone). The fixture keeps its
    /// port and directory: [`Redis::restart`] brings a server back on the same port. Stopping a
    /// stopped fixture does nothing.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Stops the server if it runs, then starts a new, empty one on the same port.
    ///
    /// # Errors
    ///
    /// [`Error::PortBusy`] when another program took the port meanwhile, [`Error::Exited`] or
    /// [`Error::StartTimeout`] with the server's log when it does not answer `PING` within 10 s.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        if crate::process::port_is_open(self.port) {
            return Err(Error::PortBusy { port: self.port });
        }
        match self.spawn() {
            Ok(process) => {
                self.process = Some(process);
                Ok(())
            }
            Err(StartFailure::Exited(e) | StartFailure::Timeout(e)) => Err(e),
        }
    }

    /// Writes the configuration for the current port and starts one server run, waiting until
    /// it answers `PING`.
    fn spawn(&mut self) -> Result<ServerProcess, StartFailure> {
        let root = self.dir.path();
        let conf = root.join("redis.conf");
        std::fs::write(&conf, redis_conf(root, self.port))
            .map_err(io("write", &conf))
            .map_err(StartFailure::Exited)?;
        self.runs += 1;
        let log = root.join(format!("redis-{}.log", self.runs));
        let mut command = Command::new(&self.program);
        command.arg(&conf);
        let mut process = ServerProcess::spawn("redis-server", command, log.clone())
            .map_err(StartFailure::Exited)?;
        let started = Instant::now();
        process.wait_listening(&[self.port], START_TIMEOUT)?;
        // Listening is not serving (a loading server answers -LOADING): ping until PONG.
        while !ping(self.port) {
            if let Some(status) = process.try_exited() {
                return Err(StartFailure::Exited(Error::Exited {
                    server: "redis-server",
                    status,
                    log: log_tail(&log),
                    log_path: log,
                }));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartFailure::Timeout(Error::StartTimeout {
                    server: "redis-server",
                    ports: vec![self.port],
                    seconds: START_TIMEOUT.as_secs(),
                    log: log_tail(&log),
                    log_path: log,
                }));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(process)
    }
}

/// The whole configuration: loopback only, protected mode, foreground, nothing on disk but the
/// log (which goes to standard output, captured by the fixture).
fn redis_conf(root: &Path, port: u16) -> String {
    format!(
        "bind 127.0.0.1
port {port}
protected-mode yes
daemonize no
save \"\"
appendonly no
dir {dir}
logfile \"\"
loglevel notice
",
        dir = root.display()
    )
}

/// Sends a raw RESP `PING` to 127.0.0.1:`port` and checks for `+PONG`.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PING_TIMEOUT) else {
        return false;
    };
    if stream.set_read_timeout(Some(PING_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(PING_TIMEOUT)).is_err()
        || stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_err()
    {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

#[cfg(test)]
mod tests {
    use super::redis_conf;

    #[test]
    fn configuration_binds_loopback_only_and_persists_nothing() {
        let conf = redis_conf(std::path::Path::new("/tmp/x"), 6400);
        assert!(conf.contains("bind 127.0.0.1\n"));
        assert!(conf.contains("protected-mode yes\n"));
        assert!(conf.contains("save \"\"\n"));
        assert!(conf.contains("appendonly no\n"));
        assert!(conf.contains("port 6400\n"));
    }
}
