#!/usr/bin/env bash
# The Performance table: domain benchmarks (criterion, beside ssh-keygen), HTTP against the
# release server on loopback, page load in Chromium, shipped sizes; then one Markdown table.
# Not part of `make test`: figures are reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
claim_test_accounts
step "release build"
build_bundle
step "domain (criterion)"
cargo bench --features ssr --bench domain
step "HTTP on loopback"
cargo bench --features ssr --bench http
step "site mode through nginx (makes and removes 52 throwaway accounts)"
cargo bench --features ssr --bench site
step "page load and bytes received in Chromium (the release server)"
export KEYHATCH_EXE="$PWD/target/release/keyhatch"
(cd end2end && npx playwright test --config playwright.bench.config.ts \
  && npx playwright test --project=js tests/transfer.spec.ts)
step "table"
cargo bench --features ssr --bench report
