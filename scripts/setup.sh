#!/usr/bin/env bash
# Installs what keyhatch needs to build, run and test, skipping whatever is already there.
# Safe to run again and again. Needs root (or sudo) only when Debian packages are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10   # 0.3.11 needs a newer Rust than 1.95
WASM_BINDGEN_VERSION=0.2.130  # must equal the wasm-bindgen pin in Cargo.toml
# make dist: zig links the static (musl) binary and the packages' binary against glibc 2.28;
# cargo-deb and cargo-generate-rpm pack the packages.
ZIG_VERSION=0.17.1            # PyPI's ziglang
CARGO_ZIGBUILD_VERSION=0.24.1
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
export PATH="$HOME/.cargo/bin:$PATH"

command -v cargo >/dev/null || { echo "keyhatch needs Rust (cargo); install it with rustup first" >&2; exit 1; }

packages=()
command -v chromium >/dev/null || packages+=(chromium)
{ command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; } || packages+=(openssh-client)
[ -x /usr/sbin/sshd ] || packages+=(openssh-server)
{ command -v node >/dev/null && command -v npm >/dev/null; } || packages+=(nodejs npm)
command -v make >/dev/null || packages+=(make)
# The tests: a throwaway account runs Debian's Python, curl reads the login header file.
[ -x /usr/bin/python3 ] || packages+=(python3)
command -v curl >/dev/null || packages+=(curl)
{ command -v useradd >/dev/null && command -v setpriv >/dev/null; } || packages+=(passwd util-linux)
# The systemd unit in deploy/ is checked with systemd-analyze verify.
command -v systemd-analyze >/dev/null || packages+=(systemd)
# The package tests inspect the .rpm with Debian's rpm, rpm2cpio and cpio, and the binaries
# with binutils (objdump, strip).
command -v rpm >/dev/null || packages+=(rpm)
command -v rpm2cpio >/dev/null || packages+=(rpm2cpio)
command -v cpio >/dev/null || packages+=(cpio)
command -v objdump >/dev/null || packages+=(binutils)
# The label test checks every code point against Unicode's own tables (scripts/label-table.py).
[ -e /usr/share/unicode/DerivedCoreProperties.txt ] || packages+=(unicode-data)
# "Last used" is tested on journal files that systemd-journal-remote writes, read by journalctl.
[ -x /lib/systemd/systemd-journal-remote ] || packages+=(systemd-journal-remote)
# A socket on Btrfs, whose stat device is not the one the kernel's socket table gives.
command -v mkfs.btrfs >/dev/null || packages+=(btrfs-progs)
if [ ${#packages[@]} -gt 0 ]; then
  step "Debian packages: ${packages[*]}"
  as_root apt-get update -qq
  # Not binaryen: Debian's wasm-opt 108 builds a page that never hydrates; npm's is used instead.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# Site mode's tests put Debian's nginx in front of keyhatch, and check the README's Apache
# example with apachectl; apt must not start a system nginx or Apache while installing them.
web=()
[ -x /usr/sbin/nginx ] || web+=(nginx)
[ -x /usr/sbin/apache2 ] || web+=(apache2)
[ -e /usr/lib/apache2/modules/mod_auth_openidc.so ] || web+=(libapache2-mod-auth-openidc)
if [ ${#web[@]} -gt 0 ]; then
  step "Debian packages: ${web[*]} (for the site-mode tests; their services are not started)"
  as_root apt-get update -qq
  printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
  as_root chmod +x /usr/sbin/policy-rc.d
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${web[@]}" >/dev/null
  as_root rm -f /usr/sbin/policy-rc.d
fi

# The pinned toolchain, with its components and targets (rust-toolchain.toml): wasm32 for the
# browser bundle, rust-src for its own standard library (scripts/env.sh), musl for the static
# binary. Nothing is downloaded when it is all there.
if ! rustup toolchain install >/dev/null 2>&1; then
  step "Rust toolchain (rust-toolchain.toml)"
  rustup toolchain install
fi

installed() { cargo install --list | grep -q "^$1 v$2:"; }
# Build tools are compiled to install fast rather than to run fast: no LTO, many codegen units,
# and little optimisation where their speed does not matter here (README, "What it costs").
fast_install() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_INCREMENTAL=false \
    cargo install --force "$@"
}
# wasm-bindgen-cli at opt-level 1: it rewrites the whole wasm on every bundle build. Not
# --locked: its lock file wants a webpki-roots version the registry no longer has. No default
# features: its TLS stack serves only the test runner, which keyhatch does not use.
wasm_bindgen_log=
if ! installed wasm-bindgen-cli "$WASM_BINDGEN_VERSION"; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION (about two minutes, once; beside cargo-leptos)"
  wasm_bindgen_log=$(mktemp)
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    fast_install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --no-default-features \
    >"$wasm_bindgen_log" 2>&1 &
  wasm_bindgen_pid=$!
fi
# cargo-leptos at opt-level 0, but for what runs hot on every bundle build: its own crate
# (where the compressors' generic code is instantiated), the brotli and gzip compressors and
# the wasm reader of `--split`. no_downloads: the tools on PATH, never a download.
if ! installed cargo-leptos "$CARGO_LEPTOS_VERSION"; then
  step "cargo-leptos $CARGO_LEPTOS_VERSION (about ten minutes on 2 cores, once)"
  hot=()
  for package in cargo-leptos brotli brotli-decompressor alloc-no-stdlib libflate flate2 \
    miniz_oxide walrus wasmparser wasm-split-cli-support; do
    level=3; [ "$package" = cargo-leptos ] && level=1
    hot+=(--config "profile.release.package.$package.opt-level=$level")
  done
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
    fast_install "${hot[@]}" cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi
if [ -n "$wasm_bindgen_log" ]; then
  if ! wait "$wasm_bindgen_pid"; then
    cat "$wasm_bindgen_log" >&2
    echo "wasm-bindgen-cli did not install (its output is above)" >&2
    exit 1
  fi
  rm -f "$wasm_bindgen_log"
fi

if ! installed cargo-deb "$CARGO_DEB_VERSION"; then
  step "cargo-deb $CARGO_DEB_VERSION (a few minutes, once)"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 fast_install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
if ! installed cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"; then
  step "cargo-generate-rpm $CARGO_GENERATE_RPM_VERSION (a few minutes, once)"
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 fast_install cargo-generate-rpm --version "$CARGO_GENERATE_RPM_VERSION" --locked
fi
pip_has() { python3 -m pip show "$1" 2>/dev/null | grep -x "Version: $2" >/dev/null; }
if ! pip_has ziglang "$ZIG_VERSION" || ! pip_has cargo-zigbuild "$CARGO_ZIGBUILD_VERSION"; then
  step "zig $ZIG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "ziglang==$ZIG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
fi

if [ ! -f end2end/node_modules/.package-lock.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  step "npm packages in end2end/ (Playwright, and binaryen for wasm-opt)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi
