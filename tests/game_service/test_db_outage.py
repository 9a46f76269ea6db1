"""Database failover and outages, for real: a PostgreSQL cluster of the test's own is
restarted under load; a server that accepts TCP and never answers, and a refused port, stand
in for an unreachable database. The service runs as the production server (gunicorn, 2
workers). Every database-unavailable answer must be a JSON 503 with Retry-After, in bounded
time; no 500, no hang; no acknowledged write lost.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.game_service.conftest import SESSION_SECRET, LiveServer
from tests.game_service.load import Load, guest, ok

pytestmark = pytest.mark.slow

APP_ROLE, APP_PASSWORD = "game_app", "app-password"
CONNECT_TIMEOUT = 2  # GAME_DB_CONNECT_TIMEOUT_SECONDS in these tests (libpq's minimum)


def server_env(tmp_path, database_url: str) -> dict:
    return {
        "GAME_DATABASE_URL": database_url,
        "GAME_SESSION_SECRET": SESSION_SECRET,
        "GAME_MEDIA_DIR": str(tmp_path / "media"),
        "GAME_RATE_LIMIT_WRITES": "1000000",
        "GAME_ENERGY_CAP": "1000000",
        "GAME_DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
        "GAME_DB_POOL_TIMEOUT_SECONDS": "2",
        "GAME_DB_RETRY_AFTER_SECONDS": "2",
    }


def assert_clean_503(r: httpx.Response) -> None:
    assert r.status_code == 503, (r.status_code, r.text)
    assert r.headers["retry-after"] == "2"
    body = r.json()
    assert body["error"] == "database_unavailable" and "Traceback" not in r.text, body


def test_a_database_restart_under_load_answers_503_then_recovers_and_loses_no_write(make_pg_cluster, tmp_path):
    from game_service.config import Settings
    from game_service.migrate import migrate

    cluster = make_pg_cluster()
    cluster.create_database("game")
    cluster.create_role(APP_ROLE, APP_PASSWORD)
    migrate(Settings(database_url=cluster.url("game"), db_user=APP_ROLE, session_secret="x"), timeout=60)

    server = LiveServer(server_env(tmp_path, cluster.url("game", APP_ROLE, APP_PASSWORD)), workers=2)
    try:
        players = [guest(server.url) for _ in range(6)]
        pids = server.pids()
        load = Load(server.url, players, threads=4, max_seconds=20, client_timeout=15).start()
        time.sleep(3)
        down = time.monotonic()
        cluster.stop()
        time.sleep(3)
        cluster.start()
        up = time.monotonic()
        time.sleep(8)
        results = load.stop()
        assert server.pids() == pids, "a process restarted"
        log = server.log_text()
    finally:
        server.stop()

    assert len(results) > 100, len(results)
    bad = [r for r in results if not ok(r) and r.status != 503]
    assert not bad, bad[:5]  # never a 500, never a hang (the client's timeout is status 0)
    failed = [r for r in results if r.status == 503]
    assert failed, "the restart went unnoticed: the test did not test anything"
    for r in failed:
        assert r.retry_after == "2" and '"database_unavailable"' in r.error, r
        assert r.seconds <= CONNECT_TIMEOUT + 1, r
        assert down - 1 <= r.start <= up + 5, r  # only around the outage
    after = [r for r in results if r.start > up + 5]
    assert len(after) > 20 and all(ok(r) for r in after), [r for r in after if not ok(r)][:5]
    first_ok = min(r.start + r.seconds for r in results if r.start >= up and ok(r))
    assert first_ok - up <= 5

    # each process logs the incident once (first failure) and its end, not every request
    assert 1 <= log.count("database unavailable; answering 503") <= 2, log[-3000:]
    assert log.count("database available again") >= 1
    assert "Traceback" not in log

    acked = {r.idem_key: r.player_id for r in results if r.idem_key and 200 <= r.status < 300}
    with cluster.admin("game") as conn:
        stored = set(conn.execute("SELECT player_id, key FROM idempotency_keys").fetchall())
        missing = [k for k, pid in acked.items() if (pid, k) not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost"
        for pid, _ in players:  # every wallet equals the sum of its ledger
            coins, total, actions = conn.execute(
                "SELECT coins, (SELECT SUM(delta) FROM ledger WHERE player_id = p.id),"
                " (SELECT count(*) FROM ledger WHERE player_id = p.id AND reason = 'action')"
                " FROM players p WHERE id = %s", (pid,)).fetchone()
            assert coins == total, (pid, coins, total)
            assert actions >= sum(1 for p in acked.values() if p == pid)


def blackhole() -> socket.socket:
    """A TCP server on 127.0.0.1 that accepts connections (the kernel does) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


@pytest.mark.parametrize("kind", ["never_answers", "refused"])
def test_an_unreachable_database_is_a_503_within_seconds(kind, make_pg_cluster, tmp_path):
    hole = None
    if kind == "never_answers":
        hole = blackhole()
        port = hole.getsockname()[1]
    else:  # a cluster of our own, stopped: its port refuses connections
        cluster = make_pg_cluster()
        cluster.stop()
        port = cluster.port
    url = f"postgresql://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{port}/game"
    server = LiveServer(server_env(tmp_path, url), workers=2)
    try:
        from game_service.security import Sessions

        signed_in = {"Authorization": "Bearer " + Sessions(SESSION_SECRET, 3600).issue(1, 0)}
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for method, path in (("POST", "/api/auth/guest"), ("GET", "/api/health/db"), ("GET", "/api/me"),
                                 ("POST", "/api/actions"), ("GET", "/api/leaderboard")):
                t0 = time.monotonic()
                r = c.request(method, path, headers=signed_in)
                took = time.monotonic() - t0
                assert_clean_503(r)
                assert took <= CONNECT_TIMEOUT + 2, (path, took)
            r = c.get("/api/health/ready")
            assert r.status_code == 503 and r.headers["retry-after"] == "2"
            assert r.json()["checks"]["database"].startswith("error")
            t0 = time.monotonic()
            assert c.get("/api/health/live").status_code == 200  # liveness stays DB-free
            assert time.monotonic() - t0 < 1
        # a burst wider than the pool (5 + 5 per worker): bounded too, by the pool timeout
        import asyncio

        async def burst():
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as ac:
                async def one():
                    t0 = time.monotonic()
                    r = await ac.get("/api/health/db")
                    return r, time.monotonic() - t0
                return await asyncio.gather(*(one() for _ in range(30)))

        for r, took in asyncio.run(burst()):
            assert_clean_503(r)
            assert took <= CONNECT_TIMEOUT + 2 + 2 + 1, took  # connect + pool wait + slack
        log = server.log_text()
        assert 1 <= log.count("database unavailable; answering 503") <= 2, log[-3000:]
    finally:
        server.stop()
        if hole:
            hole.close()
