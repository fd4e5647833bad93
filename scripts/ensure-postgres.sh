#!/usr/bin/env bash
# Make sure PostgreSQL's server binaries exist (the tests start a throwaway cluster themselves).
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL (apt-get) for the database tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "PostgreSQL server binaries not found and cannot install them; PostgreSQL tests will fail" >&2
  exit 1
fi
