#!/usr/bin/env bash
# make install / make uninstall: keyhatch as `make dist` laid it out (target/dist/root), under
# PREFIX (default /usr/local) and DESTDIR (for packagers), with none of the build or test tools:
#   PREFIX/bin/keyhatch, PREFIX/share/{man,doc,bash-completion,fish,zsh},
#   UNITDIR/keyhatch.service (default PREFIX/lib/systemd/system, which systemd reads for /usr
#   and /usr/local; set UNITDIR=/etc/systemd/system for another prefix),
#   SYSCONFDIR/keyhatch/keyhatch.toml (default /etc; an existing one is kept) and
#   SYSCONFDIR/logrotate.d/keyhatch.
# Uninstalling removes the same files but the settings file, which may hold the site's edits.
# Usage: scripts/install.sh install|uninstall
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: install.sh install|uninstall}
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
sysconfdir=${SYSCONFDIR:-/etc}
unitdir=${UNITDIR:-$prefix/lib/systemd/system}
root=target/dist/root

# Each installed file: its mode, where make dist laid it out, and where it goes.
files() {
  local share=$prefix/share
  cat <<LIST
0755 usr/bin/keyhatch $prefix/bin/keyhatch
0644 usr/lib/systemd/system/keyhatch.service $unitdir/keyhatch.service
0644 etc/logrotate.d/keyhatch $sysconfdir/logrotate.d/keyhatch
0644 usr/share/man/man8/keyhatch.8.gz $share/man/man8/keyhatch.8.gz
0644 usr/share/bash-completion/completions/keyhatch $share/bash-completion/completions/keyhatch
0644 usr/share/fish/vendor_completions.d/keyhatch.fish $share/fish/vendor_completions.d/keyhatch.fish
0644 usr/share/zsh/vendor-completions/_keyhatch $share/zsh/vendor-completions/_keyhatch
0644 usr/share/doc/keyhatch/copyright $share/doc/keyhatch/copyright
0644 usr/share/doc/keyhatch/LICENSE $share/doc/keyhatch/LICENSE
0644 usr/share/doc/keyhatch/README.md $share/doc/keyhatch/README.md
0644 usr/share/doc/keyhatch/CHANGELOG.md $share/doc/keyhatch/CHANGELOG.md
0644 usr/share/doc/keyhatch/SECURITY.md $share/doc/keyhatch/SECURITY.md
0644 usr/share/doc/keyhatch/examples/nginx-keyhatch.conf $share/doc/keyhatch/examples/nginx-keyhatch.conf
0644 usr/share/doc/keyhatch/examples/apache-keyhatch.conf $share/doc/keyhatch/examples/apache-keyhatch.conf
LIST
}
settings=$destdir$sysconfdir/keyhatch/keyhatch.toml

case $action in
  install)
    [ -x "$root/usr/bin/keyhatch" ] || { echo "nothing to install: run make dist first" >&2; exit 1; }
    files | while read -r mode from to; do
      install -D -m "$mode" "$root/$from" "$destdir$to"
    done
    # The unit starts the binary where it was installed.
    sed -i "s|/usr/bin/keyhatch|$prefix/bin/keyhatch|" "$destdir$unitdir/keyhatch.service"
    if [ -e "$settings" ]; then
      echo "kept $settings"
    else
      install -D -m 0644 "$root/etc/keyhatch/keyhatch.toml" "$settings"
      echo "wrote $settings: set public-url and proxy-user for this site"
    fi
    echo "installed under ${destdir}$prefix. Then: keyhatch check-config; systemctl daemon-reload; systemctl enable --now keyhatch"
    ;;
  uninstall)
    files | while read -r _ _ to; do
      rm -f "$destdir$to"
    done
    rmdir "$destdir$prefix/share/doc/keyhatch/examples" "$destdir$prefix/share/doc/keyhatch" 2>/dev/null || true
    [ -e "$settings" ] && echo "kept $settings (your settings); remove it by hand if you no longer need it"
    echo "uninstalled from ${destdir}$prefix"
    ;;
  *) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
