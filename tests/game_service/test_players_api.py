"""The features that keep players: sliding sessions, recovery codes, invite links, search by
name, the castle coins build, the daily streak and the energy shop's cap rule. Real
PostgreSQL, the app in-process (its HTTP interface through Starlette's test client)."""

from __future__ import annotations

import uuid

import pytest

from game_service.core import clock
from game_service.core.session_renewal import HEADER, RENEW_AFTER_SECONDS
from tests.game_service.conftest import Player, post, befriend, coins_of, ledger_sum, sign_in_guest


def castle_rows(db, pid: int):
    return db.execute("SELECT level FROM castles WHERE player_id = %s", (pid,)).fetchall()


# ---------------------------------------------------------------- sliding sessions
def test_a_session_used_daily_never_expires_and_an_idle_one_does(client):
    p = sign_in_guest(client, "Daily")
    r = p.get("/api/me")
    assert r.status_code == 200 and HEADER not in r.headers  # a fresh token is not renewed
    token = p.token
    for day in range(1, 15):  # two weeks, well past the 7-day lifetime of one token
        clock.advance(RENEW_AFTER_SECONDS + 60)
        r = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, (day, r.text)
        assert r.headers[HEADER] != token
        token = r.headers[HEADER]
        again = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert HEADER not in again.headers  # at most one renewal a day
    # writes renew too (the header rides on whatever the route answers)
    clock.advance(RENEW_AFTER_SECONDS + 60)
    r = client.post("/api/actions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and HEADER in r.headers
    # a token unused for longer than its lifetime is not renewed: it is refused
    clock.advance(8 * 24 * 3600)
    r = client.get("/api/me", headers={"Authorization": f"Bearer {r.headers[HEADER]}"})
    assert r.status_code == 401 and HEADER not in r.headers


# ---------------------------------------------------------------- recovery codes
def test_a_recovery_code_signs_the_guest_in_elsewhere_until_replaced(client, keyed):
    p = sign_in_guest(client, "Keeper")
    post(p, "/api/actions", keyed)
    r = post(p, "/api/me/recovery-code", keyed)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert len(code) == 23 and code.count("-") == 3
    # another device: no token, just the code (typed in lower case with spaces)
    r = client.post("/api/auth/recover", json={"code": code.lower().replace("-", " ")})
    assert r.status_code == 200, r.text
    assert r.json()["player"]["id"] == p.id and r.json()["player"]["coins"] == 55
    other = Player(client, r.json())
    assert other.state()["name"] == "Keeper"
    # a new code replaces the old one
    newer = post(p, "/api/me/recovery-code", keyed).json()["code"]
    assert newer != code
    r = client.post("/api/auth/recover", json={"code": code})
    assert r.status_code == 404 and r.json()["error"] == "unknown_recovery_code"
    assert client.post("/api/auth/recover", json={"code": newer}).json()["player"]["id"] == p.id
    assert client.post("/api/auth/recover", json={"code": ""}).status_code == 422


def test_a_recovery_code_replayed_with_its_key_is_not_shown_again(client):
    p = sign_in_guest(client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, again = p.post("/api/me/recovery-code", headers=key), p.post("/api/me/recovery-code", headers=key)
    assert first.status_code == 201 and again.status_code == 409
    assert again.json()["error"] == "recovery_code_issued" and first.json()["code"] not in again.text
    assert client.post("/api/auth/recover", json={"code": first.json()["code"]}).status_code == 200
    assert p.get("/api/progress").json()["recovery_code"] is True
    assert sign_in_guest(client).get("/api/progress").json()["recovery_code"] is False
    assert client.post("/api/me/recovery-code").status_code == 401


# ---------------------------------------------------------------- invites and search
def test_an_invite_link_makes_the_invitee_a_friend(client, keyed):
    ann, bob = sign_in_guest(client, "Ann"), sign_in_guest(client, "Bob")
    r = post(ann, "/api/invites", keyed)
    assert r.status_code == 200, r.text
    code = r.json()["code"]
    assert r.json()["path"] == f"/?invite={code}"
    assert post(ann, "/api/invites", keyed).json()["code"] == code  # one code per player
    # the invitee sees who invited them before signing in
    r = client.get(f"/api/invites/{code}")
    assert r.status_code == 200 and r.json()["player"]["name"] == "Ann"
    r = post(bob, f"/api/invites/{code}/accept", keyed)
    assert r.status_code == 200 and r.json()["status"] == "friends" and r.json()["player"]["id"] == ann.id
    assert [f["name"] for f in ann.get("/api/friends").json()["friends"]] == ["Bob"]
    assert [f["name"] for f in bob.get("/api/friends").json()["friends"]] == ["Ann"]
    r = post(bob, f"/api/invites/{code}/accept", keyed)
    assert r.status_code == 200 and r.json()["status"] == "already_friends"
    r = post(ann, f"/api/invites/{code}/accept", keyed)
    assert r.status_code == 409 and r.json()["error"] == "own_invite"
    assert post(bob, "/api/invites/nosuchcode123/accept", keyed).status_code == 404
    assert client.get("/api/invites/nosuchcode123").status_code == 404
    assert client.get("/api/invites/bad%20code!").status_code == 422


def test_an_invite_accept_replayed_with_its_key_answers_the_same(client):
    ann, bob = sign_in_guest(client), sign_in_guest(client)
    code = ann.post("/api/invites").json()["code"]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = bob.post(f"/api/invites/{code}/accept", headers=key)
    again = bob.post(f"/api/invites/{code}/accept", headers=key)
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert again.json()["status"] == "friends"  # the stored answer, not "already_friends"


def test_search_finds_players_by_part_of_their_name(client):
    tag = uuid.uuid4().hex[:6]
    me = sign_in_guest(client, f"Zed {tag}")
    starts = sign_in_guest(client, f"{tag}ster")
    inside = sign_in_guest(client, f"The {tag.upper()} one")
    sign_in_guest(client, "Nobody Else")
    befriend(me, inside)
    r = me.get("/api/players", params={"q": tag})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [starts.id, inside.id]  # not me; name starting with it first
    assert [i["is_friend"] for i in items] == [False, True]
    assert me.get("/api/players", params={"q": "%"}).status_code == 422  # too short
    assert me.get("/api/players", params={"q": "%%"}).json()["items"] == []  # % is a letter here
    assert client.get("/api/players", params={"q": tag}).status_code == 401


# ---------------------------------------------------------------- the castle
def test_the_castle_costs_more_each_level_and_pays_from_the_wallet(client, db, keyed):
    p = sign_in_guest(client)
    assert p.get("/api/progress").json()["castle"] == {"level": 0, "max_level": 10, "next_price": 50}
    r = post(p, "/api/castle/upgrade", keyed)
    assert r.status_code == 200, r.text
    assert r.json() == {"coins_spent": 50, "coins": 0, "castle": {"level": 1, "max_level": 10, "next_price": 100}}
    r = post(p, "/api/castle/upgrade", keyed)
    assert r.status_code == 409 and r.json()["error"] == "insufficient_coins"
    assert castle_rows(db, p.id) == [(1,)]
    db.execute("UPDATE players SET coins = coins + 10000 WHERE id = %s", (p.id,))
    db.execute("INSERT INTO ledger (player_id, delta, balance_after, reason, op_key)"
               " VALUES (%s, 10000, 10000, 'test', 'seed')", (p.id,))
    for level in range(2, 11):
        r = post(p, "/api/castle/upgrade", keyed)
        assert r.status_code == 200 and r.json()["coins_spent"] == level * 50
    r = post(p, "/api/castle/upgrade", keyed)
    assert r.status_code == 409 and r.json()["error"] == "castle_complete"
    assert p.get("/api/progress").json()["castle"] == {"level": 10, "max_level": 10, "next_price": None}
    assert coins_of(db, p.id) == ledger_sum(db, p.id) == 10000 - sum(n * 50 for n in range(2, 11))


def test_a_castle_upgrade_replayed_with_its_key_pays_once(client, db):
    p = sign_in_guest(client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first, again = p.post("/api/castle/upgrade", headers=key), p.post("/api/castle/upgrade", headers=key)
    assert (first.status_code, first.json()) == (again.status_code, again.json()) and first.status_code == 200
    assert castle_rows(db, p.id) == [(1,)] and coins_of(db, p.id) == ledger_sum(db, p.id) == 0


# ---------------------------------------------------------------- the daily streak
def test_the_daily_streak_counts_consecutive_days_and_says_when_the_next_reward_comes(client):
    p = sign_in_guest(client)
    d = p.get("/api/progress").json()["daily"]
    assert d == {"available": True, "coins": 100, "streak": 0, "next_at": None, "next_in_seconds": 0}
    for day in range(1, 4):
        assert p.post("/api/daily-reward").status_code == 200
        d = p.get("/api/progress").json()["daily"]
        assert d["available"] is False and d["streak"] == day
        assert d["next_at"] == f"{clock.today().fromordinal(clock.today().toordinal() + 1)}T00:00:00+00:00"
        assert 0 < d["next_in_seconds"] <= 24 * 3600
        clock.advance(24 * 3600)
    assert p.get("/api/progress").json()["daily"]["streak"] == 3  # yesterday's still counts until claimed
    clock.advance(24 * 3600)  # a day missed
    assert p.get("/api/progress").json()["daily"]["streak"] == 0
    p.post("/api/daily-reward")
    assert p.get("/api/progress").json()["daily"]["streak"] == 1


# ---------------------------------------------------------------- energy packs and the cap
def test_an_energy_pack_is_sold_only_when_it_fits_under_the_cap(client, db, keyed):
    p = sign_in_guest(client)  # 20/20 energy, 50 coins; a pack is 10 energy for 30 coins
    r = post(p, "/api/shop/energy", keyed)
    assert r.status_code == 409 and r.json()["error"] == "energy_full"
    assert r.json()["detail"] == "no room for 10 more energy: packs never fill the bar past 20"
    assert p.get("/api/progress").json()["energy_pack"] == {"price": 30, "amount": 10, "fits": False,
                                                            "affordable": True}
    for _ in range(9):
        post(p, "/api/actions", keyed)  # 11 energy: still no room
    assert post(p, "/api/shop/energy", keyed).json()["error"] == "energy_full"
    post(p, "/api/actions", keyed)  # 10 energy: room for exactly one pack
    assert p.get("/api/progress").json()["energy_pack"]["fits"] is True
    r = post(p, "/api/shop/energy", keyed)
    assert r.status_code == 200 and r.json()["player"]["energy"] == 20
    s = p.state()
    assert (s["energy"], s["coins"]) == (20, 50 + 50 - 30) == (20, coins_of(db, p.id))
    assert ledger_sum(db, p.id) == 70
