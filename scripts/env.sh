# Sourced by the scripts: the tools the set-up installed, first on PATH.
# shellcheck shell=bash
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# The release browser bundle, precompressed for serving: cargo-leptos writes a `.br` and a `.gz`
# beside each file; its gzip is a fast one (369 KB for the wasm against 312 KB), so the files
# browsers load are gzipped again at -9 for clients that do not take brotli. Arguments go to
# `cargo leptos build` (`--frontend-only`).
build_bundle() {
  cargo leptos build --release --precompress "$@"
  local file
  for file in target/site/pkg/keyhatch.wasm target/site/pkg/keyhatch.js target/site/pkg/keyhatch.css; do
    gzip -9 -n -c "$file" > "$file.gz"
  done
}
