#!/usr/bin/env bash
# After the whole test run: no log line, audit line or file left in /tmp may hold a private key,
# a test passphrase, a test token or a session id. Usage: check-secrets.sh LOG MARKER, where
# LOG is everything the run printed and MARKER a file made when the run started.
set -euo pipefail
log=$1 marker=$2
# The secrets the tests use (tests/, src/ unit tests, end2end/), and the shapes of the others.
patterns=(
  'PRIVATE KEY'
  'test-token-0123456789abcdef-0123456789'
  'e2e-token-0123456789abcdef-0123456789'
  'correct horse'
  'tr0ub4dor &3'
  'open sesame'
  'a long passphrase'
  'blue harbou?r lights'
  'keyhatch_session_[a-z0-9]+=[0-9a-f]{64}'
  'seqera-token-[0-9a-z]+'
)
regex=$(IFS='|'; echo "${patterns[*]}")
found=0
if grep -nE "$regex" "$log" | grep -v 'check-secrets' | head -5 | grep .; then
  echo "the test output above holds a secret" >&2
  found=1
fi
# Files the run left in /tmp (its temporary homes and runtime directories are gone by now). Not
# leaks: this checkout itself, when it lies in /tmp (its sources hold the tests' constants, its
# binaries ssh-key's PEM markers), Playwright's cache of the compiled test files, and a
# developer's shell tool's command scripts.
repo=$(pwd -P)
while IFS= read -r -d '' file; do
  case $file in "$repo"/* | /tmp/playwright-transform-cache-*/* | /tmp/bash_tool_*) continue ;; esac
  if grep -qE "$regex" "$file" 2>/dev/null; then
    echo "left behind with a secret in it: $file" >&2
    found=1
  fi
done < <(find /tmp -xdev -type f -newer "$marker" -size -10M -print0 2>/dev/null)
[ "$found" = 0 ] && echo "no secret in the test output or in files left in /tmp"
exit "$found"
