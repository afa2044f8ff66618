//! Shutdown signals for the binaries: SIGINT (Ctrl-C) and SIGTERM, watched from the moment
//! [`Signals::new`] returns, not from the first poll.
//!
//! A binary creates [`Signals`] before it prints its addresses or starts serving, so a signal
//! sent as soon as those appear stops it cleanly (drain, flush, exit 0) instead of killing it
//! with the default disposition. Every `pta` binary that serves watches signals through this
//! crate, so they all stop the same way.
//!
//! ```no_run
//! # async fn serve() {}
//! # async fn demo() -> std::io::Result<()> {
//! let mut signals = pta_signal::Signals::new()?;
//! tokio::select! {
//!     () = serve() => {}
//!     signal = signals.next() => eprintln!("{}: stopping", signal.name()),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! On targets without Unix signals only Ctrl-C is watched, and it is reported as
//! [`Signal::Interrupt`].
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::io;

/// A signal that asks the process to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT: Ctrl-C on a terminal.
    Interrupt,
    /// SIGTERM: a service manager or `kill`.
    Terminate,
}

impl Signal {
    /// The signal's conventional name: `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// SIGINT and SIGTERM, watched from creation on. Must be created inside a tokio runtime.
///
/// While a `Signals` lives, those signals no longer end the process by default: they are
/// queued until [`next`](Self::next) takes them (several of one kind arriving before that
/// count as one).
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts watching SIGINT and SIGTERM.
    ///
    /// # Errors
    ///
    /// The operating system refused to install the handler, or no tokio runtime with the
    /// signal driver is running: the binary should report it and exit, since it could not stop
    /// cleanly.
    pub fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next SIGINT or SIGTERM.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Signal::Interrupt,
                _ = self.terminate.recv() => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Interrupt
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::{Signal, Signals};
    use std::time::Duration;

    fn raise(signal: rustix::process::Signal) {
        let me = rustix::process::getpid();
        assert!(rustix::process::kill_process(me, signal).is_ok());
    }

    // One test sends both signals in turn: tests of one binary share the process, and a
    // signal another test did not watch would end the process.
    #[tokio::test(flavor = "current_thread")]
    async fn each_signal_is_reported_by_name_and_does_not_kill() {
        let mut signals = match Signals::new() {
            Ok(s) => s,
            Err(e) => panic!("cannot watch signals: {e}"),
        };
        raise(rustix::process::Signal::TERM);
        let got = tokio::time::timeout(Duration::from_secs(5), signals.next()).await;
        assert_eq!(got, Ok(Signal::Terminate));
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");

        raise(rustix::process::Signal::INT);
        let got = tokio::time::timeout(Duration::from_secs(5), signals.next()).await;
        assert_eq!(got, Ok(Signal::Interrupt));
        assert_eq!(Signal::Interrupt.name(), "SIGINT");

        // Nothing else pending: the next wait times out.
        let idle = tokio::time::timeout(Duration::from_millis(50), signals.next()).await;
        assert!(idle.is_err());
    }
}
