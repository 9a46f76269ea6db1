"""Sign-in, state, the action, energy refill, daily reward, ledger and idempotency."""

from __future__ import annotations

import uuid

from game_service.core import clock
from tests.game_service.conftest import coins_of, ledger_sum, sign_in_guest, start_of_a_rate_window


def test_guest_sign_in_gives_a_fresh_player_and_a_working_session(client):
    p = sign_in_guest(client, "Ada")
    s = p.state()
    assert s["name"] == "Ada"
    assert (s["coins"], s["energy"], s["energy_cap"], s["level"], s["xp"]) == (50, 20, 20, 1, 0)
    assert s["daily_reward_available"] is True
    other = sign_in_guest(client)
    assert other.id != p.id and other.state()["name"] == f"Guest {other.id}"


def test_requests_without_or_with_a_forged_session_are_401_json(client):
    r = client.get("/api/me")
    assert r.status_code == 401 and r.json()["error"] == "not_authenticated"
    p = sign_in_guest(client)
    forged = p.token[:-2] + ("AA" if not p.token.endswith("AA") else "BB")
    r = client.get("/api/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and "sign in again" in r.json()["detail"]


def test_session_token_expires(make_client):
    c = make_client(session_max_age_seconds=60)
    p = sign_in_guest(c)
    assert c.get("/api/me", headers=p.h).status_code == 200
    clock.advance(61)
    r = c.get("/api/me", headers=p.h)
    assert r.status_code == 401 and r.json()["error"] == "invalid_session"


def test_action_spends_energy_and_earns_coins_and_xp_until_energy_runs_out(client, db):
    p = sign_in_guest(client)
    for _ in range(20):
        r = p.post("/api/actions")
        assert r.status_code == 200, r.text
    body = r.json()["player"]
    assert (body["coins"], body["energy"], body["xp"], body["level"]) == (50 + 20 * 5, 0, 200, 3)
    r = p.post("/api/actions")
    assert r.status_code == 409 and r.json()["error"] == "no_energy"
    assert p.state()["coins"] == 150
    assert ledger_sum(db, p.id) == coins_of(db, p.id) == 150


def test_energy_refills_lazily_over_time_up_to_the_cap(client):
    p = sign_in_guest(client)
    for _ in range(20):
        assert p.post("/api/actions").status_code == 200
    s = p.state()
    assert s["energy"] == 0 and 0 < s["next_energy_in_seconds"] <= 180
    clock.advance(180 * 3 + 5)
    assert p.state()["energy"] == 3
    assert p.post("/api/actions").status_code == 200
    assert p.state()["energy"] == 2
    clock.advance(180 * 1000)
    s = p.state()
    assert s["energy"] == 20 and s["next_energy_in_seconds"] is None


def test_energy_pack_spends_coins_and_refuses_when_the_wallet_is_short(client, db):
    p = sign_in_guest(client)  # 50 coins, energy pack costs 30
    db.execute("UPDATE players SET energy = 0 WHERE id = %s", (p.id,))
    r = p.post("/api/shop/energy")
    assert r.status_code == 200 and r.json()["player"]["coins"] == 20 and r.json()["player"]["energy"] == 10
    r = p.post("/api/shop/energy")
    assert r.status_code == 409 and r.json()["error"] == "insufficient_coins"
    assert p.state()["coins"] == 20
    assert ledger_sum(db, p.id) == 20


def test_daily_reward_once_per_utc_day(client, db):
    p = sign_in_guest(client)
    r = p.post("/api/daily-reward")
    assert r.status_code == 200 and r.json()["coins"] == 150
    assert p.state()["daily_reward_available"] is False
    r = p.post("/api/daily-reward")
    assert r.status_code == 409 and r.json()["error"] == "already_claimed"
    clock.advance(24 * 3600)
    assert p.state()["daily_reward_available"] is True
    assert p.post("/api/daily-reward").json()["coins"] == 250
    assert ledger_sum(db, p.id) == coins_of(db, p.id) == 250


def test_ledger_lists_every_change_newest_first(client):
    p = sign_in_guest(client)
    p.post("/api/actions")
    p.post("/api/daily-reward")
    items = p.get("/api/me/ledger").json()["items"]
    assert [(i["reason"], i["delta"], i["balance_after"]) for i in items] == [
        ("daily_reward", 100, 155),
        ("action", 5, 55),
        ("welcome", 50, 50),
    ]


def test_a_retried_write_with_the_same_idempotency_key_applies_once(client, db):
    p = sign_in_guest(client)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = p.post("/api/actions", headers=key)
    second = p.post("/api/actions", headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    s = p.state()
    assert (s["coins"], s["energy"]) == (55, 19)
    assert ledger_sum(db, p.id) == 55
    # a new key is a new action
    assert p.post("/api/actions", headers={"Idempotency-Key": uuid.uuid4().hex}).json()["player"]["coins"] == 60


def test_an_idempotency_key_reused_for_another_request_is_refused(client):
    p = sign_in_guest(client)
    key = {"Idempotency-Key": "k-" + uuid.uuid4().hex}
    assert p.post("/api/actions", headers=key).status_code == 200
    r = p.post("/api/daily-reward", headers=key)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_key_reused"
    assert p.state()["daily_reward_available"] is True


def test_a_failed_write_does_not_consume_its_idempotency_key(client):
    p = sign_in_guest(client)
    for _ in range(20):
        p.post("/api/actions")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert p.post("/api/actions", headers=key).status_code == 409
    clock.advance(181)
    r = p.post("/api/actions", headers=key)
    assert r.status_code == 200 and r.json()["player"]["energy"] == 0


def test_idempotency_keys_are_per_player(client):
    a, b = sign_in_guest(client), sign_in_guest(client)
    key = {"Idempotency-Key": "same-key"}
    assert a.post("/api/actions", headers=key).json()["player"]["id"] == a.id
    assert b.post("/api/actions", headers=key).json()["player"]["id"] == b.id


def test_invalid_idempotency_key_is_422(client):
    p = sign_in_guest(client)
    r = p.post("/api/actions", headers={"Idempotency-Key": "x" * 200})
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["detail"]


def test_rename_and_public_profile(client):
    a, b = sign_in_guest(client), sign_in_guest(client)
    r = client.patch("/api/me", json={"name": "Grace"}, headers=a.h)
    assert r.status_code == 200 and r.json()["name"] == "Grace"
    assert b.get(f"/api/players/{a.id}").json() == {"id": a.id, "name": "Grace", "level": 1, "xp": 0, "avatar_url": None}
    assert b.get("/api/players/999999999").status_code == 404
    r = client.patch("/api/me", json={"name": "<script>"}, headers=a.h)
    assert r.status_code == 422 and "name" in r.json()["detail"]


def test_writes_are_rate_limited_per_player_across_replicas(make_client):
    # two app instances on the same database stand for two replicas
    one, two = make_client(rate_limit_writes=4), make_client(rate_limit_writes=4)
    p = sign_in_guest(one)
    q = sign_in_guest(one)
    start_of_a_rate_window()
    codes = []
    for i in range(6):
        c = one if i % 2 == 0 else two
        codes.append(c.post("/api/actions", headers=p.h).status_code)
    assert codes == [200, 200, 200, 200, 429, 429]
    r = two.post("/api/actions", headers=p.h)
    assert r.status_code == 429 and r.json()["error"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    assert one.post("/api/actions", headers=q.h).status_code == 200  # per player
    clock.advance(60)
    assert two.post("/api/actions", headers=p.h).status_code == 200


def test_a_key_reused_after_its_day_is_a_new_request_on_the_transaction_path_too(client):
    """The daily reward runs as a transaction's steps (not one statement): its key, kept for a
    day, is a replay within the day and a new request after it, as the one-statement writes'."""
    p = sign_in_guest(client)
    key = {"Idempotency-Key": "daily"}
    first = p.post("/api/daily-reward", headers=key)
    assert first.status_code == 200 and p.post("/api/daily-reward", headers=key).json() == first.json()
    clock.advance(24 * 3600 + 60)
    later = p.post("/api/daily-reward", headers=key)
    assert later.status_code == 200 and later.json()["coins"] > first.json()["coins"]


def test_idempotency_keys_are_remembered_for_a_day(client, db):
    p = sign_in_guest(client)
    assert p.post("/api/actions", headers={"Idempotency-Key": "old-key"}).status_code == 200
    clock.advance(24 * 3600 + 60)
    assert p.post("/api/actions", headers={"Idempotency-Key": "new-key"}).status_code == 200
    keys = db.execute("SELECT key FROM idempotency_keys WHERE player_id = %s", (p.id,)).fetchall()
    assert keys == [("new-key",)]
    # an expired key is a new request again
    r = p.post("/api/actions", headers={"Idempotency-Key": "old-key"})
    assert r.status_code == 200 and r.json()["player"]["coins"] == 65
    # reused after its day with no other write in between (its row is still there): new again
    clock.advance(24 * 3600 + 60)
    again = p.post("/api/actions", headers={"Idempotency-Key": "old-key"})
    assert again.status_code == 200 and again.json()["player"]["coins"] == 65 + r.json()["coins_earned"]
    assert p.post("/api/actions", headers={"Idempotency-Key": "old-key"}).json() == again.json()  # and kept
