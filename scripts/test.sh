#!/usr/bin/env bash
# The whole test suite. Fails loudly when PostgreSQL (127.0.0.1:5432, trust auth,
# database `test`) is unreachable: the service tests run against it for real.
set -euo pipefail
cd "$(dirname "$0")/.."
PGHOST_=${TEST_PG_HOST:-127.0.0.1}
PGPORT_=${TEST_PG_PORT:-5432}
if ! pg_isready -q -h "$PGHOST_" -p "$PGPORT_" -t 10; then
  echo "test: PostgreSQL is not reachable at $PGHOST_:$PGPORT_ (the service tests need it)." >&2
  echo "test: start it, e.g. pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
fi
exec .venv/bin/python -m pytest "$@"
