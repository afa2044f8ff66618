//! End-to-end tests: the real service (SQLite, HTTPS registration and API), agents as child
//! processes of the `pta-agent` binary, real OpenLDAP and Samba AD, real TLS on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod failover;
mod lockout;
mod operations;
mod renewal;
mod skew;
mod support;
mod verdicts;
