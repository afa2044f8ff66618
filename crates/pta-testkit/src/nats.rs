//! A private NATS server.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::process::{ServerProcess, StartFailure, find_program, free_port};

/// How long nats-server may take to listen (it takes a few milliseconds).
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts: a free port can be taken by someone else between our probe and the bind.
const START_ATTEMPTS: usize = 3;
/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A private NATS server on 127.0.0.1 (Debian's `nats-server`): its own temporary directory, a
/// free client port, no monitoring port, no cluster, no JetStream. Stopped (killed by its
/// process id) and its directory deleted on drop.
///
/// For fault tests: [`Nats::stop`] and [`Nats::restart`] take the server away and bring it
/// back on the same port; [`Nats::pause`] and [`Nats::resume`] freeze and thaw it (SIGSTOP,
/// SIGCONT), so that clients see a server that accepts nothing and answers nothing.
#[derive(Debug)]
pub struct Nats {
    program: PathBuf,
    /// `None` while stopped.
    process: Option<ServerProcess>,
    port: u16,
    runs: u32,
    paused: bool,
    // Last, so the directory goes after the process has stopped.
    dir: tempfile::TempDir,
}

impl Nats {
    /// Starts a fixture on a free port.
    ///
    /// # Errors
    ///
    /// [`Error::MissingProgram`] without `nats-server` (run `scripts/install-deps.sh`),
    /// [`Error::Exited`] or [`Error::StartTimeout`] with the server's log when it does not
    /// greet a client within 10 s, [`Error::Io`] when the directory cannot be written.
    pub fn start() -> Result<Self> {
        let program = find_program("nats-server", "nats-server")?;
        let dir = tempfile::Builder::new()
            .prefix("pta-testkit-nats-")
            .tempdir()
            .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
        let mut nats = Self {
            program,
            process: None,
            port: 0,
            runs: 0,
            paused: false,
            dir,
        };
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            nats.port = free_port()?;
            match nats.spawn() {
                Ok(process) => {
                    nats.process = Some(process);
                    return Ok(nats);
                }
                Err(StartFailure::Exited(e)) => last = Some(e),
                Err(StartFailure::Timeout(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::PortBusy { port: nats.port }))
    }

    /// `nats://127.0.0.1:PORT` (no authentication).
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The client port, the same for the fixture's whole life (across [`Nats::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Process id of the running server, `None` while stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ServerProcess::pid)
    }

    /// The fixture's directory (configuration `nats.conf`, logs `nats-N.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether the server greets a new client with its `INFO` line right now.
    pub fn is_serving(&self) -> bool {
        greets(self.port)
    }

    /// Stops the server (killed by its process id). The fixture keeps its port and directory:
    /// [`Nats::restart`] brings a server back on the same port. Stopping a stopped fixture does
    /// nothing.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            if self.paused {
                process.signal("CONT");
                self.paused = false;
            }
            process.stop();
        }
    }

    /// Stops the server if it runs, then starts a new one on the same port.
    ///
    /// # Errors
    ///
    /// [`Error::PortBusy`] when another program took the port meanwhile, [`Error::Exited`] or
    /// [`Error::StartTimeout`] with the server's log when it does not greet within 10 s.
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

    /// Freezes the server (SIGSTOP) and waits (at most 2 s) until every thread of it is
    /// stopped: connections stay open, nothing is answered. Whether it is frozen (false while
    /// stopped).
    pub fn pause(&mut self) -> bool {
        let Some(process) = self.process.as_ref() else {
            return false;
        };
        if !process.signal("STOP") {
            return false;
        }
        self.paused = true;
        let pid = process.pid();
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            if all_threads_stopped(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// Thaws a paused server (SIGCONT). Whether the signal was delivered.
    pub fn resume(&mut self) -> bool {
        let sent = self.process.as_ref().is_some_and(|p| p.signal("CONT"));
        if sent {
            self.paused = false;
        }
        sent
    }

    fn spawn(&mut self) -> Result<ServerProcess, StartFailure> {
        let root = self.dir.path();
        let conf = root.join("nats.conf");
        std::fs::write(&conf, nats_conf(self.port))
            .map_err(io("write", &conf))
            .map_err(StartFailure::Exited)?;
        self.runs += 1;
        let log = root.join(format!("nats-{}.log", self.runs));
        let mut command = Command::new(&self.program);
        command.arg("-c").arg(&conf);
        let mut process = ServerProcess::spawn("nats-server", command, log.clone())
            .map_err(StartFailure::Exited)?;
        process.wait_listening(&[self.port], START_TIMEOUT)?;
        let started = std::time::Instant::now();
        while !greets(self.port) {
            if let Some(status) = process.try_exited() {
                return Err(StartFailure::Exited(Error::Exited {
                    server: "nats-server",
                    status,
                    log: crate::process::log_tail(&log),
                    log_path: log,
                }));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartFailure::Timeout(Error::StartTimeout {
                    server: "nats-server",
                    ports: vec![self.port],
                    seconds: START_TIMEOUT.as_secs(),
                    log: crate::process::log_tail(&log),
                    log_path: log,
                }));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(process)
    }
}

/// Whether every thread of `pid` is in the stopped state (`T` in `/proc/PID/task/*/stat`).
/// The stop signal reaches a running thread only when it is next scheduled, so a signal sent
/// is not yet a process frozen.
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let mut any = false;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            return false;
        };
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if state != Some("T") {
            return false;
        }
        any = true;
    }
    any
}

/// The whole configuration: loopback only, no monitoring, no cluster, no JetStream.
fn nats_conf(port: u16) -> String {
    format!(
        "listen: \"127.0.0.1:{port}\"
server_name: \"pta-testkit-{port}\"
max_payload: 1048576
"
    )
}

/// Whether a new connection to 127.0.0.1:`port` is greeted with `INFO {...}`.
fn greets(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT) else {
        return false;
    };
    if stream.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() {
        return false;
    }
    let mut greeting = [0u8; 5];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"INFO "
}

#[cfg(test)]
mod tests {
    use super::nats_conf;

    #[test]
    fn configuration_listens_on_loopback_only() {
        let conf = nats_conf(4300);
        assert!(conf.starts_with("listen: \"127.0.0.1:4300\"\n"));
        assert!(!conf.contains("http"));
        assert!(!conf.contains("cluster"));
        assert!(!conf.contains("jetstream"));
    }
}
