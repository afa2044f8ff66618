//! Reading the password: a prompt without echo on a terminal, else the first line of standard
//! input. Never from the command line.

use std::io::{BufRead, IsTerminal, Read, Write};

use zeroize::Zeroizing;

use crate::{ConfigError, Password};

/// Largest standard input read for a password, bytes.
const MAX_INPUT: u64 = 64 * 1024;

/// Reads the password of `login`. When standard input is a terminal, terminal echo goes off,
/// `Password for <login>: ` is printed on standard error and one line is read; otherwise the
/// first line of standard input (at most 64 KiB of it, UTF-8) is the password. The line end
/// (`\n`, `\r\n`) is not part of it; an empty password is [`ConfigError::PasswordEmpty`]. Every
/// buffer that held the password is wiped.
pub fn read_password(login: &str) -> Result<Password, ConfigError> {
    let stdin = std::io::stdin();
    let mut line = Zeroizing::new(String::with_capacity(1024));
    if stdin.is_terminal() {
        // Echo off before the prompt: input typed (or pasted) as soon as the prompt shows
        // must not be echoed.
        let echo_off = EchoOff::new(&stdin);
        eprint!("Password for {login}: ");
        let _ = std::io::stderr().flush();
        let read = stdin.lock().read_line(&mut line);
        drop(echo_off);
        eprintln!();
        read.map_err(|source| ConfigError::PasswordUnreadable {
            from_terminal: true,
            source,
        })?;
    } else {
        let mut all = Zeroizing::new(Vec::with_capacity(1024));
        stdin
            .lock()
            .take(MAX_INPUT)
            .read_to_end(&mut all)
            .map_err(|source| ConfigError::PasswordUnreadable {
                from_terminal: false,
                source,
            })?;
        let text = std::str::from_utf8(&all).map_err(|_| ConfigError::PasswordNotUtf8)?;
        line.push_str(text.split('\n').next().unwrap_or_default());
    }
    let trimmed = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(trimmed);
    if line.is_empty() {
        return Err(ConfigError::PasswordEmpty);
    }
    Ok(Password::from(line))
}

/// Terminal echo turned off until dropped.
struct EchoOff<'a> {
    fd: &'a std::io::Stdin,
    saved: Option<rustix::termios::Termios>,
}

impl<'a> EchoOff<'a> {
    fn new(fd: &'a std::io::Stdin) -> Self {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let saved = tcgetattr(fd).ok();
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = tcsetattr(fd, OptionalActions::Now, &quiet);
        }
        Self { fd, saved }
    }
}

impl Drop for EchoOff<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ =
                rustix::termios::tcsetattr(self.fd, rustix::termios::OptionalActions::Now, saved);
        }
    }
}
