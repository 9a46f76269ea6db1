"""The whole API driven by its own OpenAPI document (schemathesis), over real HTTP against the
real server (gunicorn, 2 workers, real PostgreSQL; Facebook's Graph API is the local fake).

Every check schemathesis has (``--checks all``: no server errors, status codes, content types
and headers as documented, response bodies matching their schemas, schema-valid requests
accepted, schema-violating ones refused, ...) over every phase: coverage (boundary values of
every constraint), fuzzing, and stateful sequences that follow the document's links
(sign-up -> friend request -> cancel, friends -> accept / gift / remove, inbox -> claim,
upload form -> confirm). The signed-in player starts with friends who sent gifts and with
pending requests, so those links reach real friends, requests and gifts.

Bounded and repeatable: a fixed number of examples per operation and schemathesis's
deterministic generation; about 1,100 cases, two minutes on a 2-core machine. Signing out is
left out: it would revoke the run's own session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.game_service.conftest import FB_APP_ID, FB_APP_SECRET, SESSION_SECRET, LiveServer

pytestmark = pytest.mark.slow(seconds=75)  # the whole file, idle 2-core machine

EXAMPLES_PER_OPERATION = 10
FRIENDS_WITH_GIFTS = 25
PENDING_REQUESTS = 15


def _world(url: str) -> str:
    """A signed-in player with friends who each sent a gift today, and pending requests."""
    me = httpx.post(url + "/api/auth/guest").json()
    pid, mine = me["player"]["id"], {"Authorization": f"Bearer {me['token']}"}
    for i in range(FRIENDS_WITH_GIFTS + PENDING_REQUESTS):
        f = httpx.post(url + "/api/auth/guest").json()
        theirs = {"Authorization": f"Bearer {f['token']}"}
        r = httpx.post(url + "/api/friends/requests", json={"player_id": pid}, headers=theirs)
        assert r.status_code == 201, r.text
        if i < FRIENDS_WITH_GIFTS:
            assert httpx.post(url + f"/api/friends/requests/{r.json()['request_id']}/accept", headers=mine).status_code == 200
            assert httpx.post(url + "/api/gifts", json={"to_player_id": pid}, headers=theirs).status_code == 201
    return me["token"]


def test_the_api_conforms_to_its_openapi_document(pg_url, tmp_path, fake_graph):
    server = LiveServer({
        "GAME_DATABASE_URL": pg_url, "GAME_SESSION_SECRET": SESSION_SECRET, "GAME_MEDIA_DIR": str(tmp_path / "media"),
        "GAME_RATE_LIMIT_WRITES": "1000000", "GAME_FACEBOOK_GRAPH_URL": fake_graph.url,
        "GAME_FACEBOOK_APP_ID": FB_APP_ID, "GAME_FACEBOOK_APP_SECRET": FB_APP_SECRET,
        "GAME_DB_POOL_TIMEOUT_SECONDS": "30",
        # the live stream (GET /api/events) answers for a second, then ends: a case, not a wait
        "GAME_EVENTS_STREAM_SECONDS": "1",
    })
    try:
        token = _world(server.url)
        cli = Path(sys.executable).parent / "schemathesis"
        r = subprocess.run(
            [str(cli), "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run", server.url + "/api/openapi.json", "--checks", "all", "--workers", "1",
             "--max-examples", str(EXAMPLES_PER_OPERATION), "--generation-deterministic",
             "--header", f"Authorization: Bearer {token}", "--exclude-path", "/api/auth/sign-out",
             "--continue-on-failure", "--max-failures", "1000", "--request-timeout", "30", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"},
        )
    finally:
        server.stop()
    out = r.stdout
    summary = re.search(r"Test cases:\s*\n\s*(\d+) generated[^\n]*", out)
    links = re.search(r"API Links:\s*([^\n]*)", out)
    print(f"\nschemathesis: {summary.group(0).split(chr(10))[-1].strip() if summary else '?'}; "
          f"links {links.group(1).strip() if links else '?'}")
    assert summary and int(summary.group(1)) >= 500, out[-3000:]
    assert links and not links.group(1).startswith("0 covered"), "the stateful phase followed the links"
    failures = [
        line.strip()[:300] for line in out.splitlines()
        if re.match(r"^_{3,} .+ _{3,}$", line) or re.match(r"^\s*- ST\d+ ", line) or re.match(r"^\s*\[\d{3}\] ", line)
        or "Expected:" in line or re.match(r"^\s*`\{", line)
    ]
    assert r.returncode == 0, "\n".join(failures)[:8000] or out[-4000:]
