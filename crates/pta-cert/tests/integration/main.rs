#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Integration tests of pta-cert: the openssl CLI as the independent peer, mTLS over
//! 127.0.0.1 with tokio-rustls, the state store on a real directory.

mod common;
mod issuance;
mod mtls;
mod openssl;
mod store;
