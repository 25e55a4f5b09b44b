#!/usr/bin/env bash
# Every check keyhatch has: format, lints, unit and integration tests (real ssh-keygen and
# sshd), the release build and its size budget, and Playwright in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

started=$SECONDS
step() { printf '\033[1m==> %s\033[0m (at %ds)\n' "$*" $((SECONDS - started)); }
step "format"
cargo fmt --check
step "clippy (server)"
cargo clippy --all-targets --features ssr -- -D warnings
step "clippy (browser)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
step "cargo test"
cargo test --features ssr
step "release build"
cargo leptos build --release
step "size budget"
scripts/size-budget.sh
step "Playwright (Chromium)"
(cd end2end && npx playwright test)
step "all checks passed"
