#!/usr/bin/env bash
# make install / make uninstall: keyhatch as `make dist` laid it out (target/dist/root), under
# PREFIX (default /usr/local) and DESTDIR (for packagers), with none of the build or test tools:
#   PREFIX/bin/keyhatch, PREFIX/share/{man,doc,bash-completion,fish,zsh},
#   UNITDIR/keyhatch.service (default PREFIX/lib/systemd/system, which systemd reads for /usr
#   and /usr/local; set UNITDIR=/etc/systemd/system for another prefix),
#   SYSCONFDIR/keyhatch/keyhatch.toml (default /etc; an existing one is kept) and
#   SYSCONFDIR/logrotate.d/keyhatch.
# An existing settings or logrotate file is kept, and uninstalling removes everything but them:
# they may hold the site's edits. Refused on a machine where keyhatch's package
# is installed (without DESTDIR): the package manager owns those files.
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

# On this machine (no DESTDIR), a keyhatch the .deb or .rpm installed is the package
# manager's: its conffiles in /etc would be overwritten, or removed by uninstall.
on_this_machine() { [ -z "$destdir" ] || [ "$(cd "$destdir" 2>/dev/null && pwd -P)" = / ]; }
if on_this_machine && { dpkg -s keyhatch >/dev/null 2>&1 || rpm -q keyhatch >/dev/null 2>&1; }; then
  echo "keyhatch's package is installed here: upgrade or remove it with the package manager" >&2
  exit 1
fi
# Configuration a site may have edited: installed only where there is none yet.
keep() {
  case $1 in "$sysconfdir"/*) [ -e "$destdir$1" ] ;; *) false ;; esac
}

case $action in
  install)
    [ -x "$root/usr/bin/keyhatch" ] || { echo "nothing to install: run make dist first" >&2; exit 1; }
    files | while read -r mode from to; do
      if keep "$to"; then
        cmp -s "$root/$from" "$destdir$to" ||
          echo "kept $destdir$to (yours); this version's is $PWD/$root/$from"
      else
        install -D -m "$mode" "$root/$from" "$destdir$to"
      fi
    done
    # The unit starts the binary where it was installed.
    escaped=$(printf '%s' "$prefix" | sed 's/[|&\\]/\\&/g')
    sed -i "s|/usr/bin/keyhatch|$escaped/bin/keyhatch|" "$destdir$unitdir/keyhatch.service"
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
      keep "$to" || rm -f "$destdir$to"
    done
    rmdir "$destdir$prefix/share/doc/keyhatch/examples" "$destdir$prefix/share/doc/keyhatch" 2>/dev/null || true
    on_this_machine && echo "if the service ran: systemctl disable --now keyhatch; systemctl daemon-reload"
    echo "kept $destdir$sysconfdir/keyhatch and $destdir$sysconfdir/logrotate.d/keyhatch (configuration); remove them by hand if you no longer need them"
    echo "uninstalled from ${destdir}$prefix"
    ;;
  *) echo "usage: install.sh install|uninstall" >&2; exit 2 ;;
esac
