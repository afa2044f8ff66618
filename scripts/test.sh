#!/usr/bin/env bash
# The whole test suite, on a Debian machine, as root: installs what is missing (Debian packages
# for the real directory servers and the interoperability checks), then runs every test of the
# workspace. A real server that cannot start fails its tests with the reason; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo test --workspace --locked
