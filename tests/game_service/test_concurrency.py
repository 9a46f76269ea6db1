"""Money paths under real concurrency: the real server (gunicorn, 2 worker processes)
against PostgreSQL, hammered by many simultaneous HTTP requests."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

pytestmark = pytest.mark.slow(seconds=30)  # the whole file, idle 2-core machine


def hammer(url: str, n: int, method: str, path: str, headers_for) -> list[httpx.Response]:
    async def run():
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as c:
            return await asyncio.gather(*(c.request(method, path, headers=headers_for(i)) for i in range(n)))

    return asyncio.run(run())


def guest(url: str) -> tuple[int, dict]:
    r = httpx.post(url + "/api/auth/guest")
    assert r.status_code == 201
    return r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}


def invariants(db, pid: int) -> int:
    coins = db.execute("SELECT coins FROM players WHERE id = %s", (pid,)).fetchone()[0]
    total = db.execute("SELECT SUM(delta) FROM ledger WHERE player_id = %s", (pid,)).fetchone()[0]
    assert coins >= 0
    assert total == coins, "the ledger must sum to the balance"
    return coins


def test_200_concurrent_spends_never_overdraw_the_wallet(live_server, db):
    pid, h = guest(live_server.url)
    db.execute("UPDATE players SET coins = 100, energy = 0 WHERE id = %s", (pid,))
    db.execute("INSERT INTO ledger (player_id, delta, balance_after, reason, op_key) VALUES (%s, 50, 100, 'test', 'seed')", (pid,))
    rs = hammer(live_server.url, 200, "POST", "/api/shop/energy", lambda i: h)
    codes = Counter(r.status_code for r in rs)
    assert codes == {200: 2, 409: 198}, codes  # 0 -> 10 -> 20 energy; the cap allows two packs
    assert all(r.json()["error"] in ("energy_full", "insufficient_coins") for r in rs if r.status_code == 409)
    assert invariants(db, pid) == 100 - 2 * 30
    assert db.execute("SELECT energy FROM players WHERE id = %s", (pid,)).fetchone()[0] == 20
    assert db.execute("SELECT count(*) FROM ledger WHERE player_id = %s AND reason = 'energy_pack'", (pid,)).fetchone()[0] == 2


def test_200_concurrent_packs_never_pay_past_the_wallet(live_server, db):
    pid, h = guest(live_server.url)
    db.execute("UPDATE players SET coins = 40, energy = 0 WHERE id = %s", (pid,))
    db.execute("INSERT INTO ledger (player_id, delta, balance_after, reason, op_key) VALUES (%s, -10, 40, 'test', 'seed')", (pid,))
    rs = hammer(live_server.url, 200, "POST", "/api/shop/energy", lambda i: h)
    assert Counter(r.status_code for r in rs) == {200: 1, 409: 199}  # room for two packs, coins for one
    assert {r.json()["error"] for r in rs if r.status_code == 409} == {"insufficient_coins"}
    assert invariants(db, pid) == 10


def test_100_concurrent_castle_upgrades_pay_each_price_once(live_server, db):
    pid, h = guest(live_server.url)
    db.execute("UPDATE players SET coins = 1000 WHERE id = %s", (pid,))
    db.execute("INSERT INTO ledger (player_id, delta, balance_after, reason, op_key) VALUES (%s, 950, 1000, 'test', 'seed')", (pid,))
    rs = hammer(live_server.url, 100, "POST", "/api/castle/upgrade", lambda i: h)
    assert Counter(r.status_code for r in rs) == {200: 5, 409: 95}  # 50+100+150+200+250 = 750; 300 > 250 left
    assert sorted(r.json()["coins_spent"] for r in rs if r.status_code == 200) == [50, 100, 150, 200, 250]
    assert invariants(db, pid) == 250
    assert db.execute("SELECT level FROM castles WHERE player_id = %s", (pid,)).fetchone()[0] == 5


def test_200_concurrent_actions_spend_exactly_the_energy_there_is(live_server, db):
    pid, h = guest(live_server.url)
    rs = hammer(live_server.url, 200, "POST", "/api/actions", lambda i: h)
    codes = Counter(r.status_code for r in rs)
    assert codes == {200: 20, 409: 180}, codes
    assert db.execute("SELECT energy FROM players WHERE id = %s", (pid,)).fetchone()[0] == 0
    assert invariants(db, pid) == 50 + 20 * 5


def test_50_concurrent_claims_of_one_gift_succeed_once(live_server, db):
    a, ha = guest(live_server.url)
    b, hb = guest(live_server.url)
    rid = httpx.post(live_server.url + "/api/friends/requests", json={"player_id": b}, headers=ha).json()["request_id"]
    assert httpx.post(live_server.url + f"/api/friends/requests/{rid}/accept", headers=hb).status_code == 200
    gid = httpx.post(live_server.url + "/api/gifts", json={"to_player_id": b}, headers=ha).json()["gift_id"]
    rs = hammer(live_server.url, 50, "POST", f"/api/gifts/{gid}/claim", lambda i: hb)
    codes = Counter(r.status_code for r in rs)
    assert codes == {200: 1, 409: 49}, codes
    assert invariants(db, b) == 60
    assert httpx.get(live_server.url + "/api/me", headers=hb).json()["gifts_waiting"] == 0


def test_same_idempotency_key_replayed_concurrently_applies_once(live_server, db):
    pid, h = guest(live_server.url)
    key = {**h, "Idempotency-Key": uuid.uuid4().hex}
    rs = hammer(live_server.url, 40, "POST", "/api/actions", lambda i: key)
    assert {r.status_code for r in rs} == {200}
    assert len({r.text for r in rs}) == 1, "every replay gets the same answer"
    assert db.execute("SELECT energy FROM players WHERE id = %s", (pid,)).fetchone()[0] == 19
    assert invariants(db, pid) == 55


def test_concurrent_daily_claims_pay_once(live_server, db):
    pid, h = guest(live_server.url)
    rs = hammer(live_server.url, 30, "POST", "/api/daily-reward", lambda i: h)
    assert Counter(r.status_code for r in rs) == {200: 1, 409: 29}
    assert invariants(db, pid) == 150


def test_concurrent_gift_sends_respect_the_daily_limit(live_server, db):
    a, ha = guest(live_server.url)
    friends = []
    for _ in range(15):
        b, hb = guest(live_server.url)
        rid = httpx.post(live_server.url + "/api/friends/requests", json={"player_id": b}, headers=ha).json()["request_id"]
        assert httpx.post(live_server.url + f"/api/friends/requests/{rid}/accept", headers=hb).status_code == 200
        friends.append(b)

    async def run():
        async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
            return await asyncio.gather(
                *(c.post("/api/gifts", json={"to_player_id": f}, headers=ha) for f in friends for _ in range(2))
            )

    rs = asyncio.run(run())
    assert Counter(r.status_code for r in rs)[201] == 10  # gifts_per_day default
    assert db.execute("SELECT count(*) FROM gifts WHERE sender_id = %s", (a,)).fetchone()[0] == 10


def test_sigterm_lets_an_in_flight_request_finish_then_exits_cleanly(pg_url, tmp_path):
    """Graceful shutdown: a request whose body is still arriving when SIGTERM comes is
    completed and answered; then the server exits 0 and stops accepting connections."""
    from tests.game_service.conftest import SESSION_SECRET, LiveServer

    server = LiveServer(
        {"GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": SESSION_SECRET, "GAME_MEDIA_DIR": str(tmp_path / "m")},
        workers=1,
    )
    try:
        pid, h = guest(server.url)
        up = httpx.post(server.url + "/api/me/avatar/upload-url", json={"content_type": "image/png"}, headers=h).json()
        boundary = "gracefulboundary"
        head = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in up["fields"].items()
        )
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 4000
        body = head.encode() + png + f"\r\n--{boundary}--\r\n".encode()
        signalled = asyncio.Event()

        async def slow_body():
            for i in range(0, len(body), 500):
                yield body[i : i + 500]
                if i == 1000:
                    signalled.set()
                await asyncio.sleep(0.1)

        async def run():
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
                upload = asyncio.create_task(
                    c.post(up["url"], content=slow_body(),
                           headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
                )
                await signalled.wait()
                stopper = asyncio.get_running_loop().run_in_executor(None, server.stop)
                return await upload, await stopper

        response, rc = asyncio.run(run())
        assert response.status_code == 204, response.text
        assert rc == 0
        assert (tmp_path / "m" / up["key"]).is_file()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/api/health/live", timeout=2)
    finally:
        server.stop()


def test_players_gifting_each_other_at_once_never_deadlock(live_server, db):
    pairs = []
    for _ in range(15):
        a, ha = guest(live_server.url)
        b, hb = guest(live_server.url)
        rid = httpx.post(live_server.url + "/api/friends/requests", json={"player_id": b}, headers=ha).json()["request_id"]
        assert httpx.post(live_server.url + f"/api/friends/requests/{rid}/accept", headers=hb).status_code == 200
        pairs.append((a, ha, b, hb))

    async def run():
        async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
            sends = []
            for a, ha, b, hb in pairs:
                sends.append(c.post("/api/gifts", json={"to_player_id": b}, headers=ha))
                sends.append(c.post("/api/gifts", json={"to_player_id": a}, headers=hb))
                sends.append(c.post("/api/actions", headers=ha))
                sends.append(c.post("/api/actions", headers=hb))
            return await asyncio.gather(*sends)

    rs = asyncio.run(run())
    assert {r.status_code for r in rs} == {200, 201}, [r.text for r in rs if r.status_code >= 300][:3]
    for a, ha, b, hb in pairs:
        for pid, h in ((a, ha), (b, hb)):
            state = httpx.get(live_server.url + "/api/me", headers=h).json()
            assert state["gifts_waiting"] == 1
            assert db.execute(
                "SELECT count(*) FROM gifts WHERE recipient_id = %s AND claimed_at IS NULL", (pid,)
            ).fetchone()[0] == 1


def test_concurrent_first_facebook_sign_ins_make_one_player(live_server):
    import time as _time

    from tests.game_service.conftest import FB_APP_SECRET, make_signed_request

    sr = make_signed_request(
        {"algorithm": "HMAC-SHA256", "issued_at": int(_time.time()), "user_id": f"fb-{uuid.uuid4().hex[:10]}"},
        FB_APP_SECRET,
    )

    async def run():
        async with httpx.AsyncClient(base_url=live_server.url, timeout=60) as c:
            return await asyncio.gather(*(c.post("/api/auth/facebook", json={"signed_request": sr}) for _ in range(20)))

    rs = asyncio.run(run())
    assert {r.status_code for r in rs} == {200}
    assert len({r.json()["player"]["id"] for r in rs}) == 1


def test_nothing_acknowledged_is_lost_when_the_server_is_killed(pg_url, tmp_path, db):
    """SIGKILL the whole server in the middle of a write storm: every write that was
    answered 200 is in the database, and every wallet still equals its ledger."""
    from tests.game_service.conftest import SESSION_SECRET, LiveServer

    server = LiveServer(
        {"GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": SESSION_SECRET, "GAME_MEDIA_DIR": str(tmp_path / "m"),
         "GAME_RATE_LIMIT_WRITES": "100000"},
    )
    try:
        players = [guest(server.url) for _ in range(10)]
        for pid, _ in players:
            db.execute("UPDATE players SET energy = 100000 WHERE id = %s", (pid,))

        async def storm():
            acked: Counter = Counter()
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:

                async def one(pid, h):
                    try:
                        r = await c.post("/api/actions", headers=h)
                    except httpx.HTTPError:
                        return
                    if r.status_code == 200:
                        acked[pid] += 1

                async def player_loop(pid, h):
                    for _ in range(400):
                        await one(pid, h)

                loops = [asyncio.create_task(player_loop(pid, h)) for pid, h in players]
                await asyncio.sleep(1.0)
                server.crash()
                await asyncio.gather(*loops)
            return acked

        acked = asyncio.run(storm())
    finally:
        server.crash()
    assert sum(acked.values()) > 0, "the storm should have been answered before the crash"
    for pid, _ in players:
        in_ledger = db.execute(
            "SELECT count(*) FROM ledger WHERE player_id = %s AND reason = 'action'", (pid,)
        ).fetchone()[0]
        assert in_ledger >= acked[pid]
        assert invariants(db, pid) == 50 + 5 * in_ledger
