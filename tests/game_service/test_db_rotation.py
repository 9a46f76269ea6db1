"""Password rotation without a restart, for real.

PostgreSQL is a cluster of the test's own with scram-sha-256 password auth (the shared test
server trusts local connections and would accept any password); Secrets Manager is moto's
server. The service runs as the production server (gunicorn, 2 workers) and connects as a
non-superuser app role whose credentials come from GAME_DB_SECRET_ID.

New connections after the rotation come from the pool's recycling (3 s here) and from
terminating the app's idle connections, as a failover would. Connections in use by a request
are left alone; one handed to a request just as it is killed fails that request with a 503
whatever the credentials, so such a request (in flight at a kill) may be a 503, no other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from tests.game_service.conftest import REPO, SESSION_SECRET, LiveServer
from tests.game_service.load import Load, guest, ok

pytestmark = pytest.mark.slow(seconds=40)  # the whole file, idle 2-core machine

APP_ROLE = "game_app"


def rds_secret(cluster, user: str, password: str, dbname: str) -> str:
    return json.dumps({"engine": "postgres", "username": user, "password": password, "host": "127.0.0.1",
                       "port": cluster.port, "dbname": dbname})


@pytest.mark.parametrize("secret_ttl", [2, 3600], ids=["short_secret_cache", "secret_cached_for_an_hour"])
def test_a_rotated_password_is_picked_up_without_a_restart_or_a_failed_request(secret_ttl, aws, make_pg_cluster,
                                                                               tmp_path):
    """With a short cache the new password arrives by expiry or by the re-read after an
    authentication failure; with an hour-long one only that re-read can bring it."""
    cluster = make_pg_cluster()
    cluster.create_database("game")
    cluster.create_role(APP_ROLE, "old-password-1")
    sm = aws.client("secretsmanager")
    tag = uuid.uuid4().hex[:8]
    admin_secret = sm.create_secret(Name=f"admin-{tag}", SecretString=json.dumps(
        {"username": "postgres", "password": cluster.password}))["ARN"]  # RDS-managed shape: no host
    app_secret = sm.create_secret(Name=f"app-{tag}", SecretString=rds_secret(cluster, APP_ROLE, "old-password-1", "game"))["ARN"]
    env = {
        "GAME_DB_SECRET_ID": app_secret,
        "GAME_DB_HOST": "127.0.0.1", "GAME_DB_PORT": str(cluster.port), "GAME_DB_NAME": "game",
        "GAME_DB_SSLMODE": "disable",  # the local cluster has no TLS; RDS gets the default, require
        "GAME_DB_USER": APP_ROLE,
        "GAME_SESSION_SECRET": SESSION_SECRET,
        "GAME_MEDIA_DIR": str(tmp_path / "media"),
        "GAME_RATE_LIMIT_WRITES": "1000000",
        "GAME_ENERGY_CAP": "1000000",
        "GAME_DB_SECRET_TTL_SECONDS": str(secret_ttl),
        "GAME_DB_POOL_RECYCLE_SECONDS": "3",
        "GAME_DB_POOL_SIZE": "3",
    }
    # the deploy step, as the master user: schema, then the app role's privileges
    r = subprocess.run([sys.executable, "-m", "game_service", "migrate", "--timeout", "60"],
                       env={**os.environ, **env, "GAME_DB_ADMIN_SECRET_ID": admin_secret, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with cluster.admin("game") as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() == (False,)

    server = LiveServer(env, workers=2)
    try:
        players = [guest(server.url) for _ in range(4)]
        pids = server.pids()
        assert len(pids) == 3, pids  # master and 2 workers
        load = Load(server.url, players, threads=3, max_seconds=60, retry_network_errors=False).start()
        time.sleep(2)
        # the rotation, in the order Secrets Manager's rotation does it: the database first,
        # then the secret's current version
        cluster.set_password(APP_ROLE, "new-password-2")
        sm.put_secret_value(SecretId=app_secret, SecretString=rds_secret(cluster, APP_ROLE, "new-password-2", "game"))
        rotated = time.monotonic()
        kills = []  # (start, end) of each pg_terminate_backend

        def terminate() -> int:
            t0 = time.monotonic()
            n = cluster.terminate(APP_ROLE, "game", idle_only=True)  # new connections now
            kills.append((t0, time.monotonic()))
            return n

        time.sleep(1)
        killed = terminate()
        time.sleep(4)  # past the pool recycle time
        killed += terminate()
        time.sleep(4)
        results = load.stop()
        assert server.pids() == pids, "a process restarted"
    finally:
        server.stop()

    def in_flight_at_a_kill(r) -> bool:
        # a connection idle at the kill may have just been handed to a request (checked, not
        # yet used): that request fails with a 503 whatever the credentials
        return any(r.start <= end and r.start + r.seconds >= start for start, end in kills)

    after = [r for r in results if r.start > rotated]
    failed = [r for r in after if not ok(r) and not (r.status == 503 and in_flight_at_a_kill(r))]
    assert len(after) > 50, f"too little load after the rotation: {len(after)} requests"
    assert not failed, failed[:5]
    assert sum(1 for r in after if not ok(r)) <= 4, "more requests failed at the kills than connections in use"
    assert killed > 0, "no app connection to terminate: the test did not force new connections"
    log = server.log_path.read_text()
    if secret_ttl > 60:
        assert "database rejected the credentials; connecting again with the secret just re-read" in log, log[-3000:]
    with cluster.admin("game") as conn:  # the new password opens connections
        conn.execute("SELECT 1")
    import psycopg

    with psycopg.connect(cluster.url("game", APP_ROLE, "new-password-2")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
