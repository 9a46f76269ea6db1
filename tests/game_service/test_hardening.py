"""The API under attack and faults (issue 12): each test reproduces over HTTP what an attacker
or a fault did to the previous code, and asserts what the player or operator would see.

In-process tests use the ASGI test client on real PostgreSQL; the ones about concurrency or
the wire (chunked bodies, client addresses) run the real server (gunicorn, 2 workers). S3 is
emulated by moto (the SigV4 form is checked field by field, and its signature recomputed,
since moto accepts any signature)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
import unicodedata
from collections import Counter

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer

from game_service.core import clock
from tests.game_service.conftest import (
    FB_APP_SECRET,
    SESSION_SECRET,
    LiveServer,
    Player,
    befriend,
    make_signed_request,
    sign_in_guest,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def signed(user_id: str, **over) -> str:
    payload = {"algorithm": "HMAC-SHA256", "issued_at": int(clock.now_ms() // 1000), "user_id": user_id, **over}
    return make_signed_request(payload, FB_APP_SECRET)


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# ---------------------------------------------------------------- Facebook signed requests
def test_a_deeply_nested_signed_request_is_a_401_on_every_facebook_endpoint(client):
    """3,000 nested brackets used to raise RecursionError before the signature was checked: a 500
    any anonymous caller could trigger."""
    nested = b64url(b"[" * 3000 + b"]" * 3000)
    forged = b64url(b"x" * 32) + "." + nested
    # even a correctly signed one (a leaked secret, a bug at Facebook) is decoded within bounds
    genuine = b64url(hmac.new(FB_APP_SECRET.encode(), nested.encode(), hashlib.sha256).digest()) + "." + nested
    guest = sign_in_guest(client)
    for sr in (forged, genuine):
        answers = [
            client.post("/api/auth/facebook", json={"signed_request": sr}),
            guest.post("/api/me/facebook", json={"signed_request": sr}),
            client.post("/api/facebook/data-deletion", data={"signed_request": sr}),
        ]
        for r in answers:
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "invalid_signed_request"
    r = client.post("/api/auth/facebook", json={"signed_request": forged})
    assert "bad signature" in r.json()["detail"]


# ---------------------------------------------------------------- tokens of deleted players, revocation
def test_a_deleted_players_token_is_401_everywhere_and_a_late_upload_is_not_published(client, make_settings):
    p = Player(client, client.post("/api/auth/facebook", json={"signed_request": signed("fb-del-1")}).json())
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    assert client.post("/api/facebook/data-deletion", data={"signed_request": signed("fb-del-1")}).status_code == 200
    # the upload form was handed out before the deletion; the file arrives after it
    assert client.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")}).status_code == 204
    for method, path, body in (
        ("GET", "/api/me/ledger", None), ("GET", "/api/friends", None), ("GET", "/api/gifts", None),
        ("POST", "/api/me/avatar/upload-url", {"content_type": "image/png"}),
        ("POST", "/api/me/avatar", {"key": up["key"]}), ("GET", "/api/me", None), ("POST", "/api/actions", None),
    ):
        r = client.request(method, path, json=body, headers=p.h)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"] == "invalid_session" and r.headers["WWW-Authenticate"] == "Bearer"
    media = make_settings().media_dir
    from pathlib import Path

    assert not (Path(media) / "media" / "avatars" / str(p.id)).exists(), "nothing was published for a deleted player"


def test_signing_out_revokes_every_token_issued_before(client):
    p = sign_in_guest(client)
    assert p.post("/api/auth/sign-out").status_code == 204
    r = p.get("/api/me")
    assert r.status_code == 401 and "signed out" in r.json()["detail"]
    assert p.post("/api/auth/sign-out").status_code == 401


def _write_routes(app) -> list[tuple[str, str]]:
    """Every route that writes through the shared write context (``api.deps.Writer``)."""
    from fastapi.routing import APIRoute

    from game_service.api.deps import write_context

    def uses_writer(dependant) -> bool:
        return any(d.call is write_context or uses_writer(d) for d in dependant.dependencies)

    def routes(router_routes):  # the routers' own routes (included routers are not flattened)
        for r in router_routes:
            if hasattr(r, "original_router"):
                yield from routes(r.original_router.routes)
            elif isinstance(r, APIRoute):
                yield r

    return [(m, r.path) for r in routes(app.routes) if uses_writer(r.dependant) for m in r.methods]


def test_a_signed_out_or_deleted_players_token_writes_and_counts_nothing_on_every_write_route(client, db, keyed):
    """The session is checked by the write's own statement (on the one-statement path) or its
    transaction: a refused session is a 401 that moves nothing, not even the write budget,
    with or without an Idempotency-Key; and no renewed token rides on the 401."""
    routes = _write_routes(client.app)
    assert len(routes) >= 10, routes
    friend, gone = sign_in_guest(client), sign_in_guest(client)
    signed_out = sign_in_guest(client)
    befriend(friend, signed_out)
    assert friend.post("/api/gifts", json={"to_player_id": signed_out.id}).status_code == 201
    gift_id = db.execute("SELECT id FROM gifts WHERE recipient_id = %s", (signed_out.id,)).fetchone()[0]
    assert signed_out.post("/api/auth/sign-out").status_code == 204
    db.execute("DELETE FROM players WHERE id = %s", (gone.id,))
    clock.advance(25 * 3600)  # old enough that a valid session would be renewed

    def snapshot() -> tuple:
        from game_service.models import metadata

        return tuple(db.execute(f"SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {t.name} t")
                     .fetchone() for t in metadata.sorted_tables)

    before = snapshot()
    for player, why in ((signed_out, "signed out"), (gone, "no longer exists")):
        for method, path in routes:
            url = path.replace("{gift_id}", str(gift_id)).replace("{request_id}", "1").replace(
                "{code}", "abcdefghjk")
            body = {"to_player_id": friend.id} if "gift" in path else {"player_id": friend.id}
            headers = {**player.h, **({"Idempotency-Key": f"k-{path}"} if keyed else {})}
            r = client.request(method, url, json=body, headers=headers)
            assert r.status_code == 401, (path, r.text)
            assert r.json()["error"] == "invalid_session" and why in r.json()["detail"], (path, r.text)
            assert r.headers["WWW-Authenticate"] == "Bearer" and "X-Session-Token" not in r.headers, (path, r.headers)
    assert snapshot() == before, "a refused session changed nothing"


def test_linking_facebook_revokes_the_guest_token_and_answers_a_new_one(client):
    g = sign_in_guest(client)
    g.post("/api/actions")
    r = g.post("/api/me/facebook", json={"signed_request": signed("fb-link-1")})
    assert r.status_code == 200 and r.json()["facebook_linked"] is True
    new = {"Authorization": f"Bearer {r.json()['token']}"}
    assert g.get("/api/me").status_code == 401, "the guest token no longer works on the linked account"
    assert client.get("/api/me", headers=new).json()["coins"] == 55
    # the same through Facebook sign-in while signed in as a guest
    h = sign_in_guest(client)
    r = client.post("/api/auth/facebook", json={"signed_request": signed("fb-link-2")}, headers=h.h)
    assert r.status_code == 200 and r.json()["player"]["id"] == h.id
    assert h.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).status_code == 200


def test_tokens_issued_before_generations_existed_keep_working(client):
    """A deploy must not sign everyone out: a token without a generation is generation 0."""
    p = sign_in_guest(client)
    old = URLSafeTimedSerializer(SESSION_SECRET, salt="game-session").dumps({"pid": p.id})
    assert client.get("/api/me", headers={"Authorization": f"Bearer {old}"}).status_code == 200


# ---------------------------------------------------------------- deletion callback replay
def test_a_stale_deletion_callback_is_refused_and_a_repeated_one_deletes_once(client, db):
    year_old = signed("fb-replay-1", issued_at=int(clock.now_ms() // 1000) - 365 * 86400)
    p = Player(client, client.post("/api/auth/facebook", json={"signed_request": signed("fb-replay-1")}).json())
    r = client.post("/api/facebook/data-deletion", data={"signed_request": year_old})
    assert r.status_code == 401 and "stale" in r.json()["detail"]
    assert p.get("/api/me").status_code == 200, "a year-old callback deletes nothing"

    fresh = signed("fb-replay-1")
    first = client.post("/api/facebook/data-deletion", data={"signed_request": fresh})
    assert first.status_code == 200
    # the player comes back; the same callback arrives again (a retry, or a replay)
    back = Player(client, client.post("/api/auth/facebook", json={"signed_request": signed("fb-replay-1")}).json())
    again = client.post("/api/facebook/data-deletion", data={"signed_request": fresh})
    assert again.status_code == 200 and again.json() == first.json()
    assert back.get("/api/me").status_code == 200, "the replay did not delete the returning player"
    rows = db.execute("SELECT count(*) FROM deletion_requests WHERE request_sha256 = %s",
                      (hashlib.sha256(fresh.encode()).hexdigest(),)).fetchone()[0]
    assert rows == 1


# ---------------------------------------------------------------- guest sign-ups per address
@pytest.fixture(scope="module")
def limited_server(pg_url, tmp_path_factory):
    server = LiveServer({
        "GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": SESSION_SECRET,
        "GAME_MEDIA_DIR": str(tmp_path_factory.mktemp("limited") / "media"),
        "GAME_SIGNUP_LIMIT_PER_ADDRESS": "10", "GAME_TRUSTED_PROXIES": "127.0.0.1/32",
        "GAME_RATE_LIMIT_WRITES": "120", "GAME_RATE_LIMIT_WINDOW_SECONDS": "3600",
        "GAME_DB_POOL_TIMEOUT_SECONDS": "30",
    })
    yield server
    server.stop()


def burst(url: str, n: int, method: str, path: str, headers_for, **kw) -> list[httpx.Response]:
    async def run():
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as c:
            return await asyncio.gather(*(c.request(method, path, headers=headers_for(i), **kw) for i in range(n)))

    return asyncio.run(run())


@pytest.mark.slow
def test_guest_sign_ups_are_limited_per_viewer_address_across_workers(limited_server):
    viewer = {"CloudFront-Viewer-Address": "198.51.100.7:40123"}
    rs = burst(limited_server.url, 40, "POST", "/api/auth/guest", lambda i: viewer)
    codes = Counter(r.status_code for r in rs)
    assert codes == {201: 10, 429: 30}, codes
    refused = next(r for r in rs if r.status_code == 429)
    assert refused.json()["error"] == "signup_limited" and 1 <= int(refused.headers["Retry-After"]) <= 3600
    # another viewer behind the same edge is not affected
    assert httpx.post(limited_server.url + "/api/auth/guest",
                      headers={"CloudFront-Viewer-Address": "198.51.100.8:5555"}).status_code == 201
    # an IPv6 viewer counts by its /64
    six = [httpx.post(limited_server.url + "/api/auth/guest",
                      headers={"CloudFront-Viewer-Address": f"2001:db8:0:7::{i:x}:443"}).status_code for i in range(11)]
    assert six == [201] * 10 + [429]


def test_the_viewer_header_is_believed_only_from_a_trusted_proxy(make_settings):
    from game_service.main import create_app
    from starlette.testclient import TestClient

    app = create_app(make_settings(signup_limit_per_address=3, trusted_proxies="10.0.0.0/16"))
    peer = f"192.0.2.{int(time.time() * 1000) % 200 + 1}"  # not a trusted proxy, unused by other runs this hour
    with TestClient(app, client=(peer, 40000)) as c:
        codes = [c.post("/api/auth/guest", headers={"CloudFront-Viewer-Address": f"203.0.113.{i}:1"}).status_code
                 for i in range(5)]
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429], "a forged header does not buy new sign-ups"


# ---------------------------------------------------------------- the write budget
@pytest.mark.slow
def test_refused_writes_count_against_the_budget_exactly(limited_server):
    # a fresh hour-long window (this test must not straddle two windows)
    if time.time() % 3600 > 3540:
        time.sleep(3600 - time.time() % 3600 + 1)
    r = httpx.post(limited_server.url + "/api/auth/guest", headers={"CloudFront-Viewer-Address": "192.0.2.99:1"})
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert httpx.post(limited_server.url + "/api/daily-reward", headers=h).status_code == 200  # 1 of 120
    rs = burst(limited_server.url, 400, "POST", "/api/daily-reward", lambda i: h)
    codes = Counter(r.status_code for r in rs)
    assert codes == {409: 119, 429: 281}, codes


# ---------------------------------------------------------------- crossing friend requests
@pytest.mark.slow
def test_friend_requests_crossing_each_other_end_as_friends(live_server, db):
    def guest():
        r = httpx.post(live_server.url + "/api/auth/guest")
        return r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}

    pairs = [(guest(), guest()) for _ in range(30)]

    async def run():
        async with httpx.AsyncClient(base_url=live_server.url, timeout=120) as c:
            calls = []
            for (a, ha), (b, hb) in pairs:
                calls.append(c.post("/api/friends/requests", json={"player_id": b}, headers=ha))
                calls.append(c.post("/api/friends/requests", json={"player_id": a}, headers=hb))
            return await asyncio.gather(*calls)

    rs = asyncio.run(run())
    assert {r.status_code for r in rs} <= {200, 201}, [r.text for r in rs if r.status_code not in (200, 201)][:3]
    for (a, _), (b, _) in pairs:
        assert db.execute("SELECT count(*) FROM friends WHERE (player_id, friend_id) IN ((%s, %s), (%s, %s))",
                          (a, b, b, a)).fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM friend_requests WHERE (from_id, to_id) IN ((%s, %s), (%s, %s))",
                          (a, b, b, a)).fetchone()[0] == 0


@pytest.mark.slow
def test_accepting_crossing_requests_at_once_never_deadlocks(live_server, db):
    pairs = []
    for _ in range(30):
        (a, ha), (b, hb) = (
            (r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"})
            for r in (httpx.post(live_server.url + "/api/auth/guest") for _ in range(2))
        )
        # requests both ways, as the previous release could leave them
        ab = db.execute("INSERT INTO friend_requests (from_id, to_id) VALUES (%s, %s) RETURNING id", (a, b)).fetchone()[0]
        ba = db.execute("INSERT INTO friend_requests (from_id, to_id) VALUES (%s, %s) RETURNING id", (b, a)).fetchone()[0]
        pairs.append((a, ha, ab, b, hb, ba))

    async def run():
        async with httpx.AsyncClient(base_url=live_server.url, timeout=120) as c:
            calls = []
            for a, ha, ab, b, hb, ba in pairs:
                calls.append(c.post(f"/api/friends/requests/{ba}/accept", headers=ha))
                calls.append(c.post(f"/api/friends/requests/{ab}/accept", headers=hb))
            return await asyncio.gather(*calls)

    rs = asyncio.run(run())
    assert {r.status_code for r in rs} <= {200, 404}, [r.text for r in rs if r.status_code not in (200, 404)][:3]
    for i, (a, _, _, b, _, _) in enumerate(pairs):
        # one accept makes them friends; the other finds them friends (200) or its request
        # already gone with the first (404): never a 500
        assert 200 in (rs[2 * i].status_code, rs[2 * i + 1].status_code)
        assert db.execute("SELECT count(*) FROM friends WHERE (player_id, friend_id) IN ((%s, %s), (%s, %s))",
                          (a, b, b, a)).fetchone()[0] == 2


# ---------------------------------------------------------------- caps and pages
def test_pending_friend_requests_are_capped_both_ways(make_client):
    c = make_client(friend_requests_pending_max=3)
    target = sign_in_guest(c)
    fans = [sign_in_guest(c) for _ in range(4)]
    codes = [f.post("/api/friends/requests", json={"player_id": target.id}).status_code for f in fans]
    assert codes == [201, 201, 201, 429]
    r = fans[3].post("/api/friends/requests", json={"player_id": target.id})
    assert r.json()["error"] == "too_many_requests_received"
    assert len(target.get("/api/friends").json()["incoming_requests"]) == 3
    sender = fans[0]
    others = [sign_in_guest(c) for _ in range(3)]
    codes = [sender.post("/api/friends/requests", json={"player_id": o.id}).status_code for o in others]
    assert codes == [201, 201, 429] and sender.post(
        "/api/friends/requests", json={"player_id": others[2].id}).json()["error"] == "too_many_requests_sent"
    # answering one makes room
    rid = target.get("/api/friends").json()["incoming_requests"][0]["request_id"]
    assert target.post(f"/api/friends/requests/{rid}/accept").status_code == 200
    assert fans[3].post("/api/friends/requests", json={"player_id": target.id}).status_code == 201


def test_gifts_received_per_day_are_capped(make_client):
    c = make_client(gifts_received_per_day=2)
    target = sign_in_guest(c)
    givers = [sign_in_guest(c) for _ in range(3)]
    for g in givers:
        befriend(g, target)
    codes = [g.post("/api/gifts", json={"to_player_id": target.id}).status_code for g in givers]
    assert codes == [201, 201, 429]
    r = givers[2].post("/api/gifts", json={"to_player_id": target.id})
    assert r.json()["error"] == "gift_limit_recipient"
    assert target.state()["gifts_waiting"] == 2
    clock.advance(86400)
    assert givers[2].post("/api/gifts", json={"to_player_id": target.id}).status_code == 201


def test_the_friend_list_is_paginated(client):
    me = sign_in_guest(client)
    friends = [sign_in_guest(client, f"Pal {i}") for i in range(5)]
    for f in friends:
        befriend(me, f)
    seen, offset = [], 0
    while offset is not None:
        page = me.get("/api/friends", params={"limit": 2, "offset": offset}).json()
        assert len(page["friends"]) <= 2
        seen += [f["id"] for f in page["friends"]]
        offset = page["next_offset"]
    assert seen == [f.id for f in friends]
    assert me.get("/api/friends", params={"limit": 1000}).status_code == 422


# ---------------------------------------------------------------- uploads
def _sigv4_signature(secret: str, date: str, region: str, policy: str) -> str:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


@pytest.mark.slow  # the emulated S3 (moto)
def test_the_s3_upload_form_is_signed_with_sigv4(aws, make_client):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="sigv4-bucket")
    c = make_client(media_bucket="sigv4-bucket")
    p = sign_in_guest(c)
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    fields = up["fields"]
    assert "AWSAccessKeyId" not in fields and "signature" not in fields, "no SigV2 fields"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    access_key, date, region, service, terminator = fields["x-amz-credential"].split("/")
    assert (access_key, region, service, terminator) == ("testing", "us-east-1", "s3", "aws4_request")
    assert fields["x-amz-date"].startswith(date)
    policy = json.loads(base64.b64decode(fields["policy"]))
    conds = policy["conditions"]
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conds and {"x-amz-credential": fields["x-amz-credential"]} in conds
    assert ["content-length-range", 1, 2 * 1024 * 1024] in conds
    expires = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert 0 < (expires - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 300
    # the signature S3 will recompute (moto does not check it)
    assert fields["x-amz-signature"] == _sigv4_signature("testing", date, region, fields["policy"])
    r = httpx.post(up["url"], data=fields, files={"file": ("a.png", PNG, "image/png")})
    assert r.status_code == 204, r.text
    assert p.post("/api/me/avatar", json={"key": up["key"]}).status_code == 200


def test_served_media_say_nosniff(client):
    p = sign_in_guest(client)
    polyglot = b"GIF89a/*<html><script>alert(1)</script></html>*/" + b"\0" * 32
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/gif"}).json()
    assert client.post(up["url"], data=up["fields"], files={"file": ("a.gif", polyglot, "image/gif")}).status_code == 204
    url = p.post("/api/me/avatar", json={"key": up["key"]}).json()["avatar_url"]
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_local_unconfirmed_uploads_expire_and_are_bounded_per_player(make_client, make_settings):
    from pathlib import Path

    c = make_client()
    incoming = Path(make_settings().media_dir) / "incoming"
    p = sign_in_guest(c)

    def upload():
        up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
        assert c.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")}).status_code == 204
        return up["key"]

    keys = [upload() for _ in range(5)]
    left = sorted(str(f.relative_to(incoming.parent)) for f in (incoming / str(p.id)).iterdir())
    assert left == sorted(keys[-3:]), "a player keeps at most 3 unconfirmed uploads"
    q = sign_in_guest(c)
    clock.advance(24 * 3600 + 60)  # the bucket's lifecycle rule: one day
    up = q.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    assert c.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")}).status_code == 204
    assert not list((incoming / str(p.id)).iterdir()), "unconfirmed uploads older than a day are gone"


# ---------------------------------------------------------------- status codes
def test_a_chunked_body_over_the_limit_is_a_413(live_server):
    def chunks():
        for _ in range(80):
            yield b"x" * 1024

    r = httpx.post(live_server.url + "/api/auth/guest", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"


def test_wrong_methods_unknown_paths_and_malformed_bodies_answer_documented_json(client):
    p = sign_in_guest(client)
    r = p.post("/api/me")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "PATCH"}
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = p.post("/api/friends/requests", json={"player_id": True})
    assert r.status_code == 422, "true is not a player id"
    r = p.post("/api/friends/requests", content=b'{"player_id": "\xff"}', headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and r.json()["error"] in ("bad_request", "invalid_request")
    deep = b"[" * 5000 + b"]" * 5000
    r = p.post("/api/friends/requests", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422) and "error" in r.json()
    spec = client.get("/api/openapi.json").json()
    for path, ops in spec["paths"].items():
        if path.startswith("/api/health/") or path == "/api/config":
            continue
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"400", "413", "422", "503"} <= codes, (method, path, codes)
    key = next(x for x in spec["paths"]["/api/actions"]["post"]["parameters"] if x["name"] == "Idempotency-Key")
    assert (key["schema"]["minLength"], key["schema"]["maxLength"], key["schema"]["pattern"]) == (1, 128, "^[!-~]+$")
    fb = spec["components"]["schemas"]["FacebookIn"]
    assert fb["anyOf"] == [{"required": ["signed_request"]}, {"required": ["access_token"]}]
    assert "502" in spec["paths"]["/api/auth/facebook"]["post"]["responses"]


# ---------------------------------------------------------------- names
BAD_NAMES = {
    "right-to-left override": "\u202eevil",
    "zero-width only": "\u200b\u200b",
    "whitespace only": "   ",
    "BOM": "\ufeffAda",
    "DEL": "Ada\x7f",
    "stacked combining marks": "Z\u0301\u0302\u0303\u0304",
    "Hangul filler": "\u3164",
    "angle brackets": "<b>",
}


@pytest.mark.parametrize("what", BAD_NAMES)
def test_spoofing_names_are_refused(client, what):
    name = BAD_NAMES[what]
    r = client.post("/api/auth/guest", json={"name": name})
    assert r.status_code == 422 and "name" in r.json()["detail"], r.text
    p = sign_in_guest(client, "Plain")
    r = client.patch("/api/me", json={"name": name}, headers=p.h)
    assert r.status_code == 422, r.text
    assert p.state()["name"] == "Plain"


def test_names_are_normalised_and_trimmed(client):
    p = sign_in_guest(client, "  Zoe\u0308 \u674e 🙂  ")
    assert p.state()["name"] == "Zo\u00eb \u674e 🙂" == unicodedata.normalize("NFC", "Zoe\u0308 \u674e 🙂")
