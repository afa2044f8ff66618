//! The running agent: [`Agent`] and what it drives, one concern per module.
//!
//! ```text
//!  agent        Agent: loads the state directory, runs until shutdown, then drains
//!    |
//!  connection   endpoints in order (TCP, proxy CONNECT, TLS), back-off between attempts
//!    |
//!  session      one connection: the pta_wire::AgentSession state machine on the TLS stream
//!    |-- requests   a sign-in or password change: deadline, replay, open, directory, MAC
//!    |     |-- replay   request ids seen recently
//!    |     '-- keys     the agent keys' envelope openers and the grants being opened
//!    '-- renewal    a new key and certificate over the live session
//!  shared       the state all of them share (keys, certificate facts, status, metrics)
//! ```

mod agent;
mod connection;
mod keys;
mod renewal;
mod replay;
mod requests;
mod session;
mod shared;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use agent::Agent;

/// The target of the runtime's log lines, the same in every module (the one they had when the
/// runtime was one file): log filters and readers need not know the module layout.
const LOG: &str = "pta_agent::runtime";

/// Locks `m`, also after another thread panicked holding it (the data stays consistent: every
/// critical section is a plain assignment or a call that cannot panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
