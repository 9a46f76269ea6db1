"""Local play (`python -m game_service`, as `make play` runs it) keeps its session secret
under ./var/, so a restart does not sign anybody out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import httpx
import pytest

from local_topology.processes import free_port
from tests.game_service.conftest import REPO

pytestmark = pytest.mark.slow


def start(cwd, port, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAME_", "AWS_"))}
    env.update(GAME_PORT=str(port), PYTHONPATH=str(REPO), **extra)
    proc = subprocess.Popen([sys.executable, "-m", "game_service"], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health/live").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the game did not start: " + proc.communicate()[1][-2000:])


def stop(proc):
    proc.terminate()
    proc.wait(20)


def test_a_restart_of_local_play_keeps_players_signed_in(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    try:
        r = httpx.post(url + "/api/auth/guest", json={"name": "Stays"})
        assert r.status_code == 201
        token = r.json()["token"]
    finally:
        stop(proc)
    secret = tmp_path / "var" / "session_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text()) >= 40
    proc = start(tmp_path, port)
    try:
        r = httpx.get(url + "/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["name"] == "Stays"
    finally:
        stop(proc)
    # a configured secret wins over the kept one: the old session is not valid under it
    proc = start(tmp_path, port, GAME_SESSION_SECRET="another-secret-for-this-test")
    try:
        assert httpx.get(url + "/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        stop(proc)
