"""Every write endpoint, with and without an ``Idempotency-Key``: the same effects, the same
refusals, the same write budget. A keyed write goes through the transaction path, an unkeyed
one (on PostgreSQL) may take the one-statement path; a bug on either must fail here."""

from __future__ import annotations

import uuid

import pytest

from game_service.core import clock
from tests.game_service.conftest import Player, post, befriend, coins_of, ledger_sum, sign_in_guest, start_of_a_rate_window


def gifts_waiting(db, player_id: int) -> int:
    return db.execute("SELECT gifts_waiting FROM players WHERE id = %s", (player_id,)).fetchone()[0]


def unclaimed(db, player_id: int) -> int:
    q = "SELECT count(*) FROM gifts WHERE recipient_id = %s AND claimed_at IS NULL"
    return db.execute(q, (player_id,)).fetchone()[0]


def test_action_spends_energy_for_coins_and_xp(client, db, keyed):
    p = sign_in_guest(client)
    r = post(p, "/api/actions", keyed)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["coins_earned"], body["xp_earned"], body["energy_spent"]) == (5, 10, 1)
    assert {k: body["player"][k] for k in ("coins", "energy", "xp", "next_energy_in_seconds", "facebook_linked")} == {
        "coins": 55, "energy": 19, "xp": 10, "next_energy_in_seconds": 180, "facebook_linked": False}
    assert p.state()["coins"] == 55 == coins_of(db, p.id) == ledger_sum(db, p.id)
    for _ in range(19):
        assert post(p, "/api/actions", keyed).status_code == 200
    r = post(p, "/api/actions", keyed)
    assert r.status_code == 409 and r.json()["error"] == "no_energy"
    s = p.state()
    assert (s["coins"], s["energy"], s["xp"], s["level"]) == (150, 0, 200, 3)
    assert ledger_sum(db, p.id) == 150
    clock.advance(180)
    assert post(p, "/api/actions", keyed).json()["player"]["energy"] == 0


def test_energy_pack_spends_coins_for_energy(client, db, keyed):
    p = sign_in_guest(client)
    for _ in range(15):
        post(p, "/api/actions", keyed)
    r = post(p, "/api/shop/energy", keyed)
    assert r.status_code == 200, r.text
    assert (r.json()["coins_spent"], r.json()["energy_added"]) == (30, 10)
    s = p.state()
    assert (s["coins"], s["energy"]) == (50 + 75 - 30, 15)
    assert ledger_sum(db, p.id) == 95
    r = post(p, "/api/shop/energy", keyed)  # 15 + 10 would pass the cap of 20
    assert r.status_code == 409 and r.json()["error"] == "energy_full"
    for _ in range(15):
        post(p, "/api/actions", keyed)
    for _ in range(2):  # 0 -> 10 -> 20
        assert post(p, "/api/shop/energy", keyed).status_code == 200
    for _ in range(20):
        post(p, "/api/actions", keyed)
    s = p.state()
    assert (s["coins"], s["energy"]) == (95 + 75 - 60 + 100, 0)
    db.execute("UPDATE players SET coins = 29 WHERE id = %s", (p.id,))
    db.execute("INSERT INTO ledger (player_id, delta, balance_after, reason, op_key)"
               " VALUES (%s, -181, 29, 'test', %s)", (p.id, uuid.uuid4().hex))
    r = post(p, "/api/shop/energy", keyed)  # room, but one coin short
    assert r.status_code == 409 and r.json()["error"] == "insufficient_coins"
    s = p.state()
    assert (s["coins"], s["energy"]) == (29, 0) and ledger_sum(db, p.id) == 29


def test_daily_reward_pays_once_a_day(client, db, keyed):
    p = sign_in_guest(client)
    r = post(p, "/api/daily-reward", keyed)
    assert r.status_code == 200 and r.json()["coins"] == 150
    r = post(p, "/api/daily-reward", keyed)
    assert r.status_code == 409 and r.json()["error"] == "already_claimed"
    assert p.state()["daily_reward_available"] is False and p.state()["daily_reward_coins"] == 100
    clock.advance(24 * 3600)
    assert post(p, "/api/daily-reward", keyed).json()["coins"] == 250
    assert ledger_sum(db, p.id) == 250 == coins_of(db, p.id)


def test_friend_request_and_accept(client, keyed):
    a, b, c = sign_in_guest(client), sign_in_guest(client), sign_in_guest(client)
    pending = {p.id: c.post("/api/friends/requests", json={"player_id": p.id}).json()["request_id"] for p in (a, b)}
    r = post(a, "/api/friends/requests", keyed, json={"player_id": b.id})
    assert r.status_code == 201 and r.json() == {"status": "requested", "request_id": r.json()["request_id"],
                                                 "player_id": b.id}
    r2 = post(a, "/api/friends/requests", keyed, json={"player_id": b.id})
    assert r2.status_code == 409 and r2.json()["error"] == "already_requested"
    rid = r.json()["request_id"]
    assert [x["request_id"] for x in a.get("/api/friends").json()["outgoing_requests"]] == [rid]
    assert post(a, f"/api/friends/requests/{rid}/accept", keyed).status_code == 404  # not addressed to a
    r = post(b, f"/api/friends/requests/{rid}/accept", keyed)
    assert r.status_code == 200 and r.json() == {"status": "friends", "player_id": a.id}
    assert [f["id"] for f in a.get("/api/friends").json()["friends"]] == [b.id]
    # becoming friends removes their requests, not anybody else's
    for p in (a, b):
        assert [x["request_id"] for x in p.get("/api/friends").json()["incoming_requests"]] == [pending[p.id]]
    assert post(b, f"/api/friends/requests/{rid}/accept", keyed).status_code == 404


def test_gift_send_and_claim_move_coins_and_the_waiting_count(client, db, keyed):
    a, b = sign_in_guest(client), sign_in_guest(client)
    befriend(a, b)
    r = post(a, "/api/gifts", keyed, json={"to_player_id": b.id})
    assert r.status_code == 201 and r.json()["coins"] == 10
    gid = r.json()["gift_id"]
    assert b.state()["gifts_waiting"] == 1 == gifts_waiting(db, b.id) == unclaimed(db, b.id)
    [item] = b.get("/api/gifts").json()["items"]
    assert item.pop("sent_at").startswith(str(clock.today()))
    assert item == {"id": gid, "coins": 10, "from": {"id": a.id, "name": a.state()["name"]}, "claimed": False}
    r = post(a, "/api/gifts", keyed, json={"to_player_id": b.id})
    assert r.status_code == 409 and r.json()["error"] == "already_gifted"
    assert post(a, f"/api/gifts/{gid}/claim", keyed).status_code == 404  # not a's gift
    r = post(b, f"/api/gifts/{gid}/claim", keyed)
    assert r.status_code == 200 and r.json() == {"gift_id": gid, "coins_earned": 10, "coins": 60}
    assert b.state()["gifts_waiting"] == 0 == gifts_waiting(db, b.id) == unclaimed(db, b.id)
    r = post(b, f"/api/gifts/{gid}/claim", keyed)
    assert r.status_code == 409 and r.json()["error"] == "already_claimed"
    assert (coins_of(db, b.id), ledger_sum(db, b.id), gifts_waiting(db, b.id)) == (60, 60, 0)
    assert post(b, "/api/gifts/987654321/claim", keyed).status_code == 404


# the seven write endpoints: (name, request maker given two friends a, b and a fresh gift id)
def _writes(a: Player, b: Player, gid: int, rid: int) -> dict:
    return {
        "action": (a, "/api/actions", None),
        "energy_pack": (a, "/api/shop/energy", None),
        "daily": (a, "/api/daily-reward", None),
        "friend_request": (a, "/api/friends/requests", {"player_id": b.id}),
        "friend_accept": (b, f"/api/friends/requests/{rid}/accept", None),
        "gift_send": (a, "/api/gifts", {"to_player_id": b.id}),
        "gift_claim": (b, f"/api/gifts/{gid}/claim", None),
    }


WRITES = ("action", "energy_pack", "daily", "friend_request", "friend_accept", "gift_send", "gift_claim")


@pytest.mark.parametrize("name", WRITES)
def test_every_write_counts_against_the_rate_limit(make_client, keyed, name):
    one = make_client(rate_limit_writes=3)
    a, b, c = sign_in_guest(one), sign_in_guest(one), sign_in_guest(one)
    befriend(c, b)
    gid = c.post("/api/gifts", json={"to_player_id": b.id}).json()["gift_id"]
    rid = c.post("/api/friends/requests", json={"player_id": a.id}).json()["request_id"]
    if name == "friend_accept":
        rid = a.post("/api/friends/requests", json={"player_id": b.id}).json()["request_id"]
    start_of_a_rate_window()  # the set-up writes above do not count
    who, path, body = _writes(a, b, gid, rid)[name]
    codes = [post(who, path, keyed, json=body).status_code for _ in range(5)]
    assert 429 not in codes[:3] and codes[3:] == [429, 429], codes  # three writes (accepted or refused), then the limit
    r = post(who, path, keyed, json=body)
    assert r.json()["error"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
    clock.advance(60)
    assert post(who, path, keyed, json=body).status_code != 429


@pytest.mark.parametrize("name", WRITES)
def test_every_write_replayed_with_its_key_applies_once(client, db, name):
    a, b, c = sign_in_guest(client), sign_in_guest(client), sign_in_guest(client)
    befriend(c, b)
    gid = c.post("/api/gifts", json={"to_player_id": b.id}).json()["gift_id"]
    rid = a.post("/api/friends/requests", json={"player_id": c.id}).json()["request_id"]
    if name == "friend_accept":
        rid = a.post("/api/friends/requests", json={"player_id": b.id}).json()["request_id"]
    who, path, body = _writes(a, b, gid, rid)[name]
    if name == "gift_send":
        befriend(a, b)
    if name == "energy_pack":
        db.execute("UPDATE players SET energy = 0 WHERE id = %s", (a.id,))  # room for a pack
    key = "replay-" + uuid.uuid4().hex

    def world():
        return (
            [(coins_of(db, p.id), ledger_sum(db, p.id), gifts_waiting(db, p.id)) for p in (a, b)],
            [p.state()["energy"] for p in (a, b)],
            db.execute("SELECT count(*) FROM friends WHERE player_id IN (%s, %s)", (a.id, b.id)).fetchone()[0],
            db.execute("SELECT count(*) FROM gifts WHERE sender_id = %s", (a.id,)).fetchone()[0],
        )

    first = post(who, path, True, key=key, json=body)
    assert first.status_code in (200, 201), first.text
    after_first = world()
    again = post(who, path, True, key=key, json=body)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert world() == after_first


def test_the_hot_writes_stay_within_psycopgs_cache_of_parsed_queries():
    """psycopg (3.3, pinned) parses a query's placeholders once and keeps the result only for
    queries up to 4096 characters (``MAX_CACHED_STATEMENT_LENGTH`` in psycopg/_queries.py); a
    longer one is parsed again on every execution. The keyed action once crossed that line by
    7 characters, and its parsing then cost 1.7 ms of CPU per request, three times the rest."""
    from game_service.core.db import _psycopg_sql
    from game_service.repository import economy, social, writes

    for chain in (economy.ACT, economy.ENERGY_PACK, social.GIFT_CLAIM):
        for stmt in (writes._gated(chain), writes._gated_keyed(chain)):
            assert len(_psycopg_sql(stmt)[0]) <= 4096 - 400, "within the cache, with room to grow"


def test_an_unkeyed_action_energy_pack_and_gift_claim_are_one_statement_and_keyed_ones_two(
        client, db, monkeypatch):
    """On PostgreSQL an unkeyed action, energy pack or gift claim takes the one-statement path: one
    statement on the driver (session check, rate limit, write and ledger row together) and
    nothing through SQLAlchemy's execution; a keyed one (every write of the page) is that
    statement with the key's claim in it, then the answer stored under the key, in one
    transaction. The results of both paths are the tests above; this pins which path runs."""
    from sqlalchemy import event

    from game_service.core import db as game_db
    from game_service.repository.writes import reader

    a, b = sign_in_guest(client), sign_in_guest(client)
    befriend(a, b)
    gifts = [post(a, "/api/gifts", False, json={"to_player_id": b.id}).json()["gift_id"]]
    clock.advance(24 * 3600)
    gifts.append(post(a, "/api/gifts", False, json={"to_player_id": b.id}).json()["gift_id"])
    # room for a pack after the action
    db.execute("UPDATE players SET energy = 1, energy_at = %s WHERE id = %s", (clock.now_ms(), a.id))
    driver, orm = [], []
    real = game_db._on_driver

    async def counted(pg, stmt, params, invalidate):
        driver.append(stmt)
        return await real(pg, stmt, params, invalidate)

    monkeypatch.setattr(game_db, "_on_driver", counted)
    engine = reader(client.app.state.services.engine).sync_engine
    listener = lambda *args, **kw: orm.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for player, path, gift in ((a, "/api/actions", None), (a, "/api/shop/energy", None),
                                   (b, "/api/gifts/{}/claim", gifts[0])):
            driver.clear(), orm.clear()
            assert post(player, path.format(gift), False).status_code == 200
            assert (len(driver), orm) == (1, []), (path, orm)
        for player, path, gift in ((a, "/api/actions", None), (b, "/api/gifts/{}/claim", gifts[1])):
            driver.clear(), orm.clear()
            assert post(player, path.format(gift), True).status_code == 200
            assert [str(q).split()[:2] for q in driver][1:] == [["UPDATE", "idempotency_keys"]], path
            assert len(driver) == 2 and orm == [], (path, orm)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
