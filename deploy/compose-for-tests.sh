#!/usr/bin/env bash
# Make `docker compose config` available to the test suite. It only reads and checks the
# compose file, so no Docker engine is needed, only the docker CLI and its compose plugin.
# Debian 12 packages compose v1 alone; the v2 plugin comes from Debian 13's package,
# verified like apt does (Debian's signed Release file → the package index → the package),
# and unpacked where the CLI looks for plugins.
set -euo pipefail

PLUGINS=/usr/local/lib/docker/cli-plugins
MIRROR=http://deb.debian.org/debian
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if ! command -v docker >/dev/null; then
  echo "Installing the docker CLI with apt-get…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-cli >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io >/dev/null
fi

if docker compose version >/dev/null 2>&1; then
  echo "docker compose: $(docker compose version --short)"
  exit 0
fi

arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Fetching the compose plugin from Debian 13 ($arch)…"
index=main/binary-$arch/Packages.xz
curl -fsS -o "$work/InRelease" "$MIRROR/dists/trixie/InRelease"
gpgv --keyring /usr/share/keyrings/debian-archive-keyring.gpg "$work/InRelease" 2>/dev/null \
  || { echo "Debian 13's Release file has no valid signature" >&2; exit 1; }
index_sum=$(awk -v f="$index" '/^SHA256:/ {on=1; next} /^[A-Z]/ {on=0} on && $3 == f {print $1}' \
  "$work/InRelease")
curl -fsS -o "$work/Packages.xz" "$MIRROR/dists/trixie/$index"
echo "$index_sum  $work/Packages.xz" | sha256sum -c --quiet
xz -dc "$work/Packages.xz" | awk '/^Package: docker-compose$/,/^$/' >"$work/entry"
file=$(awk '/^Filename:/ {print $2}' "$work/entry")
sum=$(awk '/^SHA256:/ {print $2}' "$work/entry")
[ -n "$file" ] && [ -n "$sum" ] || { echo "docker-compose is not in Debian 13's index" >&2; exit 1; }
curl -fsS -o "$work/compose.deb" "$MIRROR/$file"
echo "$sum  $work/compose.deb" | sha256sum -c --quiet
dpkg-deb -x "$work/compose.deb" "$work/root"
$SUDO install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
  "$PLUGINS/docker-compose"
echo "docker compose: $(docker compose version --short)"
