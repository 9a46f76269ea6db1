"""The embedded default (SQLite) that `python -m game_service` uses for local play: the
same migrations and the same money rules hold there too (PostgreSQL is what the other
tests and production use)."""

from __future__ import annotations

import uuid

import pytest

from game_service.core.config import Settings
from game_service.migrate import upgrade_head
from tests.game_service.conftest import befriend, sign_in_guest, start_of_a_rate_window


@pytest.fixture
def sqlite_client(make_client, tmp_path):
    url = f"sqlite:///{tmp_path}/game.db"
    upgrade_head(Settings(database_url=url, session_secret="x"))
    return make_client(database_url=url)


def test_local_sqlite_game_rules(sqlite_client):
    c = sqlite_client
    a, b = sign_in_guest(c, "Ann"), sign_in_guest(c, "Bob")
    for _ in range(20):
        assert a.post("/api/actions").status_code == 200
    assert a.post("/api/actions").json()["error"] == "no_energy"
    assert a.post("/api/shop/energy").json()["player"]["energy"] == 10
    assert a.post("/api/daily-reward").status_code == 200
    assert a.post("/api/daily-reward").status_code == 409
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, again = a.post("/api/actions", headers=key), a.post("/api/actions", headers=key)
    assert first.json() == again.json()
    s = a.state()
    assert (s["coins"], s["energy"], s["xp"]) == (50 + 100 - 30 + 100 + 5, 9, 210)
    ledger = a.get("/api/me/ledger", params={"limit": 200}).json()["items"]
    assert sum(i["delta"] for i in ledger) == s["coins"]

    befriend(a, b)
    gid = a.post("/api/gifts", json={"to_player_id": b.id}).json()["gift_id"]
    assert b.state()["gifts_waiting"] == 1
    r = b.post(f"/api/gifts/{gid}/claim")
    assert (r.status_code, r.json()) == (200, {"gift_id": gid, "coins_earned": 10, "coins": 60})
    assert b.post(f"/api/gifts/{gid}/claim").status_code == 409
    assert b.state()["gifts_waiting"] == 0
    gid = b.post("/api/gifts", json={"to_player_id": a.id}).json()["gift_id"]
    r = a.post(f"/api/gifts/{gid}/claim", headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.json()["coins_earned"] == 10 and a.state()["gifts_waiting"] == 0
    board = b.get("/api/leaderboard", params={"scope": "friends"}).json()["items"]
    assert [i["name"] for i in board] == ["Ann", "Bob"]
    assert c.get("/api/health/ready").json()["checks"] == {"database": "ok", "storage": "ok"}


def test_local_sqlite_rate_limit(make_client, tmp_path):
    url = f"sqlite:///{tmp_path}/game.db"
    upgrade_head(Settings(database_url=url, session_secret="x"))
    c = make_client(database_url=url, rate_limit_writes=2)
    a = sign_in_guest(c)
    start_of_a_rate_window()
    codes = [a.post("/api/actions", headers={"Idempotency-Key": uuid.uuid4().hex} if i % 2 else {}).status_code
             for i in range(4)]
    assert codes == [200, 200, 429, 429]
