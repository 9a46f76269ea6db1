"""Abuse probes over HTTP: what anyone can send (oversize numbers, control characters,
bursts, double clicks, simultaneous probes) answers a 4xx with a reason, never a 5xx (which
would page the operator), and loses nothing acknowledged."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy
from alembic import command
from fastapi.routing import APIRoute

from game_service.core import clock
from game_service.migrate import alembic_config
from tests.game_service.conftest import (
    FB_APP_SECRET,
    LiveServer,
    Player,
    befriend,
    create_database,
    drop_database,
    make_signed_request,
    sign_in_guest,
    start_of_a_rate_window,
)

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# values a path or query parameter may be sent: past Python's 4300-digit int limit, past
# PostgreSQL's bigint, negative, long text
OVERSIZE = ("9" * 4301, str(2**63), str(2**64 + 1), "-" + "9" * 30, "x" * 5000)


def _api_routes(routes):
    """The app's API routes (included routers are not flattened)."""
    for r in routes:
        if hasattr(r, "original_router"):
            yield from _api_routes(r.original_router.routes)
        elif isinstance(r, APIRoute):
            yield r


def _fill(template: str, values: dict[str, str]) -> str:
    """The path with each ``{name}`` (or ``{name:convertor}``) replaced: by ``values[name]``
    or else a plain id."""
    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", lambda m: values.get(m.group(1), "12345678"), template)


def test_oversize_path_and_query_values_are_never_a_5xx(client):
    """Every route of the app, each path parameter in turn at an oversize value (the others
    plain) with every method, each query parameter with the path's own methods: never a 5xx,
    and a 4xx says why."""
    p = sign_in_guest(client)
    doc = client.get("/api/openapi.json").json()
    routes = {r.path: r.methods for r in _api_routes(client.app.routes)}
    cases = []  # (methods, url, query)
    for template in sorted(routes):
        documented = doc["paths"].get(re.sub(r":[^}]*\}", "}", template), {})
        for name in re.findall(r"\{([^}:]+)", template):
            cases += [(_METHODS, _fill(template, {name: bad}), {}) for bad in OVERSIZE]
        for op in documented.values():
            for q in (x["name"] for x in op.get("parameters", ()) if x["in"] == "query"):
                cases += [(routes[template], _fill(template, {}), {q: bad}) for bad in OVERSIZE]
    assert len(cases) > 50
    failures = []
    for methods, url, query in cases:
        for method in methods:
            r = client.request(method, url, params=query, headers=p.h)
            if r.status_code >= 500 or (r.status_code >= 400 and "error" not in r.json()):
                failures.append((method, url[:60], str({k: v[:20] for k, v in query.items()}), r.status_code))
    assert not failures, sorted(set(failures))
    assert client.delete("/api/friends/" + "9" * 4301).status_code == 401  # anonymous
    for huge in ("9" * 4301, str(2**53)):
        r = p.delete(f"/api/friends/{huge}")
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["path", "friend_id"], r.text
    for mount in ("/", "/media/"):  # the page and the local media (static files)
        for bad in OVERSIZE:
            assert client.get(mount + bad).status_code == 404


CONTROL = ("ab\x00cd", "ab\x1b[2Jcd", "ab\x7fcd", "ab\x85cd")  # NUL, an escape sequence, DEL, a C1 control


def test_control_characters_in_any_text_input_are_a_4xx_with_a_reason(client):
    """PostgreSQL refuses NUL in text (that was a 500); every other control character is
    refused before it reaches a log line or the database: the path, the query and every
    string field of every JSON body say which input is wrong."""
    p = sign_in_guest(client)
    for bad in CONTROL:
        r = p.get("/api/players", params={"q": bad})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "q"], r.text
        assert "control character" in r.json()["detail"]
    doc = client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    probed = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = {x["name"]: x for x in op.get("parameters", ()) if x["in"] in ("path", "query")}
            for name, param in params.items():
                values = {n: "12345678" for n, x in params.items() if x["in"] == "path"}
                url = path.format(**{**values, name: quote(CONTROL[0], safe="")}) if param["in"] == "path" else path.format(**values)
                query = {name: CONTROL[0]} if param["in"] == "query" else {}
                r = client.request(method, url, params=query, headers=p.h)
                assert 400 <= r.status_code < 500 and r.json()["error"], (method, path, name, r.text)
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = body.get("$ref") or next((x["$ref"] for x in body.get("anyOf", ()) if "$ref" in x), None)
            if ref is None:
                continue
            for field, spec in schemas[ref.rsplit("/", 1)[1]]["properties"].items():
                if "string" not in {spec.get("type"), *(x.get("type") for x in spec.get("anyOf", ()))}:
                    continue
                for bad in CONTROL:
                    r = client.request(method, path.format(**{n: "12345678" for n in params}),
                                       json={field: bad}, headers=p.h)
                    assert r.status_code == 422, (method, path, field, r.text)
                    assert any(e["loc"][-1] == field for e in r.json()["errors"]), (method, path, field, r.text)
                probed.append((path, field))
    assert ("/api/auth/recover", "code") in probed and ("/api/me/facebook", "access_token") in probed


def _text_columns(db) -> list[tuple[str, str, str]]:
    return db.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' "
        "AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
    ).fetchall()


def test_no_secret_is_at_rest_in_any_table(client, db):
    """A recovery code is a login that never expires: only its hash is kept. Its answer was
    kept in plaintext for a day as the stored reply to the request's Idempotency-Key; now a
    replay of that key says the code was already issued (409), without it, and the code works."""
    p = sign_in_guest(client)
    key = {"Idempotency-Key": "recovery-1"}
    first = p.post("/api/me/recovery-code", headers=key)
    assert first.status_code == 201
    code = first.json()["code"]
    again = p.post("/api/me/recovery-code", headers=key)
    assert again.status_code == 409 and again.json()["error"] == "recovery_code_issued", again.text
    assert code not in again.text and again.json()["request_id"]
    session = client.post("/api/auth/recover", json={"code": code})
    assert session.status_code == 200
    secrets = {code, code.replace("-", ""), session.json()["token"], p.token}
    columns = _text_columns(db)
    assert {("idempotency_keys", "response"), ("recovery_codes", "code_hash")} <= {c[:2] for c in columns}
    for table, column, kind in columns:
        value = f'"{column}"' if kind == "bytea" else f'"{column}"::text'
        needle = "convert_to(%s, 'UTF8')" if kind == "bytea" else "%s"
        for secret in secrets:
            hit = db.execute(
                f'SELECT count(*) FROM "{table}" WHERE position({needle} in {value}) > 0', (secret,)
            ).fetchone()[0]
            assert hit == 0, (table, column)


def test_recovery_codes_stored_before_are_scrubbed_by_the_migration():
    """Answers stored by the previous release (the code in plaintext) become the refusal."""
    url = create_database("gs_scrub")
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            command.upgrade(alembic_config(conn), "0005")
            conn.commit()
            pid = conn.execute(sqlalchemy.text(
                "INSERT INTO players (name, coins, energy, energy_at) VALUES ('Old', 0, 0, 0) RETURNING id")).scalar()
            for key, fp, response in (("k1", "POST /api/me/recovery-code 00ff", '{"code": "AAAAA-BBBBB-CCCCC-DDDDD"}'),
                                      ("k2", "POST /api/actions 00ff", '{"coins_earned": 1}')):
                conn.execute(sqlalchemy.text(
                    "INSERT INTO idempotency_keys (player_id, key, fingerprint, status_code, response) "
                    "VALUES (:pid, :key, :fp, 201, :response)"), {"pid": pid, "key": key, "fp": fp, "response": response})
            conn.commit()
            command.upgrade(alembic_config(conn), "head")
            conn.commit()
            rows = dict(conn.execute(sqlalchemy.text("SELECT key, response FROM idempotency_keys")).all())
        assert "AAAAA" not in rows["k1"] and json.loads(rows["k1"])["error"] == "recovery_code_issued"
        assert rows["k2"] == '{"coins_earned": 1}'
    finally:
        engine.dispose()
        drop_database(url)


def _authenticated_writes(app) -> list[tuple[str, str]]:
    """Every (method, path) that changes something and needs a session."""
    from game_service.api.deps import session_token

    def signed_in(dependant) -> bool:
        return any(d.call is session_token or signed_in(d) for d in dependant.dependencies)

    return sorted((m, r.path) for r in _api_routes(app.routes) if signed_in(r.dependant)
                  for m in r.methods - {"GET", "HEAD"})


BODIES = {
    "/api/me": {"name": "Burst"}, "/api/me/facebook": {"access_token": "t"},
    "/api/friends/facebook-import": {"access_token": "t"}, "/api/me/avatar/upload-url": {"content_type": "image/png"},
    "/api/me/avatar": {"key": "incoming/1/a.png"}, "/api/friends/requests": {"player_id": 1},
    "/api/gifts": {"to_player_id": 1},
}


def test_every_authenticated_write_counts_against_the_write_budget(make_client, db):
    """The edge has no WAF: the per-player budget is the only bound on a player's writes.
    Renames, sign-outs, removals, avatar confirms, Facebook links and imports were free
    (300 renames in a burst all succeeded); now a burst of renames spends the budget and
    then every write route answers 429 with Retry-After, until the window ends."""
    client = make_client(rate_limit_writes=5)
    p = sign_in_guest(client)
    start_of_a_rate_window()
    renames = [client.patch("/api/me", json={"name": f"Burst {i}"}, headers=p.h) for i in range(8)]
    assert [r.status_code for r in renames] == [200] * 5 + [429] * 3, [r.text for r in renames]
    assert renames[-1].json()["error"] == "rate_limited" and 1 <= int(renames[-1].headers["Retry-After"]) <= 60
    assert p.state()["name"] == "Burst 4"
    routes = _authenticated_writes(client.app)
    assert ("PATCH", "/api/me") in routes and ("POST", "/api/auth/sign-out") in routes and len(routes) >= 15
    for method, path in routes:
        url = _fill(path, {"code": "abcdefgh"})
        r = client.request(method, url, json=BODIES.get(path), headers=p.h)
        assert r.status_code == 429 and "Retry-After" in r.headers, (method, path, r.text)
    assert db.execute("SELECT count FROM rate_limits WHERE player_id = %s", (p.id,)).fetchone()[0] == 8 + len(routes)
    clock.advance(60)
    assert client.patch("/api/me", json={"name": "Later"}, headers=p.h).status_code == 200
    assert client.post("/api/auth/sign-out", headers=p.h).status_code == 204


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def _upload(client, p, s3: bool) -> str:
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    post = httpx.post if s3 else client.post
    assert post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")}).status_code == 204
    return up["key"]


@pytest.mark.parametrize("backend", ["local", pytest.param("s3", marks=pytest.mark.slow)])
def test_a_double_click_on_avatar_confirm_is_one_avatar_and_clear_answers(backend, make_client, request):
    """20 confirms of one upload at once were one 200, fifteen 404s and four 500s (the file
    moved under a concurrent request). Now every one is the same 200, and the avatar is served."""
    if backend == "s3":
        s3 = request.getfixturevalue("aws").client("s3")
        s3.create_bucket(Bucket="abuse-probe-media")
        client = make_client(media_bucket="abuse-probe-media")
    else:
        client = make_client()
    p = sign_in_guest(client)
    n = 20 if backend == "local" else 6  # moto answers slowly
    keys = [_upload(client, p, backend == "s3")]
    if backend == "local":
        keys.append(_upload(client, p, False))  # then one replacing it
    for key in keys:
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(lambda _: p.post("/api/me/avatar", json={"key": key}), range(n)))
        assert Counter(r.status_code for r in answers) == {200: n}, [r.text for r in answers if r.status_code != 200]
        url = p.state()["avatar_url"]
        assert {r.json()["avatar_url"] for r in answers if r.status_code == 200} == {url}
    if backend == "local":
        assert client.get(url).content == PNG
        assert len(list((client.app.state.services.storage.root / "media" / "avatars" / str(p.id)).iterdir())) == 1
    else:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="abuse-probe-media", Prefix=f"media/avatars/{p.id}/")["Contents"]]
        assert keys == [url.lstrip("/")]
        assert s3.get_object(Bucket="abuse-probe-media", Key=keys[0])["Body"].read() == PNG


def test_simultaneous_readiness_checks_all_pass_and_a_failure_tells_only_the_log(make_client, caplog):
    """40 readiness checks at once answered up to 23 503s (each wrote and deleted the same
    probe file); a failing one told anyone the exception and the server's paths."""
    client = make_client()
    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(lambda _: client.get("/api/health/ready"), range(40)))
    assert Counter(r.status_code for r in answers) == {200: 40}, [r.text for r in answers if r.status_code != 200]
    broken = make_client(database_url="postgresql://postgres@127.0.0.1:1/nope")
    root = broken.app.state.services.storage.root
    shutil.rmtree(root)
    root.write_text("not a directory")  # the storage check cannot write under it
    r = broken.get("/api/health/ready")
    assert r.status_code == 503 and r.json() == {"status": "fail", "checks": {"database": "error", "storage": "error"}}
    assert "Retry-After" in r.headers
    logged = "\n".join(rec.getMessage() + str(getattr(rec, "fields", "")) for rec in caplog.records)
    assert str(root) in logged and "127.0.0.1" in logged


def _untrue_counters(db, players) -> list[tuple]:
    """Those of ``players`` whose gifts_waiting is not their number of unclaimed gifts."""
    return db.execute(
        "SELECT p.id, p.gifts_waiting, count(g.id) FROM players p "
        "LEFT JOIN gifts g ON g.recipient_id = p.id AND g.claimed_at IS NULL "
        "WHERE p.id = ANY(%s) GROUP BY p.id HAVING p.gifts_waiting <> count(g.id)", ([x.id for x in players],)
    ).fetchall()


def test_every_deletion_keeps_every_gifts_waiting_counter_true(client, db):
    """A sender's data deletion took their gifts with it (the cascade) but left the
    recipients' gifts_waiting: a badge that could never be cleared."""
    payload = {"algorithm": "HMAC-SHA256", "issued_at": clock.now_ms() // 1000, "user_id": "fb-gift-sender"}
    signed = make_signed_request(payload, FB_APP_SECRET)
    sender = Player(client, client.post("/api/auth/facebook", json={"signed_request": signed}).json())
    bea, cal, dan = (sign_in_guest(client) for _ in range(3))
    for friend in (bea, cal, dan):
        befriend(sender, friend)
        assert sender.post("/api/gifts", json={"to_player_id": friend.id}).status_code == 201
    gift_to_cal = cal.get("/api/gifts").json()["items"][0]["id"]
    assert cal.post(f"/api/gifts/{gift_to_cal}/claim").status_code == 200
    assert bea.post("/api/gifts", json={"to_player_id": sender.id}).status_code == 201
    assert dan.state()["gifts_waiting"] == 1
    assert dan.delete(f"/api/friends/{sender.id}").status_code == 204  # a removed friend's gift stays
    everyone = (sender, bea, cal, dan)
    assert _untrue_counters(db, everyone) == [] and dan.state()["gifts_waiting"] == 1
    assert client.post("/api/facebook/data-deletion", data={"signed_request": signed}).status_code == 200
    assert _untrue_counters(db, everyone) == []
    for friend in (bea, cal, dan):
        assert friend.state()["gifts_waiting"] == 0
        assert [g for g in friend.get("/api/gifts").json()["items"] if not g["claimed"]] == []


def test_a_refused_session_is_never_renewed_and_the_page_allows_only_get(client):
    """A signed-out token with a malformed body answered 422 with a fresh token; ``POST /``
    answered 405 with an ``Allow`` that listed POST."""
    p = sign_in_guest(client)
    clock.advance(2 * 24 * 3600)  # the token is old enough to renew
    renewed = p.get("/api/me")
    assert renewed.status_code == 200 and renewed.headers.get("X-Session-Token")
    assert p.post("/api/auth/sign-out").status_code == 204
    for method, path, body in (("POST", "/api/friends/requests", {"player_id": "x"}),
                               ("POST", "/api/gifts", {}), ("PATCH", "/api/me", {"name": ""})):
        r = client.request(method, path, json=body, headers=p.h)
        assert r.status_code in (401, 422) and "X-Session-Token" not in r.headers, (path, r.status_code)
    for path in ("/", "/index.html", "/media/x.png"):
        r = client.post(path)
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD", (path, r.headers.get("Allow"))
        assert r.json()["error"] == "method_not_allowed"


def _closed_within(url: str, send: list[bytes], seconds: float) -> tuple[bytes, float]:
    """Open a connection, send ``send`` (parts 0.3 s apart), then read until the server
    closes it; return what it answered and when it closed (or ``seconds`` if it did not)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=seconds) as sock:
        for i, part in enumerate(send):
            if i:
                time.sleep(0.3)
            sock.sendall(part)
        t0, got = time.monotonic(), b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            return got, seconds
        return got, time.monotonic() - t0


@pytest.fixture(scope="module")
def impatient_server(pg_url, tmp_path_factory):
    server = LiveServer({"GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": "s",
                         "GAME_MEDIA_DIR": str(tmp_path_factory.mktemp("impatient") / "media"),
                         "GAME_HTTP_HEADER_TIMEOUT_SECONDS": "1", "GAME_HTTP_BODY_TIMEOUT_SECONDS": "1",
                         "GAME_HTTP_KEEPALIVE_SECONDS": "1"}, workers=1)
    yield server
    server.stop()


@pytest.mark.slow  # a server of its own
def test_slow_clients_are_timed_out_and_normal_ones_are_not(impatient_server):
    """Idle connections, half-sent heads and stalled bodies were held open for minutes (no
    read timeout). With 1 s timeouts: each is closed within a few seconds (a 408 when a
    request had begun); a request sent in parts, each within the timeout, is served."""
    url = impatient_server.url
    head = b"POST /api/auth/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    probes = {
        "idle": [],
        "half a head": [b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n"],
        "stalled body": [head + b"Content-Length: 20\r\n\r\n{\"name\":"],
        "kept alive": [b"GET /api/health/live HTTP/1.1\r\nHost: x\r\n\r\n"],
        "in parts": [head, b"Content-Length: 16\r\n\r\n{\"name\":", b" \"Slow\"}"],
    }
    with ThreadPoolExecutor(len(probes)) as pool:
        done = dict(zip(probes, pool.map(lambda parts: _closed_within(url, parts, 6), probes.values())))
    for what in ("idle", "half a head", "stalled body", "kept alive"):
        assert done[what][1] < 4, (what, done[what])
    for what in ("half a head", "stalled body"):
        assert done[what][0].startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in done[what][0], done[what]
    assert done["idle"][0] == b""
    assert done["kept alive"][0].startswith(b"HTTP/1.1 200 ")
    assert done["in parts"][0].startswith(b"HTTP/1.1 201 ") and b'"Slow"' in done["in parts"][0], done["in parts"]
    assert "Traceback" not in impatient_server.log_text()
