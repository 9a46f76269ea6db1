#!/usr/bin/env bash
# The whole test suite, on every core: pytest-xdist workers (TEST_WORKERS, default 3: the suite
# waits on servers, boots and timeouts more than it computes), with the tests that share a
# machine-wide resource in one group each, run one after another (tests/conftest.py,
# SHARED_RESOURCES). Arguments go to pytest: `scripts/test.sh -n 0 tests/stacks` runs one
# folder in this process.
#
# The service tests run against real PostgreSQL: the server at TEST_DATABASE_URL (default
# 127.0.0.1:5432, trust auth, database `test`) or, when none answers there, a throwaway
# cluster the test session starts itself (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" --dist loadgroup "$@"
