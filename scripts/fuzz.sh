#!/usr/bin/env bash
# Fuzzes the authorized_keys line parser and the settings parsers with cargo fuzz (libFuzzer)
# for a bounded time, starting from the committed seed corpus. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
CARGO_FUZZ_VERSION=0.13.2
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo install --list | grep -q "^cargo-fuzz v$CARGO_FUZZ_VERSION:"; then
  printf '\033[1m==> %s\033[0m\n' "cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
# cargo fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets this stable toolchain take them.
# The corpus grows in a scratch copy: only the seeds are committed.
work=target/fuzz/corpus
mkdir -p "$work" && cp -n fuzz/corpus/authorized_keys/* "$work"/
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run authorized_keys --target-dir ../target/fuzz ../"$work" \
  -- -max_total_time="$seconds" -max_len=262144 -print_final_stats=1
