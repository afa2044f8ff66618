//! End-to-end tests of pass-through authentication (not published, no API).
//!
//! The tests in `tests/e2e/` start the real service (`pta_service::Service` over a
//! `SqliteStore` in a temporary directory, with its HTTPS registration and API listeners from
//! `pta_service_http`) and real agents: the `pta-agent` binary, built by this package from the
//! source of `examples/pta-agent` as `pta-e2e-agent`, run as child processes (so a test can
//! SIGKILL one or run it under `faketime`). Agents register through the HTTPS registration
//! endpoint with a join token from the service, connect over mutual TLS on 127.0.0.1 and bind
//! to the real directories of `pta-testkit` (OpenLDAP `Slapd`, Samba AD `SambaAd`) and go
//! through its `Tinyproxy` where a test says so.
//!
//! Run them with `cargo test -p pta-e2e` (as root, after `scripts/install-deps.sh`); see
//! `docs/TESTING.md`.

#![forbid(unsafe_code)]
