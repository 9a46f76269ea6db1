"""Fixtures of the game service tests.

* PostgreSQL is real: each test session creates its own database on the server named by
  ``TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``), migrates it
  with the service's Alembic migrations, and drops it at the end.
* AWS is emulated: S3 and Secrets Manager by moto running as a local HTTP server
  (``ThreadedMotoServer``), so presigned POSTs are real HTTP uploads.
* Facebook's Graph API is emulated by a small local HTTP server (``FakeGraph``); the service
  reaches it through ``GAME_FACEBOOK_GRAPH_URL``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import warnings

import httpx
import psycopg
import pytest

with warnings.catch_warnings():
    # Starlette announces a future switch of its test client's HTTP library; not ours to act on
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from game_service.core import clock
from game_service.core.config import Settings
from game_service.main import create_app
from game_service.migrate import upgrade_head
from local_topology.processes import free_port

REPO = Path(__file__).resolve().parents[2]
FB_APP_ID = "424242"
FB_APP_SECRET = "fb-app-secret-for-tests"
SESSION_SECRET = "session-secret-for-tests"


def make_signed_request(payload: dict, app_secret: str) -> str:
    """Build a Facebook ``signed_request`` the way Facebook does (what the JS SDK hands over)."""

    def b64url(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(app_secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{b64url(sig)}.{body}"


def _admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _with_db(url: str, db: str) -> str:
    u = urlparse(url)
    return u._replace(path="/" + db).geturl()


def _plain(url: str) -> str:
    """A libpq URL (psycopg.connect) from a SQLAlchemy-style one."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest


def create_database(prefix: str = "gs_test") -> str:
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_plain(_admin_url()), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_db(_plain(_admin_url()), name)


def drop_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_plain(_admin_url()), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url():
    url = create_database()
    upgrade_head(Settings(database_url=url, session_secret="x"))
    yield url
    drop_database(url)


@pytest.fixture
def db(pg_url):
    """A direct connection to the test database, to check invariants behind the API."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def make_pg_cluster():
    """PostgreSQL clusters of the test's own (``local_topology.postgres.PgCluster.create``),
    stopped and deleted after it."""
    from local_topology.postgres import PgCluster

    clusters = []

    def make(**kw) -> PgCluster:
        c = PgCluster.create(**kw)
        clusters.append(c)
        return c

    yield make
    for c in clusters:
        c.close()


# ---------------------------------------------------------------- fake Facebook Graph API
class FakeGraph:
    """Answers ``/debug_token`` and ``/me/friends`` like the Graph API does."""

    def __init__(self):
        self.tokens: dict[str, dict] = {}
        self.friends: dict[str, list[str]] = {}
        self.friends_failures = 0  # the next N friend-list reads answer 500
        self.max_page = 500  # friends a page at most, whatever the ``limit`` asked
        graph = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/debug_token":
                    if q.get("access_token") != f"{FB_APP_ID}|{FB_APP_SECRET}":
                        return self._send(400, {"error": {"message": "invalid app access token"}})
                    info = graph.tokens.get(q.get("input_token", ""))
                    data = {"is_valid": False} if info is None else {"is_valid": True, "type": "USER", **info}
                    return self._send(200, {"data": data})
                if u.path == "/me/friends":
                    if graph.friends_failures > 0:  # Facebook failing for a while
                        graph.friends_failures -= 1
                        return self._send(500, {"error": {"message": "an unexpected error has occurred"}})
                    info = graph.tokens.get(q.get("access_token", ""))
                    if info is None:
                        return self._send(400, {"error": {"message": "invalid token", "code": 190}})
                    ids = graph.friends.get(info["user_id"], [])
                    # paged as Facebook pages it: ``limit`` a page, ``paging.next`` to the rest
                    limit, after = min(int(q.get("limit", 25)), graph.max_page), int(q.get("after", 0))
                    page = {"data": [{"id": i, "name": f"fb {i}"} for i in ids[after:after + limit]]}
                    if after + limit < len(ids):
                        rest = urlencode({"access_token": q["access_token"], "limit": limit, "after": after + limit})
                        page["paging"] = {"next": f"{graph.url}/me/friends?{rest}"}
                    return self._send(200, page)
                self._send(404, {"error": {"message": "unknown path"}})

            def _send(self, code, body):
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def user_token(self, user_id: str, app_id: str = FB_APP_ID) -> str:
        token = f"tok-{uuid.uuid4().hex}"
        self.tokens[token] = {"user_id": user_id, "app_id": app_id}
        return token


@pytest.fixture(scope="session")
def fake_graph():
    g = FakeGraph()
    yield g
    g.server.shutdown()


# ---------------------------------------------------------------- moto (S3, Secrets Manager)
@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """boto3 pointed at the moto server (emulated AWS) for this test."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    import boto3

    return boto3.session.Session(region_name="us-east-1")


def versioned_media_behind_a_distribution(aws, prefix: str) -> tuple[str, str, str]:
    """A versioned media bucket (as the storage stack makes it), a CloudFront distribution in
    front of it, and an SSM parameter holding the distribution's id (as the app stack writes
    it), on moto: (bucket, distribution id, parameter name)."""
    s3, cloudfront = aws.client("s3"), aws.client("cloudfront")
    bucket = f"{prefix}-{time.time_ns()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": bucket, "Comment": "media", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "media", "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "media", "ViewerProtocolPolicy": "redirect-to-https",
                                 "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                                 "MinTTL": 0},
    })["Distribution"]["Id"]
    parameter = f"/game/{bucket}/cdn"
    aws.client("ssm").put_parameter(Name=parameter, Value=distribution, Type="String")
    return bucket, distribution, parameter


@pytest.fixture
def queues(aws):
    """A job queue of the test's own on moto's SQS, with its dead-letter queue and a redrive
    policy (3 receives) as the storage stack makes them: (client, queue URL, dead-letter URL)."""
    sqs = aws.client("sqs")
    name = f"jobs-{uuid.uuid4().hex[:12]}"
    dlq = sqs.create_queue(QueueName=f"{name}-dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "5",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    })["QueueUrl"]
    return sqs, url, dlq


# the workers' settings against that queue: its 5 s visibility, 3 receives, no backoff, no long poll
JOB_SETTINGS = dict(job_visibility_seconds=5, job_max_receives=3, job_backoff_base_seconds=0, job_wait_seconds=0)


@pytest.fixture
def queued(make_client, queues):
    """The app with a job queue (``queues``): (client, its settings, its storage, sqs, queue URL)."""
    sqs, url, _ = queues
    client = make_client(job_queue_url=url, **JOB_SETTINGS)
    svc = client.app.state.services
    return client, svc.settings, svc.storage, sqs, url


# ---------------------------------------------------------------- the app in-process
@pytest.fixture(autouse=True)
def _reset_clock():
    clock.reset()
    yield
    clock.reset()


@pytest.fixture
def make_settings(pg_url, tmp_path, fake_graph):
    def make(**overrides) -> Settings:
        kw = dict(
            env="test",
            database_url=pg_url,
            session_secret=SESSION_SECRET,
            media_dir=str(tmp_path / "media"),
            facebook_app_id=FB_APP_ID,
            facebook_app_secret=FB_APP_SECRET,
            facebook_graph_url=fake_graph.url,
            rate_limit_writes=10_000,
            signup_limit_per_address=1_000_000,  # every test signs its players up from one address
            public_base_url="https://game.example.test",
        )
        kw.update(overrides)
        return Settings(**kw).resolve_secrets()

    return make


@pytest.fixture
def make_client(make_settings):
    clients = []

    def make(**overrides) -> TestClient:
        c = TestClient(create_app(make_settings(**overrides)), raise_server_exceptions=False)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


def start_of_a_rate_window() -> None:
    """Move the game clock 0.5 s into the next fixed rate-limit window (60 s): writes made
    before do not count, and the wall clock cannot cross into another window mid-test."""
    clock.advance(60 - (clock.now_ms() % 60_000) / 1000 + 0.5)


class Player:
    def __init__(self, client, body):
        self.client = client
        self.token = body["token"]
        self.id = body["player"]["id"]
        self.h = {"Authorization": f"Bearer {self.token}"}

    def get(self, path, **kw):
        return self.client.get(path, headers={**self.h, **kw.pop("headers", {})}, **kw)

    def post(self, path, **kw):
        return self.client.post(path, headers={**self.h, **kw.pop("headers", {})}, **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers={**self.h, **kw.pop("headers", {})}, **kw)

    def state(self) -> dict:
        r = self.get("/api/me")
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(params=[False, True], ids=["no-key", "key"])
def keyed(request) -> bool:
    """Every write endpoint runs both ways: without and with an Idempotency-Key."""
    return request.param


def post(p: Player, path: str, keyed: bool, key: str | None = None, **kw):
    """POST as ``p``, with a fresh Idempotency-Key (or ``key``) when ``keyed``."""
    headers = {"Idempotency-Key": key or uuid.uuid4().hex} if keyed else {}
    return p.post(path, headers=headers, **kw)


def sign_in_guest(client, name: str | None = None) -> Player:
    r = client.post("/api/auth/guest", json={"name": name} if name else None)
    assert r.status_code == 201, r.text
    return Player(client, r.json())


def befriend(a: Player, b: Player) -> None:
    r = a.post("/api/friends/requests", json={"player_id": b.id})
    assert r.status_code == 201, r.text
    r = b.post(f"/api/friends/requests/{r.json()['request_id']}/accept")
    assert r.status_code == 200, r.text


def ledger_sum(db, player_id: int) -> int:
    return db.execute("SELECT COALESCE(SUM(delta), 0) FROM ledger WHERE player_id = %s", (player_id,)).fetchone()[0]


def coins_of(db, player_id: int) -> int:
    return db.execute("SELECT coins FROM players WHERE id = %s", (player_id,)).fetchone()[0]


# ---------------------------------------------------------------- the real server (gunicorn)
class LiveServer:
    """``python -m game_service serve`` in a subprocess; ``root`` is the directory holding
    ``game_service/`` (this checkout, or an older release exported by a test)."""

    def __init__(self, env: dict, workers: int = 2, log_level: str = "WARNING", root: Path = REPO):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {
            **os.environ,
            "PYTHONPATH": str(root),
            "GAME_PORT": str(self.port),
            "GAME_BIND": "127.0.0.1",
            "GAME_WORKERS": str(workers),
            "GAME_LOG_LEVEL": log_level,
            # every test signs its players up from 127.0.0.1; the tests of the limit set their own
            "GAME_SIGNUP_LIMIT_PER_ADDRESS": "1000000",
            **env,
        }
        self.log_path = Path(env.get("GAME_MEDIA_DIR", "/tmp")).parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "game_service", "serve"], env=full, stdout=self.log, stderr=subprocess.STDOUT,
            cwd=str(root), start_new_session=True,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"server exited: {self.log.read()[-3000:]}")
            try:
                if httpx.get(self.url + "/api/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not become live in 30 s")

    def pids(self) -> set[int]:
        """The master's and its workers' process ids (to tell that nothing restarted)."""
        kids = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:  # field 4 of /proc/<pid>/stat: the parent
                kids.add(int(stat.parent.name))
        return {self.proc.pid} | kids

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def crash(self) -> None:
        """SIGKILL the server's own process group (master and workers): a machine dying."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def live_server(pg_url, tmp_path_factory, fake_graph):
    media = tmp_path_factory.mktemp("live") / "media"
    server = LiveServer(
        {
            "GAME_DATABASE_URL": pg_url,
            "GAME_SESSION_SECRET": SESSION_SECRET,
            "GAME_MEDIA_DIR": str(media),
            "GAME_RATE_LIMIT_WRITES": "100000",
            "GAME_SIGNUP_LIMIT_PER_ADDRESS": "1000000",
            "GAME_FACEBOOK_GRAPH_URL": fake_graph.url,
            "GAME_FACEBOOK_APP_ID": FB_APP_ID,
            "GAME_FACEBOOK_APP_SECRET": FB_APP_SECRET,
            # hundreds of simultaneous requests on one row queue for the pool: these tests are
            # about correctness under contention, not about shedding load on a busy machine
            "GAME_DB_POOL_TIMEOUT_SECONDS": "30",
        }
    )
    yield server
    server.stop()
