# Sourced by the scripts: the tools the set-up installed, first on PATH.
# shellcheck shell=bash
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# The release browser bundle, precompressed for serving: cargo-leptos writes a `.br` and a `.gz`
# beside each file; its gzip is a fast one (369 KB for the wasm against 312 KB), so the files
# browsers load are gzipped again at -9 for clients that do not take brotli. With
# `--frontend-only` only the bundle is built; otherwise the release server after it, with the
# bundle embedded.
#
# The bundle is built with its own standard library, cut for size (-Zbuild-std, through
# RUSTC_BOOTSTRAP on this pinned stable toolchain, as the Leptos book does with nightly): a
# panic stops the page's code at once, without formatting a message or its location, and
# `{:?}` prints nothing; 21 KB less brotli, 28 KB less gzip (README, Performance). A debug
# bundle (`cargo leptos build`) keeps panic messages in the browser's console.
#
# `--split` moves the dialogs' code into a module of its own, split_dialogs.wasm, fetched when a
# dialog is about to open (src/components/dialogs.rs), with its loader __wasm_split.*.js.
BUNDLE_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none -Zfmt-debug=none"
build_bundle() {
  RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$BUNDLE_RUSTFLAGS" \
    cargo leptos build --release --precompress --frontend-only --split \
    --lib-cargo-args=-Zbuild-std=std,panic_abort --lib-cargo-args=-Zbuild-std-features=optimize_for_size
  local file
  for file in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/keyhatch.css; do
    gzip -9 -n -c "$file" > "$file.gz"
  done
  # The server carries the bundle inside (build.rs): it never reads one from the disk, where a
  # directory beside a copied binary may be another account's (SECURITY.md). Exported, so that
  # every later cargo command of the script builds the same server (`cargo bench` rebuilds
  # target/release/keyhatch too). Plain cargo: cargo-leptos's server build does not pass the
  # variable on to build.rs.
  export KEYHATCH_EMBED_SITE="$PWD/target/site"
  [ "${1:-}" = --frontend-only ] || cargo build --release --features ssr --bin keyhatch
}

# The throwaway accounts the tests and benchmarks make (khtest…, khe2e…, khsso… and khsso
# groups) are removed by whatever made them, even when a test fails; a run that was killed
# (Ctrl-C, a CI time limit) cannot. Each run holds /run/keyhatch-tests.lock, shared, while it
# lasts (its processes inherit it); a run that finds no other under way first removes what
# killed runs left. An account that still runs processes is named and left.
claim_test_accounts() {
  exec 9>/run/keyhatch-tests.lock
  if flock --nonblock --exclusive 9; then
    local name
    for name in $(getent passwd | cut -d: -f1 | grep -E '^(khtest[0-9a-f]{8}|khe2e[0-9a-f]{1,8}|khsso[0-9a-f]{8})$'); do
      # userdel refuses (8) an account that still runs processes.
      if userdel --remove "$name" 2>/dev/null; then
        echo "removed $name, made by a run that was stopped"
      else
        echo "left $name, made by a run that was stopped: userdel refused (status $?)"
      fi
    done
    # Groups too: an account's own group outlives it once its primary group was changed.
    for name in $(getent group | cut -d: -f1 | grep -E '^(khsso|khtest)[0-9a-f]{8}$'); do
      groupdel "$name" && echo "removed group $name, made by a run that was stopped"
    done
  fi
  flock --shared 9
}
