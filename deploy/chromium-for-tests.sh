#!/usr/bin/env bash
# Install the browser the desk's browser tests drive with Playwright:
#   Debian's Chromium, at /usr/bin/chromium                   chromium
# Playwright's own browser download (`playwright install`) is never used: the tests launch
# this one by its path. Installs with apt-get only when it is missing; running it again
# changes nothing.
set -euo pipefail

BROWSER=/usr/bin/chromium
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if [ -x "$BROWSER" ]; then
  echo "Chromium for the browser tests is installed ($("$BROWSER" --version 2>/dev/null || echo "$BROWSER"))"
  exit 0
fi

echo "Installing chromium with apt-get…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  chromium >/dev/null

[ -x "$BROWSER" ] || { echo "$BROWSER is still missing after installing" >&2; exit 1; }
echo "Chromium for the browser tests is installed ($("$BROWSER" --version 2>/dev/null || echo "$BROWSER"))"
