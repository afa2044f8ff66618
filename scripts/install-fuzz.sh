#!/usr/bin/env bash
# Installs cargo-fuzz if it is missing. Fuzzing runs on the nightly toolchain when one is
# installed (the machine image carries one); otherwise on stable with RUSTC_BOOTSTRAP=1.
set -euo pipefail
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
cargo fuzz --version
