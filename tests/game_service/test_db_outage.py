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

pytestmark = pytest.mark.slow(seconds=75)  # the whole file, idle 2-core machine

APP_ROLE, APP_PASSWORD = "game_app", "app-password"
CONNECT_TIMEOUT = 2  # GAME_DB_CONNECT_TIMEOUT_SECONDS in these tests (libpq's minimum)
# A statement on a connection whose server vanished: TCP gives up on unacknowledged data
# after tcp_user_timeout (game_service.core.db_auth), and the request answers 503.
FAIL_FAST_SECONDS = 5


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


def assert_no_acknowledged_write_lost(cluster, results, players) -> None:
    """Every write answered 2xx is stored, and every wallet equals the sum of its ledger."""
    acked = {r.idem_key: r.player_id for r in results if r.idem_key and 200 <= r.status < 300}
    with cluster.admin("game") as conn:
        stored = set(conn.execute("SELECT player_id, key FROM idempotency_keys").fetchall())
        missing = [k for k, pid in acked.items() if (pid, k) not in stored]
        assert not missing, f"{len(missing)} acknowledged writes lost"
        for pid, _ in players:
            coins, total, actions = conn.execute(
                "SELECT coins, (SELECT SUM(delta) FROM ledger WHERE player_id = p.id),"
                " (SELECT count(*) FROM ledger WHERE player_id = p.id AND reason = 'action')"
                " FROM players p WHERE id = %s", (pid,)).fetchone()
            assert coins == total, (pid, coins, total)
            assert actions >= sum(1 for p in acked.values() if p == pid)


def test_a_database_restart_under_load_answers_503_then_recovers_and_loses_no_write(make_pg_cluster, tmp_path):
    from game_service.core.config import Settings
    from game_service.migrate import migrate

    cluster = make_pg_cluster()
    cluster.create_database("game")
    cluster.create_role(APP_ROLE, APP_PASSWORD)
    migrate(Settings(database_url=cluster.url("game"), db_user=APP_ROLE, session_secret="x"), timeout=60)

    server = LiveServer(server_env(tmp_path, cluster.url("game", APP_ROLE, APP_PASSWORD)), workers=2)
    try:
        players = [guest(server.url) for _ in range(6)]
        pids = server.pids()
        load = Load(server.url, players, threads=4, max_seconds=20, client_timeout=15, retry_network_errors=False).start()
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

    assert_no_acknowledged_write_lost(cluster, results, players)


@pytest.fixture
def silent_network():
    from tests.game_service.silent_network import SilentNetwork, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(f"a silent failover needs the kernel to drop packets: {reason}")
    net = SilentNetwork()
    yield net
    net.close()


def widen_pools(url: str, players) -> None:
    """As many requests at once as both workers' pools hold: each pool opens all its connections."""
    import asyncio

    async def burst():
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            for _ in range(3):
                rs = await asyncio.gather(*(client.get("/api/me", headers=players[i % len(players)][1])
                                            for i in range(24)))
                assert all(r.status_code == 200 for r in rs), [r.status_code for r in rs]

    asyncio.run(burst())


def fail_over_silently(cluster, net) -> tuple[float, float, list[int], list[int]]:
    """The old primary goes silent for every connection; a fast shutdown flushes every commit
    (as a synchronous standby holds it) and its goodbyes are dropped; connects hang while the
    endpoint's name moves; then the new primary answers at the same address, the old
    connections staying silent. Returns (down, up, pooled client ports, the ports still
    established once the old primary is gone: no goodbye reached them).

    The second list is read right after the stop: by the time the new primary answers, the
    kernel may already have failed some of them itself (keepalive probes after
    KEEPALIVE_IDLE_SECONDS, then TCP_USER_TIMEOUT_MS), which is what a slow machine's restart
    allows for, and which is no goodbye either."""
    pooled = net.open_connections(cluster.port)
    down = time.monotonic()
    net.silence_port(cluster.port)
    cluster.stop()
    stale = net.open_connections(cluster.port)
    time.sleep(2)
    cluster.start()
    net.keep_silent(cluster.port)
    return down, time.monotonic(), pooled, stale


def game_on_its_own_cluster(make_pg_cluster, tmp_path):
    from game_service.core.config import Settings
    from game_service.migrate import migrate

    cluster = make_pg_cluster()
    cluster.create_database("game")
    cluster.create_role(APP_ROLE, APP_PASSWORD)
    migrate(Settings(database_url=cluster.url("game"), db_user=APP_ROLE, session_secret="x"), timeout=60)
    return cluster, LiveServer(server_env(tmp_path, cluster.url("game", APP_ROLE, APP_PASSWORD)), workers=2)


def test_a_silent_failover_under_load_fails_fast_recovers_within_5_s_and_loses_no_write(
        make_pg_cluster, silent_network, tmp_path):
    """An RDS failover as it happens: the old primary vanishes without closing anything (its
    packets dropped by the kernel: no FATAL, no FIN, no RST, no ACK), connects hang while the
    endpoint moves, then the new primary answers at the same address with every committed
    write. The pooled connections to the old one are dead without knowing it."""
    from game_service.core.db_auth import TCP_USER_TIMEOUT_MS

    cluster, server = game_on_its_own_cluster(make_pg_cluster, tmp_path)
    try:
        players = [guest(server.url) for _ in range(6)]
        load = Load(server.url, players, threads=4, max_seconds=40, client_timeout=20, retry_network_errors=False).start()
        time.sleep(1)
        widen_pools(server.url, players)  # idle pooled connections too, not only the busy ones
        time.sleep(1)
        down, up, pooled, stale = fail_over_silently(cluster, silent_network)
        time.sleep(10)
        results = load.stop()
        log = server.log_text()
    finally:
        server.stop()

    assert len(pooled) >= 8 and set(pooled) <= set(stale), (pooled, stale)  # the pools' connections went silent
    assert len(results) > 100, len(results)
    bad = [r for r in results if not ok(r) and r.status != 503]
    assert not bad, bad[:5]  # never a 500, never a hang (the client's timeout is status 0)
    failed = [r for r in results if r.status == 503]
    assert failed, "the failover went unnoticed: the test did not test anything"
    for r in failed:  # fast: bounded by the connections' TCP timeout, not by the client's patience
        assert r.retry_after == "2" and '"database_unavailable"' in r.error, r
        assert r.seconds <= FAIL_FAST_SECONDS, r
        assert down - 1 <= r.start <= up + 5, r
    first_ok = min(r.start + r.seconds for r in results if r.start >= up and ok(r))
    assert first_ok - up <= 5, first_ok - up
    # The requests in flight when the old primary went silent fail once the kernel gives up
    # on their connections (tcp_user_timeout), at the same moment as it fails the idle ones.
    caught = [r for r in failed if r.start <= down + 0.1]
    assert caught, "no request was in flight on a connection that went silent"
    noticed = max(r.start + r.seconds for r in caught)
    assert noticed - down <= TCP_USER_TIMEOUT_MS / 1000 + 1, noticed - down
    # From then on, with the new primary up, no request fails: the dead idle connections are
    # replaced at checkout (the pool's liveness check), never handed to a request.
    after = [r for r in results if r.start > max(up, noticed)]
    assert len(after) > 50 and all(ok(r) for r in after), [r for r in after if not ok(r)][:5]
    assert "Traceback" not in log

    assert_no_acknowledged_write_lost(cluster, results, players)



def test_a_silent_failover_while_the_pools_are_idle_costs_no_request(make_pg_cluster, silent_network, tmp_path):
    """A failover in a quiet hour: nothing in flight, every pooled connection idle and dead
    without knowing it. The kernel fails them (keepalive probes, tcp_user_timeout); the
    pool's checkout check sees that and opens new ones: the next requests all succeed. (Under
    load, a request's failure also makes SQLAlchemy drop the whole pool; here nothing fails
    first, so only the checkout check stands between a dead connection and a request.)"""
    from game_service.core.db_auth import KEEPALIVE_IDLE_SECONDS, TCP_USER_TIMEOUT_MS

    cluster, server = game_on_its_own_cluster(make_pg_cluster, tmp_path)
    try:
        players = [guest(server.url) for _ in range(6)]
        widen_pools(server.url, players)
        down, up, pooled, stale = fail_over_silently(cluster, silent_network)
        time.sleep(max(0.0, down + KEEPALIVE_IDLE_SECONDS + TCP_USER_TIMEOUT_MS / 1000 + 1 - time.monotonic()))
        with httpx.Client(base_url=server.url, timeout=20) as c:
            statuses = [c.get("/api/me", headers=players[i % len(players)][1]).status_code for i in range(40)]
        log = server.log_text()
    finally:
        server.stop()
    assert len(pooled) >= 8 and set(pooled) <= set(stale), (pooled, stale)
    assert statuses == [200] * 40, statuses
    assert "database unavailable" not in log, log[-3000:]

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
        from game_service.core.security import Sessions

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
