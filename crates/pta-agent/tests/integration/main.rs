//! Integration tests of the agent against a stand-in service built from the real parts (see
//! `support`): registration over HTTPS, sessions over mutual TLS on 127.0.0.1, real OpenLDAP
//! from pta-testkit, a real tinyproxy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod lifecycle;
mod proxy;
mod register;
mod run;
mod support;
