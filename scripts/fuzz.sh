#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS (default 20) and fails on the first crash.
# Uses the nightly toolchain when installed; otherwise stable with RUSTC_BOOTSTRAP=1.
# The seed is fixed (FUZZ_SEED, default 1) so that a CI failure replays with the same command;
# explore with other seeds and longer runs by hand: FUZZ_SEED=$RANDOM bash scripts/fuzz.sh 600.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
seed=${FUZZ_SEED:-1}
bash scripts/install-fuzz.sh >/dev/null
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
# The fuzz crate is built with its own flags; the workspace's -Dwarnings does not apply there.
unset RUSTFLAGS
cd fuzz
for target in $("${fuzz[@]}" list); do
  echo "fuzz: $target for ${seconds}s, seed $seed"
  mkdir -p "corpus/$target"
  "${fuzz[@]}" run "$target" "corpus/$target" -- -max_total_time="$seconds" -seed="$seed" -rss_limit_mb=2048 2>&1 | tail -n 20
done
