"""`make test` on a machine where no PostgreSQL runs: the test session starts a throwaway
cluster of its own, says so in one line, runs the service tests on it and deletes it."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from local_topology.processes import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow(seconds=50)  # the whole file, idle 2-core machine
def test_the_suite_starts_its_own_postgresql_when_none_answers():
    nothing_there = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    env = {**os.environ, "TEST_DATABASE_URL": nothing_there}
    env.pop("TEST_PG_SOCKET_DIR", None)
    result = subprocess.run(
        ["scripts/test.sh", "-n", "1", "-q", "-p", "no:cacheprovider",  # a worker, as make test runs it
         "tests/game_service/test_game_api.py::test_action_spends_energy_and_earns_coins_and_xp_until_energy_runs_out"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 passed" in out, out
    notes = [line for line in out.splitlines() if "started a throwaway cluster" in line]
    assert len(notes) == 1 and nothing_there in notes[0], out
    folder = re.search(r" in (\S+) for this session", notes[0]).group(1)
    assert not Path(folder).exists(), "the throwaway cluster is deleted at the end"
