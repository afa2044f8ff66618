//! The library of `pta-demo`: the whole pass-through authentication system on one machine,
//! no set-up. [`Demo::start`] starts an embedded service (SQLite in a temporary directory,
//! default key sizes) with its registration and API listeners on 127.0.0.1 (through
//! `pta_service_http::Serving`); [`Demo::set_up`] creates a tenant and join tokens and
//! registers two in-process agents through the real HTTPS registration endpoint, on a sample
//! in-memory directory or an LDAP server; [`Demo::showcase`] signs in sample users showing
//! every verdict and smart lockout; [`Demo::print_try_it`] says how to try `pta-signin`
//! against it; [`Demo::stop`] drains the agents, stops the listeners and the service and
//! removes the temporary directory.
//!
//! # What it does not do
//!
//! It parses no command line and watches no signal: the `pta-demo` binary does both (with
//! `pta-signal`), and decides when to stop. It prints to standard output, for the person
//! running the demo; it never prints a password (the API key of the run is printed once, by
//! [`Demo::print_try_it`]).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), pta_demo::DemoError> {
//! use pta_demo::{Demo, DemoOptions};
//!
//! let options = DemoOptions::default();
//! let mut demo = Demo::start(&options).await?;
//! let set_up = demo.set_up(&options).await;
//! let all_as_expected = set_up.is_ok() && demo.showcase().await;
//! demo.stop().await;
//! set_up?;
//! assert!(all_as_expected);
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! None.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod demo;
mod error;
mod sample;
mod showcase;

pub use demo::{Demo, DemoOptions, LdapOptions, TENANT};
pub use error::DemoError;
