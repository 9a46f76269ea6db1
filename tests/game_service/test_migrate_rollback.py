"""Rollback after a migration, for real: the previous release's code (exported from git)
runs against a database that this release migrated.

"The previous release" is the parent of the commit that added the newest migration (along
the first-parent line): the newest code that does not know the newest migration. Its
``migrate`` must leave the schema alone and exit 0 (no crash loop), and its server must serve the game on the expanded schema (expand/contract). PostgreSQL is the
shared test server (real); no AWS is involved.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

import httpx
import psycopg
import pytest
from alembic.script import ScriptDirectory

from game_service.core.config import Settings
from game_service.migrate import alembic_config, upgrade_head
from tests.game_service.conftest import REPO, SESSION_SECRET, LiveServer, create_database, drop_database

pytestmark = pytest.mark.slow


def git(*args: str) -> str:
    try:
        r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.fail("git is not installed: the rollback test needs the repository's history")
    if r.returncode != 0:
        pytest.fail(f"git {' '.join(args)} failed (the rollback test needs a full clone): {r.stderr.strip()}")
    return r.stdout


def export_previous_release(dest, head: str) -> str:
    """The release before the head migration: the parent of the commit that brought the head
    revision's file in, along the first-parent line (for a branch merged in, the merge commit;
    a later edit of the file, e.g. re-chaining it after a merge, does not count)."""
    if git("rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("shallow clone: the rollback test needs the full history (git fetch --unshallow)")
    versions = REPO / "game_service" / "migrations" / "versions"
    head_file = next(p for p in versions.glob("*.py") if f'revision = "{head}"' in p.read_text())
    added = git("log", "--first-parent", "--diff-filter=A", "-1", "--format=%H", "--",
                str(head_file.relative_to(REPO))).strip()
    if not added:
        pytest.fail(f"no commit added {head_file.name} in this history")
    previous = git("rev-parse", f"{added}^").strip()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", previous, "game_service"],
                             capture_output=True, timeout=60, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return previous


def test_the_previous_release_runs_on_a_database_this_release_migrated(tmp_path):
    old_root = tmp_path / "previous"
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    commit = export_previous_release(old_root, head)
    old_versions = "".join(p.read_text() for p in (old_root / "game_service/migrations/versions").glob("*.py"))
    assert f'revision = "{head}"' not in old_versions, "the previous release already knows head: nothing to test"

    url = create_database("gs_rollback")
    try:
        upgrade_head(Settings(database_url=url, session_secret="x"))
        env = {"GAME_DATABASE_URL": url, "GAME_SESSION_SECRET": SESSION_SECRET,
               "GAME_MEDIA_DIR": str(tmp_path / "media"), "GAME_RATE_LIMIT_WRITES": "100000"}
        with psycopg.connect(url) as conn:
            schema_before = conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' ORDER BY 1, 2").fetchall()

        # the previous release's deploy step: one clear line, exit 0, schema untouched
        r = subprocess.run([sys.executable, "-m", "game_service", "migrate", "--timeout", "60"],
                           env={**os.environ, **env, "PYTHONPATH": str(old_root)}, cwd=old_root,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"previous release {commit[:10]}: migrate exited {r.returncode}: {r.stderr[-3000:]}"
        lines = [line for line in r.stderr.splitlines() if "newer than this release knows" in line]
        assert len(lines) == 1 and head in lines[0], r.stderr[-3000:]
        assert "Traceback" not in r.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
            assert conn.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' ORDER BY 1, 2").fetchall() == schema_before

        # the previous release's server plays the game on the newer schema
        server = LiveServer(env, workers=2, root=old_root)
        try:
            assert "server-" in server.log_path.name
            r = httpx.post(server.url + "/api/auth/guest", timeout=15)
            assert r.status_code == 201, r.text
            h = {"Authorization": f"Bearer {r.json()['token']}"}
            r = httpx.post(server.url + "/api/actions", headers=h, timeout=15)
            assert r.status_code == 200, r.text
            assert r.json()["player"]["coins"] == 55
            assert httpx.get(server.url + "/api/me/ledger", headers=h, timeout=15).status_code == 200
        finally:
            assert server.stop() == 0
    finally:
        drop_database(url)
