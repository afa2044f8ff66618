//! A private tinyproxy (HTTP `CONNECT` proxy) on 127.0.0.1, optionally with basic
//! authentication, for tests of clients that must reach a server only through a proxy.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result, io};
use crate::process::{ServerProcess, StartFailure, find_program, free_port, log_tail};

const START_TIMEOUT: Duration = Duration::from_secs(10);
const START_ATTEMPTS: usize = 3;

/// A tinyproxy process in the foreground (`-d`), listening on 127.0.0.1 on a free port and
/// accepting clients from 127.0.0.1 only. `CONNECT` is allowed to every port (no
/// `ConnectPort` line). Killed by its process id when dropped.
#[derive(Debug)]
pub struct Tinyproxy {
    process: ServerProcess,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy; with `basic_auth`, clients must send these credentials
    /// (`Proxy-Authorization: Basic`), else they get 407.
    ///
    /// # Errors
    ///
    /// [`Error::MissingProgram`] without the `tinyproxy` package, or a start failure with the
    /// proxy's log.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Result<Self> {
        let program = find_program("tinyproxy", "tinyproxy")?;
        let dir = tempfile::Builder::new()
            .prefix("pta-testkit-tinyproxy-")
            .tempdir()
            .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
        let log = dir.path().join("tinyproxy.log");
        let mut last = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let conf = dir.path().join("tinyproxy.conf");
            let mut text = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 64\nAllow 127.0.0.1\nLogLevel Connect\n"
            );
            if let Some((user, password)) = basic_auth {
                text.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            std::fs::write(&conf, text).map_err(io("write", &conf))?;
            let mut command = Command::new(&program);
            command.arg("-d").arg("-c").arg(&conf);
            let mut process = ServerProcess::spawn("tinyproxy", command, log.clone())?;
            match process.wait_listening(&[port], START_TIMEOUT) {
                Ok(()) => {
                    return Ok(Self {
                        process,
                        port,
                        log,
                        _dir: dir,
                    });
                }
                Err(StartFailure::Exited(e)) => last = Some(e),
                Err(StartFailure::Timeout(e)) => return Err(e),
            }
        }
        Err(last.unwrap_or(Error::PortBusy { port: 0 }))
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Process id of tinyproxy.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The proxy's log so far (one `CONNECT` line per tunnelled request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|_| log_tail(&self.log))
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}
