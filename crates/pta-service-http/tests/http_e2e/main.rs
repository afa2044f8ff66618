//! The HTTP layer over the REAL [`pta_service::Service`] (memory store, manual clock, RSA-2048
//! CAs), through real HTTPS clients on 127.0.0.1: registration with the service CA pinned by
//! the token's fingerprint (PROTOCOL.md section 13), every registration refusal, the admin
//! endpoints, the CRL (parsed by `openssl crl`), `/healthz` and `/metrics`; `impl Api for
//! Service` itself, and `Serving` (both listeners, then the orderly stop); sign-in over a
//! real Redis lockout store that goes away and comes back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod lockout_redis;
mod registration;
mod service_api;
mod support;
