#!/usr/bin/env bash
# Installs keyhatch for site mode: PREFIX/bin/keyhatch, one binary with the browser bundle
# embedded, /etc/keyhatch/keyhatch.toml (an existing one is kept), and
# /etc/systemd/system/keyhatch.service. Usage: scripts/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
[ "$(id -u)" = 0 ] || { echo "make install needs root" >&2; exit 1; }
scripts/setup.sh
source scripts/env.sh
printf '\033[1m==> %s\033[0m\n' "release build (the bundle embedded)"
build_bundle
install -D -m 0755 target/release/keyhatch "$prefix/bin/keyhatch"
if [ ! -e /etc/keyhatch/keyhatch.toml ]; then
  install -D -m 0644 deploy/keyhatch.toml /etc/keyhatch/keyhatch.toml
  echo "wrote /etc/keyhatch/keyhatch.toml: set public-url and proxy-user for this site"
fi
sed "s|/usr/local/bin/keyhatch|$prefix/bin/keyhatch|" deploy/keyhatch.service \
  > /etc/systemd/system/keyhatch.service
echo "installed; start it with: systemctl daemon-reload && systemctl enable --now keyhatch"
