#!/usr/bin/env bash
# The whole test suite, on every core: pytest-xdist workers (TEST_WORKERS, default 2), each
# test file in one worker, its tests one after another (`--dist loadfile`): a file's tests
# may share what only one may use at a time (a fixed port, test_db_outage.py's nftables
# table). Arguments go to pytest: `scripts/test.sh -n 0 tests/stacks` runs one folder in this
# process.
#
# The service tests run against real PostgreSQL: the server at TEST_DATABASE_URL (default
# 127.0.0.1:5432, trust auth, database `test`) or, when none answers there, a throwaway
# cluster the test session starts itself (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile --no-loadscope-reorder "$@"
