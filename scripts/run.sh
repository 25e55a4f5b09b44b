#!/usr/bin/env bash
# Installs what is missing, builds the release, and runs keyhatch with the given flags.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
printf '\033[1m==> %s\033[0m\n' "release build"
build_bundle
# The checkout's settings file, named explicitly: keyhatch reads none from the working directory.
exec target/release/keyhatch --config Leptos.toml "$@"
