"""Configuration (env and Secrets Manager via moto), health, errors, OpenAPI, migrations,
and the local-play command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import psycopg
import pytest

from game_service.core.config import ConfigError, Settings
from game_service.core import db_auth
from game_service.core.db_auth import credentials_for
from game_service.migrate import alembic_config
from alembic.script import ScriptDirectory
from tests.game_service.conftest import (
    REPO,
    create_database,
    drop_database,
    free_port,
    sign_in_guest,
)


def test_database_url_from_an_rds_shaped_secret(aws, monkeypatch):
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(
        Name=f"db-{time.time_ns()}",
        SecretString=json.dumps(
            {"engine": "postgres", "username": "game", "password": "p@ss/word", "host": "db.internal", "port": 5433, "dbname": "game"}
        ),
    )["ARN"]
    monkeypatch.setenv("GAME_DB_SECRET_ID", arn)
    monkeypatch.setenv("GAME_SESSION_SECRET", "s")
    s = Settings().resolve_secrets()
    assert s.database_url is None  # credentials are read when a connection opens (rotation)
    p = credentials_for(s).params()
    assert {k: p[k] for k in ("user", "password", "host", "port", "dbname", "sslmode")} == {
        "user": "game", "password": "p@ss/word", "host": "db.internal", "port": 5433, "dbname": "game", "sslmode": "require"}
    assert p["connect_timeout"] == 3


def test_an_rds_managed_secret_without_host_uses_the_host_from_the_environment(aws, monkeypatch):
    sm = aws.client("secretsmanager")
    name = f"rds-managed-{time.time_ns()}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "postgres", "password": "pw"}))
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the EC2 tier sets AWS_REGION
    monkeypatch.setenv("GAME_DB_SECRET_ID", name)
    monkeypatch.setenv("GAME_DB_HOST", "db.example.internal")
    monkeypatch.setenv("GAME_DB_NAME", "game")
    s = Settings(session_secret="s").resolve_secrets()
    p = credentials_for(s).params()
    assert (p["user"], p["password"], p["host"], p["port"], p["dbname"], p["sslmode"]) == (
        "postgres", "pw", "db.example.internal", 5432, "game", "require")


def test_app_secret_supplies_session_and_facebook_secrets(aws, monkeypatch):
    sm = aws.client("secretsmanager")
    name = f"app-{time.time_ns()}"
    sm.create_secret(Name=name, SecretString=json.dumps(
        {"session_secret": "from-secrets-manager", "facebook_app_id": "1", "facebook_app_secret": "fbs"}))
    monkeypatch.setenv("GAME_APP_SECRET_ID", name)
    monkeypatch.setenv("GAME_ENV", "production")
    s = Settings(database_url="sqlite:///x.db").resolve_secrets()
    assert (s.session_secret, s.facebook_app_id, s.facebook_app_secret) == ("from-secrets-manager", "1", "fbs")
    assert s.facebook_enabled


def test_a_missing_secret_is_a_clear_startup_error(aws, monkeypatch):
    monkeypatch.setenv("GAME_DB_SECRET_ID", "does-not-exist")
    settings = Settings(session_secret="s").resolve_secrets()  # reads no database secret
    with pytest.raises(ConfigError, match="does-not-exist"):
        db_auth.check(settings)  # what `python -m game_service` does before it serves or migrates


@pytest.mark.slow  # starts the server process
def test_production_without_a_session_secret_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAME_")}
    env.update(GAME_ENV="production", GAME_DATABASE_URL=f"sqlite:///{tmp_path}/x.db", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "game_service", "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "GAME_SESSION_SECRET" in r.stderr and "Traceback" not in r.stderr


def test_local_play_without_a_secret_generates_one_with_a_warning(caplog):
    s = Settings(database_url="sqlite:///x.db").resolve_secrets()
    assert s.session_secret and len(s.session_secret) > 20
    assert "generated a random one" in caplog.text


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError):
        Settings(db_pool_size=0)
    with pytest.raises(ConfigError, match="Unsupported database"):
        Settings(database_url="mysql://x/y", session_secret="s").async_database_url


def test_liveness_is_shallow_and_readiness_is_deep(make_client):
    ok = make_client()
    assert ok.get("/api/health/live").json() == {"status": "ok"}
    r = ok.get("/api/health/ready")
    assert r.status_code == 200 and r.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}
    broken = make_client(database_url="postgresql://postgres@127.0.0.1:1/nope")
    assert broken.get("/api/health/live").status_code == 200  # the load balancer keeps the instance
    r = broken.get("/api/health/ready")
    assert r.status_code == 503 and r.json()["status"] == "fail"
    assert r.json()["checks"]["database"].startswith("error") and r.json()["checks"]["storage"] == "ok"


def test_errors_are_json_with_the_right_status(client):
    r = client.get("/api/no-such-thing")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.delete("/api/health/live")
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    p = sign_in_guest(client)
    r = client.post("/api/gifts", content=b"{not json", headers={**p.h, "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post("/api/friends/requests", content=b"x" * 100_000, headers={**p.h, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"
    assert r.headers["x-request-id"]


def test_a_server_error_is_json_with_a_request_id_and_no_traceback(make_client, db):
    c = make_client()
    p = sign_in_guest(c)
    db.execute("ALTER TABLE gifts RENAME TO gifts_tmp")
    try:
        r = c.get("/api/gifts", headers={**p.h, "X-Request-ID": "req-123"})
    finally:
        db.execute("ALTER TABLE gifts_tmp RENAME TO gifts")
    assert r.status_code == 500
    assert r.json() == {"error": "internal_error", "detail": r.json()["detail"], "request_id": "req-123"}
    assert "Traceback" not in r.text and "gifts" not in r.text


def test_openapi_schema_lists_the_api(client):
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/auth/guest", "/api/me", "/api/actions", "/api/daily-reward", "/api/friends/requests",
                 "/api/gifts/{gift_id}/claim", "/api/leaderboard", "/api/me/avatar/upload-url",
                 "/api/health/live", "/api/health/ready", "/api/facebook/data-deletion"):
        assert path in paths, path
    assert all(p.startswith("/api/") for p in paths)
    schemas = r.json()["components"]["schemas"]
    assert {"PlayerState", "ActionOut", "ErrorOut", "LeaderboardOut", "UploadOut"} <= set(schemas)
    act = paths["/api/actions"]["post"]
    assert act["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ActionOut")
    assert act["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert any(p.get("name") == "Idempotency-Key" for p in act["parameters"])
    assert client.get("/api/docs").status_code == 200


@pytest.mark.slow
def test_concurrent_migrate_runs_migrate_once(tmp_path):
    url = create_database("gs_migrate")
    try:
        env = {**os.environ, "GAME_DATABASE_URL": url, "GAME_SESSION_SECRET": "s", "PYTHONPATH": str(REPO)}
        procs = [
            subprocess.Popen([sys.executable, "-m", "game_service", "migrate"], env=env, cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        script = ScriptDirectory.from_config(alembic_config())
        revisions = list(script.walk_revisions())
        assert len(revisions) >= 3
        for rev in revisions:  # each migration ran in exactly one of the processes
            step = f"Running upgrade {rev.down_revision or ''} -> {rev.revision}"
            assert sum(o.count(step) for o in outs) == 1, (step, outs)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(script.get_current_head(),)]
            assert conn.execute("SELECT count(*) FROM players").fetchone() == (0,)
    finally:
        drop_database(url)


@pytest.mark.slow
def test_local_play_command_runs_on_sqlite_and_prints_the_url(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAME_", "AWS_"))}
    env.update(GAME_PORT=str(port), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "game_service"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.time() + 30
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if "running at" in line:
                url = line.split("running at", 1)[1].split()[0]
        assert url == f"http://127.0.0.1:{port}/"
        for _ in range(50):
            try:
                if httpx.get(url + "api/health/ready").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        page = httpx.get(url)
        assert page.status_code == 200 and "<html" in page.text.lower()
        r = httpx.post(url + "api/auth/guest")
        assert r.status_code == 201
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        assert httpx.post(url + "api/actions", headers=h).json()["player"]["coins"] == 55
        assert (tmp_path / "var" / "game.db").is_file() and (tmp_path / "var" / "media").is_dir()
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.mark.slow
def test_production_server_writes_json_logs_with_the_request_id(pg_url, tmp_path):
    from tests.game_service.conftest import SESSION_SECRET, LiveServer

    server = LiveServer(
        {"GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": SESSION_SECRET, "GAME_MEDIA_DIR": str(tmp_path / "m")},
        workers=2,
        log_level="INFO",
    )
    try:
        r = httpx.get(server.url + "/api/health/ready", headers={"X-Request-ID": "trace-42"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "trace-42"
        r = httpx.get(server.url + "/api/me")
        generated = r.headers["x-request-id"]
        assert r.status_code == 401 and r.json()["request_id"] == generated
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines() if line.startswith("{")]
    assert any(l.get("request_id") == "trace-42" and l.get("path") == "/api/health/ready" and l.get("status") == 200
               for l in lines)
    assert any(l.get("request_id") == generated and l.get("status") == 401 for l in lines)
    assert all("ts" in l and "level" in l for l in lines)


def test_out_of_range_ids_and_control_characters_are_422_not_500(client):
    p = sign_in_guest(client)
    huge = 10**20
    for method, path, body in (
        ("POST", f"/api/gifts/{huge}/claim", None),
        ("POST", f"/api/friends/requests/{huge}/accept", None),
        ("DELETE", f"/api/friends/{huge}", None),
        ("GET", f"/api/players/{huge}", None),
        ("POST", "/api/friends/requests", {"player_id": huge}),
        ("POST", "/api/gifts", {"to_player_id": huge}),
        ("POST", "/api/me/avatar", {"key": f"incoming/{p.id}/\x00x.png"}),
        ("GET", "/api/facebook/deletion-status?code=%00abc", None),
    ):
        r = client.request(method, path, json=body, headers=p.h)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert r.json()["error"] == "invalid_request" and r.json()["detail"], path


def test_the_database_secret_is_reread_after_its_ttl_and_a_stale_one_survives_an_outage(aws, monkeypatch):
    """Secrets Manager is moto's server; the secret changes between reads, then disappears."""
    from game_service.core.db_auth import SecretCredentials

    sm = aws.client("secretsmanager")
    name = f"ttl-{time.time_ns()}"
    sm.create_secret(Name=name, SecretString=json.dumps({"username": "u", "password": "one", "host": "h"}))
    creds = SecretCredentials(name, Settings(session_secret="s"), ttl=0.5)
    assert creds.params()["password"] == "one"
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({"username": "u", "password": "two", "host": "h"}))
    assert creds.params()["password"] == "one"  # cached
    assert creds.after_auth_failure({"password": "one"})["password"] == "two"  # re-read at once
    assert creds.after_auth_failure({"password": "one"})["password"] == "two" and creds.reads == 2  # no stampede
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    time.sleep(0.6)
    assert creds.params()["password"] == "two"  # unreachable or gone: keep using the last good one


def test_access_lines_keep_every_failure_and_slow_request_and_a_share_of_the_rest(make_client, caplog):
    """What the hosts ship to CloudWatch per request (GAME_ACCESS_LOG_SAMPLE_RATE, 1% on EC2):
    a 5xx and a slow request always, the ordinary ones sampled, each sampled line saying by
    how much, so counts can be scaled back."""
    import logging
    import random

    caplog.set_level(logging.INFO, logger="game_service.access")

    def lines() -> list[dict]:
        found = [r.fields for r in caplog.records if r.name == "game_service.access"]
        caplog.clear()
        return found

    client = make_client(access_log_sample_rate=0.0, access_log_slow_ms=60_000)

    @client.app.get("/api/test-boom")  # a route that fails the way a bug would
    def boom():
        raise RuntimeError("a bug")

    for _ in range(10):
        assert client.get("/api/health/ready").status_code == 200
    assert lines() == []
    assert client.get("/api/test-boom").status_code == 500
    (failed,) = lines()
    assert failed["status"] == 500 and "sampled" not in failed

    slow = make_client(access_log_sample_rate=0.0, access_log_slow_ms=0.001)  # every request is slow here
    assert slow.get("/api/health/ready").status_code == 200
    assert [line["path"] for line in lines()] == ["/api/health/ready"]

    half = make_client(access_log_sample_rate=0.5, access_log_slow_ms=60_000)
    random.seed(7)
    for _ in range(200):
        half.get("/api/health/ready")
    kept = lines()
    assert 60 < len(kept) < 140 and all(line["sampled"] == 0.5 for line in kept)
    every = make_client()  # the default keeps every line (local play, tests)
    every.get("/api/health/ready")
    assert len(lines()) == 1


def test_a_streams_access_line_says_so_and_its_length_is_not_slowness(make_client, caplog):
    """A live stream lasts as long as it is meant to: however long it ran, it is not a slow
    request (no line of its own when ordinary lines are sampled away), and its line, when
    kept, says ``"stream": true``."""
    import logging

    from fastapi.responses import StreamingResponse

    caplog.set_level(logging.INFO, logger="game_service.access")

    def lines() -> list[dict]:
        found = [r.fields for r in caplog.records if r.name == "game_service.access"]
        caplog.clear()
        return found

    def with_stream(client):
        @client.app.get("/api/test-stream")
        def stream():
            return StreamingResponse(iter([": keep-alive\n\n"]), media_type="text/event-stream")
        return client

    every_one_slow = with_stream(make_client(access_log_sample_rate=0.0, access_log_slow_ms=0.001))
    assert every_one_slow.get("/api/test-stream").status_code == 200
    assert lines() == []
    assert every_one_slow.get("/api/health/ready").status_code == 200  # an ordinary slow request is kept
    assert [line["path"] for line in lines()] == ["/api/health/ready"]
    every = with_stream(make_client())
    assert every.get("/api/test-stream").status_code == 200
    (line,) = lines()
    assert line["path"] == "/api/test-stream" and line["stream"] is True
    every.get("/api/health/ready")
    assert "stream" not in lines()[0]
