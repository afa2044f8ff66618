//! criterion benchmarks across the pta crates; the bench targets live beside this file's folder.
//! Run them with `cargo bench -p pta-benches`; figures are recorded in `BENCHMARKS.md`.
#![forbid(unsafe_code)]
