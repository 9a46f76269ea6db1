"""Sign in with Facebook, linking a guest, friend import, and the data-deletion callback.

Facebook's Graph API is a local fake HTTP server (conftest.FakeGraph)."""

from __future__ import annotations

import time

from game_service.core import clock
from tests.game_service.conftest import FB_APP_SECRET, Player, make_signed_request, sign_in_guest


def signed(user_id: str, **over) -> str:
    payload = {"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": user_id, **over}
    return make_signed_request(payload, FB_APP_SECRET)


def fb_sign_in(client, **body) -> Player:
    r = client.post("/api/auth/facebook", json=body)
    assert r.status_code == 200, r.text
    return Player(client, r.json())


def test_sign_in_with_a_signed_request_creates_then_finds_the_player(client):
    p = fb_sign_in(client, signed_request=signed("fb-100"))
    assert p.state()["facebook_linked"] is True
    p.post("/api/actions")
    again = fb_sign_in(client, signed_request=signed("fb-100"))
    assert again.id == p.id and again.state()["coins"] == 55


def test_signed_requests_with_bad_signature_algorithm_or_age_are_refused(client):
    good = signed("fb-101")
    sig, payload = good.split(".")
    cases = {
        "bad signature": ("A" + sig[1:] if sig[0] != "A" else "B" + sig[1:]) + "." + payload,
        "other secret": make_signed_request(
            {"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": "fb-101"}, "not-our-secret"
        ),
        "algorithm": make_signed_request(
            {"algorithm": "HMAC-SHA1", "issued_at": int(time.time()), "user_id": "fb-101"}, FB_APP_SECRET
        ),
        "stale": make_signed_request(
            {"algorithm": "HMAC-SHA256", "issued_at": int(time.time()) - 3600, "user_id": "fb-101"}, FB_APP_SECRET
        ),
        "garbage": "not-a-signed-request",
    }
    for name, sr in cases.items():
        r = client.post("/api/auth/facebook", json={"signed_request": sr})
        assert r.status_code == 401, name
        assert r.json()["error"] == "invalid_signed_request", name


def test_a_signed_request_goes_stale_on_the_game_clock(client):
    sr = signed("fb-102")
    clock.advance(601)  # the default maximum age is 600 s
    r = client.post("/api/auth/facebook", json={"signed_request": sr})
    assert r.status_code == 401 and "stale" in r.json()["detail"]
    assert client.post("/api/auth/facebook", json={"signed_request": signed("fb-102", issued_at=clock.now_ms() // 1000)}).status_code == 200


def test_sign_in_with_an_access_token_checks_it_with_debug_token(client, fake_graph):
    p = fb_sign_in(client, access_token=fake_graph.user_token("fb-200"))
    assert fb_sign_in(client, access_token=fake_graph.user_token("fb-200")).id == p.id
    r = client.post("/api/auth/facebook", json={"access_token": fake_graph.user_token("fb-200", app_id="999")})
    assert r.status_code == 401 and "another app" in r.json()["detail"]
    r = client.post("/api/auth/facebook", json={"access_token": "unknown-token"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_access_token"
    r = client.post("/api/auth/facebook", json={})
    assert r.status_code == 422


def test_unreachable_graph_api_is_a_502(make_client):
    c = make_client(facebook_graph_url="http://127.0.0.1:9")
    r = c.post("/api/auth/facebook", json={"access_token": "x"})
    assert r.status_code == 502 and r.json()["error"] == "facebook_unreachable"


def test_facebook_not_configured_is_a_clear_503(make_client):
    c = make_client(facebook_app_id=None, facebook_app_secret=None)
    r = c.post("/api/auth/facebook", json={"signed_request": signed("fb-1")})
    assert r.status_code == 503 and "not configured" in r.json()["detail"]


def test_a_guest_links_facebook_without_losing_progress(client, fake_graph):
    g = sign_in_guest(client)
    for _ in range(3):
        g.post("/api/actions")
    r = g.post("/api/me/facebook", json={"access_token": fake_graph.user_token("fb-300")})
    assert r.status_code == 200 and r.json()["facebook_linked"] is True
    # later, on another device, Facebook sign-in finds the same player and progress
    p = fb_sign_in(client, signed_request=signed("fb-300"))
    assert p.id == g.id and p.state()["coins"] == 65
    # that Facebook account cannot be linked to somebody else
    other = sign_in_guest(client)
    r = other.post("/api/me/facebook", json={"signed_request": signed("fb-300")})
    assert r.status_code == 409 and r.json()["error"] == "facebook_in_use"


def test_facebook_sign_in_while_signed_in_as_guest_links_the_guest(client):
    g = sign_in_guest(client)
    g.post("/api/actions")
    r = client.post("/api/auth/facebook", json={"signed_request": signed("fb-301")}, headers=g.h)
    assert r.status_code == 200 and r.json()["player"]["id"] == g.id and r.json()["player"]["coins"] == 55


def test_import_facebook_friends_who_play(client, fake_graph):
    me = fb_sign_in(client, signed_request=signed("fb-400"))
    f1 = fb_sign_in(client, signed_request=signed("fb-401"))
    f2 = fb_sign_in(client, signed_request=signed("fb-402"))
    fake_graph.friends["fb-400"] = ["fb-401", "fb-402", "fb-499-not-playing"]
    token = fake_graph.user_token("fb-400")
    r = me.post("/api/friends/facebook-import", json={"access_token": token})
    assert r.status_code == 200 and sorted(r.json()["added"]) == sorted([f1.id, f2.id])
    assert {f["id"] for f in me.get("/api/friends").json()["friends"]} == {f1.id, f2.id}
    assert [f["id"] for f in f1.get("/api/friends").json()["friends"]] == [me.id]
    assert me.post("/api/friends/facebook-import", json={"access_token": token}).json()["added"] == []
    # someone else's token is refused
    r = f1.post("/api/friends/facebook-import", json={"access_token": token})
    assert r.status_code == 403


def test_data_deletion_callback_deletes_the_player_and_reports_status(client, db, tmp_path):
    p = fb_sign_in(client, signed_request=signed("fb-500"))
    friend = sign_in_guest(client)
    from tests.game_service.conftest import befriend

    befriend(p, friend)
    p.post("/api/actions")
    # an avatar on disk
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    assert client.post(up["url"], data=up["fields"], files={"file": ("a.png", png, "image/png")}).status_code == 204
    avatar = p.post("/api/me/avatar", json={"key": up["key"]}).json()["avatar_url"]
    assert client.get(avatar).status_code == 200

    r = client.post("/api/facebook/data-deletion", data={"signed_request": signed("fb-500")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"].startswith("https://game.example.test/api/facebook/deletion-status?code=")
    code = body["confirmation_code"]
    assert code in body["url"]
    # the player, the ledger, friendships and the avatar are gone; the old session is refused
    r = p.get("/api/me")
    assert r.status_code == 401 and "no longer exists" in r.json()["detail"]
    for path in ("/api/actions", "/api/daily-reward", "/api/shop/energy"):
        r = p.post(path)
        assert r.status_code == 401 and r.json()["error"] == "invalid_session", (path, r.text)
    assert p.post("/api/actions", headers={"Idempotency-Key": "after-deletion"}).status_code == 401
    assert db.execute("SELECT count(*) FROM ledger WHERE player_id = %s", (p.id,)).fetchone()[0] == 0
    assert friend.get("/api/friends").json()["friends"] == []
    assert client.get(avatar).status_code == 404
    status_path = body["url"].removeprefix("https://game.example.test")
    s = client.get(status_path)
    assert s.status_code == 200 and s.json()["status"] == "completed" and s.json()["confirmation_code"] == code
    assert client.get("/api/facebook/deletion-status?code=0123abcd").status_code == 404
    assert client.get("/api/facebook/deletion-status?code=nope").status_code == 422
    # a forged callback is refused
    r = client.post("/api/facebook/data-deletion", data={"signed_request": "x.y"})
    assert r.status_code == 401
    assert client.post("/api/facebook/data-deletion", data={}).status_code == 400


def test_deletion_status_url_comes_from_the_parameter_the_stack_writes(make_client, aws):
    """Without a custom domain the hosts learn the CloudFront URL from an SSM parameter
    (SSM emulated by moto): the status URL points at the public site, never at the host
    the request reached."""
    aws.client("ssm").put_parameter(Name="/game/test/public-base-url", Value="https://d111.cloudfront.net", Type="String")
    client = make_client(env="production", public_base_url="", public_base_url_parameter="/game/test/public-base-url")
    fb_sign_in(client, signed_request=signed("fb-900"))
    r = client.post("/api/facebook/data-deletion", data={"signed_request": signed("fb-900")},
                    headers={"Host": "evil.example"})
    assert r.status_code == 200, r.text
    assert r.json()["url"].startswith("https://d111.cloudfront.net/api/facebook/deletion-status?code=")


def test_production_without_a_public_url_is_a_clear_503_not_the_request_host(make_client):
    client = make_client(env="production", public_base_url="")
    player = fb_sign_in(client, signed_request=signed("fb-901"))
    r = client.post("/api/facebook/data-deletion", data={"signed_request": signed("fb-901")},
                    headers={"Host": "evil.example"})
    assert r.status_code == 503 and r.json()["error"] == "public_url_unavailable"
    assert "evil.example" not in r.text
    assert player.get("/api/me").status_code == 200, "nothing was deleted by a request that could not be answered"
