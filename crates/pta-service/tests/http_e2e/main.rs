//! The HTTP layer over the REAL [`pta_service::Service`] (memory store, manual clock, RSA-2048
//! CAs), through real HTTPS clients on 127.0.0.1: registration with the service CA pinned by
//! the token's fingerprint (PROTOCOL.md section 13), every registration refusal, the admin
//! endpoints, the CRL (parsed by `openssl crl`), `/healthz` and `/metrics`.
//!
//! The tests against the real service need its runtime (listener, dispatcher, token and CA
//! functions); they are `#[ignore = "needs the runtime"]` until it is merged. Run them with
//! `cargo test -p pta-service --test http_e2e -- --include-ignored`. Meanwhile the `*_reference`
//! twins run the same registration tests (and the admin tests it supports) against
//! [`reference::ReferenceApi`], built from the library's public parts (the real `Registrar`
//! and store), so the HTTP path, the pinning client and the refusal mapping are exercised now.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod reference;
mod registration;
mod support;
