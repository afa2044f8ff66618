#!/usr/bin/env bash
# The whole test suite, on a Debian machine, as root: installs what is missing (Debian packages
# for the real directory servers and the interoperability checks), then runs every test of the
# workspace. A real server that cannot start fails its tests with the reason; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo test --workspace --locked --exclude pta-e2e
# The end-to-end tests drive agents, the service and the directories under load and measure
# hand-offs on the machine's cores: one at a time, so they do not compete with each other.
cargo test --locked -p pta-e2e -- --test-threads=1
