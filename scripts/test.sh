#!/usr/bin/env bash
# Every check keyhatch has: format, lints, unit and integration tests (real ssh-keygen and
# sshd), the release browser bundle (precompressed), make dist's archive and packages
# (installed with dpkg, taken apart with rpm, run in a chroot), Playwright in Debian's Chromium
# against the server with that bundle embedded (its transfer spec is the size budget: the bytes
# Chromium receives), and a last look for secrets in everything the run printed or left in /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

# Everything the run prints also goes to a log, which is checked for secrets at the end.
mkdir -p target
log=target/test-output.log
marker=$(mktemp /tmp/keyhatch-test-start.XXXXXX)
trap 'rm -f "$marker"' EXIT
exec > >(tee "$log") 2>&1

started=$SECONDS
step() { printf '\033[1m==> %s\033[0m (at %ds)\n' "$*" $((SECONDS - started)); }
claim_test_accounts
step "format"
cargo fmt --check
step "clippy (browser)"
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings
# The browser bundle is built as shipped (release, wasm-opt). The server the tests and Playwright
# drive is the tests' own debug build with that bundle embedded, as `make install` embeds it:
# compiling every server dependency a third time, optimised, would double a fresh checkout's run
# for no check. Built once: the bundle first, then `cargo test` builds the server with it, as
# target/debug/keyhatch, the binary the integration tests and Playwright run. (A `cargo build`
# after it is not a no-op: without the dev-dependencies, serde and every crate above it resolve
# other features and compile again, 2 m 19 s in a fresh clone.)
step "browser bundle (release)"
build_bundle --frontend-only
export KEYHATCH_EMBED_SITE="$PWD/target/site"
# The server's lints: `cargo clippy` is `cargo check` with clippy-driver compiling the workspace's
# own crates (RUSTC_WORKSPACE_WRAPPER). The same wrapper under `cargo test --all-targets` lints
# every target `cargo clippy --all-targets --features ssr -- -D warnings` lints, as it compiles
# them, so the server's dependencies are compiled once instead of also checked apart (a fresh
# checkout's run is 85 s shorter).
step "clippy (server) and cargo test (the server with the bundle embedded, as make install makes it)"
export RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc"
cargo test --features ssr --all-targets --no-run
# What keyhatch ships, built before the tests that install it (tests/it/packages.rs): the
# static binary's archive, the .deb and the .rpm, with the bundle just built.
step "make dist"
scripts/dist.sh --reuse-bundle
step "cargo test"
cargo test --features ssr
step "Playwright (Chromium)"
(cd end2end && npx playwright test)
step "no secret in the output or in files left in /tmp"
scripts/check-secrets.sh "$log" "$marker"
step "all checks passed"
