//! Integration tests for pta-wire: both sessions against each other on virtual time, stream
//! splitting, hex examples from docs/PROTOCOL.md, and an independent decoder (python cbor2).

// Helpers outside #[test] functions fail loudly too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec;
mod interop;
mod pair;
mod sessions;
mod split;
