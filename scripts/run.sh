#!/usr/bin/env bash
# Installs what is missing, builds the release, and runs keyhatch with the given flags.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
printf '\033[1m==> %s\033[0m\n' "release build"
build_bundle
# Your own keyhatch, on the defaults: no settings file unless you name one (a site's
# /etc/keyhatch/keyhatch.toml is for its service). ARGS="--config PATH" names one.
export KEYHATCH_CONFIG="${KEYHATCH_CONFIG:-none}"
exec target/release/keyhatch "$@"
