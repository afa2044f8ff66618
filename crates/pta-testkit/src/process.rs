//! Running set-up commands and server processes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, io};

/// How many bytes of a log or command output go into an error message.
const TAIL_BYTES: u64 = 4096;

/// Finds `program` on the PATH or in the sbin directories (slapd and samba live in /usr/sbin,
/// which is not on every PATH).
pub(crate) fn find_program(program: &'static str, package: &'static str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(PathBuf::from),
    );
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::MissingProgram { program, package })
}

/// Runs a set-up command to completion; a non-zero exit is an error carrying its output.
/// `shown` is the command line as it may appear in messages (without secrets).
pub(crate) fn run(command: &mut Command, shown: &str) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(io("run", shown.to_owned()))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(text)
    } else {
        Err(Error::Command {
            command: shown.to_owned(),
            status: output.status,
            output: tail(&text),
        })
    }
}

fn tail(text: &str) -> String {
    let limit = TAIL_BYTES as usize;
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut start = text.len() - limit;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// The end of a log file, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::from("(no log)");
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut buf = Vec::new();
    let _ = file.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A free TCP port on 127.0.0.1 (bound, then released: the caller retries if it is taken in
/// between).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io("bind a free port on", "127.0.0.1"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io("read the address of", "127.0.0.1"))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_is_open(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Whether a process with this id exists (and is not a zombie).
pub fn process_is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// A server process owned by a fixture: killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Child,
    log_path: PathBuf,
}

/// Why a server did not come up.
pub(crate) enum StartFailure {
    /// It exited; its log is in the error.
    Exited(Error),
    /// It is still running but did not listen in time.
    Timeout(Error),
}

impl ServerProcess {
    /// Spawns `command` in its own process group with stdout and stderr going to `log_path`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log_path: PathBuf,
    ) -> Result<Self> {
        let log = File::create(&log_path).map_err(io("create", &log_path))?;
        let log2 = log.try_clone().map_err(io("open", &log_path))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(io("start", name))?;
        Ok(Self {
            name,
            child,
            log_path,
        })
    }

    /// Process id of the server.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until every port accepts connections, the process exits, or `timeout` passes.
    pub(crate) fn wait_listening(
        &mut self,
        ports: &[u16],
        timeout: Duration,
    ) -> Result<(), StartFailure> {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Err(StartFailure::Exited(Error::Exited {
                        server: self.name,
                        status,
                        log_path: self.log_path.clone(),
                        log: log_tail(&self.log_path),
                    }));
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(StartFailure::Exited(Error::Io {
                        action: "wait for",
                        path: PathBuf::from(self.name),
                        source,
                    }));
                }
            }
            if ports.iter().all(|&p| port_is_open(p)) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(StartFailure::Timeout(Error::StartTimeout {
                    server: self.name,
                    ports: ports.to_vec(),
                    seconds: timeout.as_secs(),
                    log_path: self.log_path.clone(),
                    log: log_tail(&self.log_path),
                }));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status, if the process has exited.
    pub(crate) fn try_exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGINT (PostgreSQL's fast shutdown) and waits up to `timeout` for the process to
    /// exit; kills it if it has not by then.
    pub(crate) fn interrupt_and_wait(&mut self, timeout: Duration) {
        let signalled = self.signal("INT");
        let start = Instant::now();
        while signalled && start.elapsed() < timeout {
            if self.try_exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop();
    }

    /// Sends the signal named `name` (`INT`, `STOP`, `CONT`) with `kill(1)`. Whether it was
    /// delivered.
    pub(crate) fn signal(&self, name: &str) -> bool {
        Command::new("kill")
            .args(["-s", name])
            .arg(self.pid().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills the process and reaps it.
    pub(crate) fn stop(&mut self) {
        // SIGKILL: the fixtures never reuse a server's data after it stops (slapd's directory is
        // deleted, Samba's is restored from the pristine copy), so no clean shutdown is needed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
