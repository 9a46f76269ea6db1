#!/usr/bin/env bash
# The whole test suite. The service tests run against real PostgreSQL: the server at
# TEST_DATABASE_URL (default 127.0.0.1:5432, trust auth, database `test`) or, when none
# answers there, a throwaway cluster the test session starts itself (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest "$@"
