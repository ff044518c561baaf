#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the test suite:
# install it with the system's package manager when it is missing, start it when stopped.
set -euo pipefail

HOST=127.0.0.1
PORT=5432
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

ready() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if command -v pg_isready >/dev/null && ready; then
  echo "PostgreSQL is running on $HOST:$PORT"
  exit 0
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "Installing PostgreSQL with apt-get…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql postgresql-client >/dev/null
  installed=yes
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! ls -d /etc/postgresql/"$version"/main >/dev/null 2>&1; then
  $SUDO pg_createcluster "$version" main
fi
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

for _ in $(seq 1 30); do
  ready && break
  sleep 1
done
ready || { echo "PostgreSQL did not start on $HOST:$PORT" >&2; exit 1; }

if [ "${installed:-no}" = yes ]; then
  # A fresh Debian cluster asks for a password on TCP; give the tests the one they use.
  $SUDO runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'"
fi
echo "PostgreSQL is running on $HOST:$PORT"
