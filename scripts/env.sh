# Sourced by the scripts: the tools the set-up installed, first on PATH.
# shellcheck shell=bash
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
