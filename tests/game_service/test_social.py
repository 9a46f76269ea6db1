"""Friends, gifts and leaderboards through the HTTP API."""

from __future__ import annotations

from game_service.core import clock
from tests.game_service.conftest import befriend, coins_of, ledger_sum, sign_in_guest


def test_friend_request_accept_list_and_remove(client):
    a, b = sign_in_guest(client, "Ann"), sign_in_guest(client, "Bob")
    r = a.post("/api/friends/requests", json={"player_id": b.id})
    assert r.status_code == 201 and r.json()["status"] == "requested"
    rid = r.json()["request_id"]
    assert [x["player"]["id"] for x in b.get("/api/friends").json()["incoming_requests"]] == [a.id]
    assert [x["player"]["id"] for x in a.get("/api/friends").json()["outgoing_requests"]] == [b.id]
    # only the addressee can accept
    assert a.post(f"/api/friends/requests/{rid}/accept").status_code == 404
    assert b.post(f"/api/friends/requests/{rid}/accept").status_code == 200
    assert [f["name"] for f in a.get("/api/friends").json()["friends"]] == ["Bob"]
    assert [f["name"] for f in b.get("/api/friends").json()["friends"]] == ["Ann"]
    assert b.get("/api/friends").json()["incoming_requests"] == []
    r = a.post("/api/friends/requests", json={"player_id": b.id})
    assert r.status_code == 409 and r.json()["error"] == "already_friends"
    assert a.delete(f"/api/friends/{b.id}").status_code == 204
    assert b.get("/api/friends").json()["friends"] == []
    assert a.delete(f"/api/friends/{b.id}").status_code == 404


def test_mutual_requests_make_friends_and_bad_requests_are_refused(client):
    a, b, c = sign_in_guest(client), sign_in_guest(client), sign_in_guest(client)
    assert a.post("/api/friends/requests", json={"player_id": b.id}).status_code == 201
    r = a.post("/api/friends/requests", json={"player_id": b.id})
    assert r.status_code == 409 and r.json()["error"] == "already_requested"
    r = b.post("/api/friends/requests", json={"player_id": a.id})
    assert r.status_code == 200 and r.json()["status"] == "friends"
    r = a.post("/api/friends/requests", json={"player_id": a.id})
    assert r.status_code == 409 and "yourself" in r.json()["detail"]
    assert a.post("/api/friends/requests", json={"player_id": 987654321}).status_code == 404
    r = a.post("/api/friends/requests", json={"player_id": "abc"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    # decline / cancel
    rid = c.post("/api/friends/requests", json={"player_id": a.id}).json()["request_id"]
    assert b.delete(f"/api/friends/requests/{rid}").status_code == 404  # not b's request
    assert a.delete(f"/api/friends/requests/{rid}").status_code == 204
    assert a.get("/api/friends").json()["incoming_requests"] == []


def test_gift_to_a_friend_is_claimed_exactly_once(client, db):
    a, b, stranger = sign_in_guest(client, "Ann"), sign_in_guest(client, "Bob"), sign_in_guest(client)
    r = a.post("/api/gifts", json={"to_player_id": b.id})
    assert r.status_code == 404  # not friends yet
    befriend(a, b)
    r = a.post("/api/gifts", json={"to_player_id": b.id})
    assert r.status_code == 201
    gid = r.json()["gift_id"]
    assert a.get("/api/friends").json()["friends"][0]["gift_sent_today"] is True
    r = a.post("/api/gifts", json={"to_player_id": b.id})
    assert r.status_code == 409 and r.json()["error"] == "already_gifted"
    inbox = b.get("/api/gifts").json()["items"]
    assert [(g["id"], g["from"]["name"], g["claimed"]) for g in inbox] == [(gid, "Ann", False)]
    assert b.state()["gifts_waiting"] == 1
    # not yours: 404, never someone else's gift
    assert stranger.post(f"/api/gifts/{gid}/claim").status_code == 404
    assert a.post(f"/api/gifts/{gid}/claim").status_code == 404
    r = b.post(f"/api/gifts/{gid}/claim")
    assert r.status_code == 200 and r.json()["coins"] == 60
    r = b.post(f"/api/gifts/{gid}/claim")
    assert r.status_code == 409 and r.json()["error"] == "already_claimed"
    assert b.state()["coins"] == 60 and b.state()["gifts_waiting"] == 0
    assert ledger_sum(db, b.id) == coins_of(db, b.id) == 60
    assert b.get("/api/gifts").json()["items"][0]["claimed"] is True
    assert a.state()["coins"] == 50  # sending is free
    # a new UTC day allows another gift to the same friend
    clock.advance(24 * 3600)
    assert a.post("/api/gifts", json={"to_player_id": b.id}).status_code == 201


def test_gifts_per_day_are_limited(make_client):
    c = make_client(gifts_per_day=2)
    a = sign_in_guest(c)
    friends = [sign_in_guest(c) for _ in range(3)]
    for f in friends:
        befriend(a, f)
    assert a.post("/api/gifts", json={"to_player_id": friends[0].id}).status_code == 201
    assert a.post("/api/gifts", json={"to_player_id": friends[1].id}).status_code == 201
    r = a.post("/api/gifts", json={"to_player_id": friends[2].id})
    assert r.status_code == 429 and r.json()["error"] == "gift_limit"


def test_friends_leaderboard_ranks_me_and_my_friends_by_xp(client):
    a, b, c, outsider = (sign_in_guest(client, n) for n in ("Ann", "Bob", "Cid", "Out"))
    befriend(a, b)
    befriend(a, c)
    for p, n in ((a, 2), (b, 5), (c, 1), (outsider, 9)):
        for _ in range(n):
            assert p.post("/api/actions").status_code == 200
    board = a.get("/api/leaderboard", params={"scope": "friends"}).json()
    assert [(i["rank"], i["name"], i["xp"]) for i in board["items"]] == [(1, "Bob", 50), (2, "Ann", 20), (3, "Cid", 10)]
    assert board["next_offset"] is None
    page = a.get("/api/leaderboard", params={"scope": "friends", "limit": 2, "offset": 1}).json()
    assert [(i["rank"], i["name"]) for i in page["items"]] == [(2, "Ann"), (3, "Cid")]
    # b's friends board does not include c (friends are not transitive)
    assert [i["name"] for i in b.get("/api/leaderboard", params={"scope": "friends"}).json()["items"]] == ["Bob", "Ann"]


def test_global_leaderboard_pages_cover_everyone_in_order(client, db):
    players = [sign_in_guest(client) for _ in range(5)]
    for i, p in enumerate(players):
        for _ in range(i + 1):
            p.post("/api/actions")
    total = db.execute("SELECT count(*) FROM players").fetchone()[0]
    seen, offset = [], 0
    while offset is not None:
        page = players[0].get("/api/leaderboard", params={"limit": 3, "offset": offset}).json()
        seen += page["items"]
        offset = page["next_offset"]
    assert len(seen) == total
    assert [i["rank"] for i in seen] == list(range(1, total + 1))
    keys = [(-i["xp"], i["id"]) for i in seen]
    assert keys == sorted(keys)
    ours = [i["id"] for i in seen if i["id"] in {p.id for p in players}]
    assert ours == [p.id for p in reversed(players)]


def test_leaderboard_rejects_bad_paging(client):
    p = sign_in_guest(client)
    r = p.get("/api/leaderboard", params={"limit": 1000})
    assert r.status_code == 422 and "limit" in r.json()["detail"]
    assert p.get("/api/leaderboard", params={"scope": "enemies"}).status_code == 422
