#!/usr/bin/env bash
# make dist: what keyhatch ships, in target/dist/, with SHA256SUMS:
#   keyhatch-VERSION-x86_64-linux-musl.tar.gz  one static binary for local mode, any x86_64 Linux
#   keyhatch_VERSION_amd64.deb, keyhatch-VERSION.x86_64.rpm
#                                              site mode: glibc 2.28 and later (EL 8, Debian 10)
# Both binaries carry the release browser bundle. The packages' files are laid out once, in
# target/dist/root/ (as installed under /), and cargo-deb and cargo-generate-rpm pack that tree
# (their metadata in Cargo.toml); `make install` copies the same tree.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
dist=target/dist
root=$dist/root
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "${1:-}" != --reuse-bundle ] || [ ! -e target/site/pkg/keyhatch.wasm ]; then
  step "browser bundle (release)"
  build_bundle --frontend-only
fi
export KEYHATCH_EMBED_SITE="$PWD/target/site"
# The two release builds compile every dependency twice more (musl, glibc 2.28): about 10
# minutes on 2 cores. Their target directory is shared by every checkout on this machine, so a
# fresh clone (CI's) compiles only keyhatch itself there.
release=${KEYHATCH_DIST_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/keyhatch/target-dist}
# cargo-zigbuild links with zig's C toolchain: musl for the static binary, and glibc's 2.28
# symbol versions for the packages' binary, whatever this machine's glibc is.
step "static binary (x86_64-unknown-linux-musl)"
cargo zigbuild --release --features ssr --bin keyhatch --target x86_64-unknown-linux-musl \
  --target-dir "$release"
step "packages' binary (x86_64-unknown-linux-gnu, glibc 2.28)"
cargo zigbuild --release --features ssr --bin keyhatch --target x86_64-unknown-linux-gnu.2.28 \
  --target-dir "$release"
step "man page and shell completions"
rm -rf "$dist"
mkdir -p "$dist"
cargo run --quiet --features ssr --example docs -- "$dist/docs"
gzip -9 -n "$dist/docs/keyhatch.8"

step "the installed tree ($root)"
doc=$root/usr/share/doc/keyhatch
install -D -m 0755 "$release/x86_64-unknown-linux-gnu/release/keyhatch" "$root/usr/bin/keyhatch"
strip --strip-all "$root/usr/bin/keyhatch"
install -D -m 0644 deploy/keyhatch.toml "$root/etc/keyhatch/keyhatch.toml"
install -D -m 0644 deploy/keyhatch.service "$root/usr/lib/systemd/system/keyhatch.service"
install -D -m 0644 deploy/keyhatch.logrotate "$root/etc/logrotate.d/keyhatch"
install -D -m 0644 "$dist/docs/keyhatch.8.gz" "$root/usr/share/man/man8/keyhatch.8.gz"
install -D -m 0644 "$dist/docs/completions/keyhatch" "$root/usr/share/bash-completion/completions/keyhatch"
install -D -m 0644 "$dist/docs/completions/keyhatch.fish" "$root/usr/share/fish/vendor_completions.d/keyhatch.fish"
install -D -m 0644 "$dist/docs/completions/_keyhatch" "$root/usr/share/zsh/vendor-completions/_keyhatch"
install -D -m 0644 LICENSE README.md CHANGELOG.md SECURITY.md -t "$doc"
# Debian's machine-readable copyright file, in both packages.
{
  printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
'
  printf 'Upstream-Name: keyhatch

Files: *
Copyright: 2026 the keyhatch developers
License: MIT
'
  sed -e 's/^$/./' -e 's/^/ /' LICENSE
} > "$doc/copyright"
chmod 0644 "$doc/copyright"
install -D -m 0644 deploy/nginx-keyhatch.conf deploy/apache-keyhatch.conf -t "$doc/examples"

step "keyhatch_${version}_amd64.deb (cargo-deb)"
cargo deb --no-build --no-strip --target x86_64-unknown-linux-gnu --output "$dist/keyhatch_${version}_amd64.deb"
step "keyhatch-${version}.x86_64.rpm (cargo-generate-rpm)"
# xz: EL 8's rpm reads it (zstd payloads need a newer rpm).
cargo generate-rpm --target x86_64-unknown-linux-gnu --payload-compress xz --output "$dist/keyhatch-${version}.x86_64.rpm"

step "keyhatch-${version}-x86_64-linux-musl.tar.gz"
name=keyhatch-$version-x86_64-linux-musl
mkdir -p "$dist/$name/completions"
install -m 0755 "$release/x86_64-unknown-linux-musl/release/keyhatch" "$dist/$name/keyhatch"
strip --strip-all "$dist/$name/keyhatch"
install -m 0644 LICENSE README.md CHANGELOG.md "$dist/docs/keyhatch.8.gz" "$dist/$name/"
install -m 0644 "$dist"/docs/completions/* "$dist/$name/completions/"
# Reproducible: fixed owner, order and times (the last commit's).
stamp=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$stamp" -C "$dist" -cf - "$name" \
  | gzip -9 -n > "$dist/$name.tar.gz"
rm -rf "${dist:?}/$name"

(cd "$dist" && sha256sum -- *.tar.gz *.deb *.rpm > SHA256SUMS)
step "done: $dist"
cat "$dist/SHA256SUMS"
