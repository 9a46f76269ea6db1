"""``python -m game_service migrate`` as the host bootstrap runs it: bounded in time, clear
errors, exit codes. PostgreSQL is the shared test server (real)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
from psycopg import sql
import pytest

import sqlalchemy
from alembic import command

from game_service.migrate import LOCK_KEY, alembic_config
from tests.game_service.conftest import REPO, create_database, drop_database


def run_migrate(url: str, *args: str, **env) -> tuple[subprocess.CompletedProcess, float]:
    full = {**os.environ, "GAME_DATABASE_URL": url, "GAME_SESSION_SECRET": "s", "PYTHONPATH": str(REPO), **env}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "game_service", "migrate", *args], env=full, capture_output=True,
                       text=True, timeout=120, cwd=REPO)
    return r, time.monotonic() - t0


@pytest.fixture
def empty_db():
    url = create_database("gs_migcmd")
    yield url
    drop_database(url)


def test_migrate_waits_for_the_lock_at_most_its_timeout(empty_db):
    with psycopg.connect(empty_db, autocommit=True) as holder:  # another migrate, stuck
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        r, took = run_migrate(empty_db, "--timeout", "2")
    assert r.returncode == 1, r.stderr
    assert "held the migration lock for more than --timeout 2 s" in r.stderr and "Traceback" not in r.stderr
    assert took < 15
    with psycopg.connect(empty_db) as conn:  # nothing was done
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)


def test_a_migration_blocked_by_a_long_transaction_times_out_and_changes_nothing(empty_db):
    r, _ = run_migrate(empty_db)
    assert r.returncode == 0, r.stderr
    # back to 0002 (the later revisions' own downgrades): 0003, which indexes the ledger, is to run
    engine = sqlalchemy.create_engine(empty_db.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")
    engine.dispose()
    with psycopg.connect(empty_db) as holder:  # an app transaction that holds the ledger table
        holder.execute("LOCK TABLE ledger IN ROW EXCLUSIVE MODE")
        r, took = run_migrate(empty_db, "--timeout", "3")
        holder.rollback()
    assert r.returncode == 1, r.stderr
    assert "did not finish within --timeout 3 s" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert took < 20
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0002",)]
    r, _ = run_migrate(empty_db)  # and the next deploy finishes it
    assert r.returncode == 0, r.stderr


def test_bad_settings_and_arguments_are_clear_errors_naming_the_variable(empty_db):
    r, _ = run_migrate(empty_db, GAME_DB_CONNECT_TIMEOUT_SECONDS="soon")
    assert r.returncode == 2 and "GAME_DB_CONNECT_TIMEOUT_SECONDS" in r.stderr and "Traceback" not in r.stderr
    r, _ = run_migrate(empty_db, GAME_DB_AUTH="kerberos")
    assert r.returncode == 2 and "GAME_DB_AUTH" in r.stderr and "Traceback" not in r.stderr
    r, _ = run_migrate(empty_db, "--timeout", "-1")
    assert r.returncode == 2 and "--timeout" in r.stderr
    r, _ = run_migrate("postgresql://postgres@127.0.0.1:1/nope", "--timeout", "5")
    assert r.returncode == 1 and "database error" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_migrate_sets_its_own_bounds_over_the_servers_request_timeout(empty_db):
    """In AWS the parameter group gives every session statement_timeout 30 s (a stuck request
    cannot hold locks for ever); a schema change may take longer and sets its own. Here the
    database's default is 1 ms, which cancels any real statement."""
    with psycopg.connect(empty_db, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} SET statement_timeout = 1").format(
            sql.Identifier(admin.info.dbname)))
    with psycopg.connect(empty_db) as probe:  # the server's default does cancel a real statement
        with pytest.raises(psycopg.errors.QueryCanceled):
            probe.execute("SELECT pg_sleep(0.05)")
    r, _ = run_migrate(empty_db, "--timeout", "60")
    assert r.returncode == 0, r.stderr
    with psycopg.connect(empty_db) as conn:
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def test_a_database_a_newer_release_migrated_is_left_alone_by_this_releases_migrate(empty_db):
    """The rollback path: an older release boots against a schema a newer release migrated
    (expand/contract keeps it working). Its migrate must leave the schema alone and exit 0,
    with one line saying so, not crash-loop on a revision it does not know."""
    r, _ = run_migrate(empty_db)
    assert r.returncode == 0, r.stderr
    with psycopg.connect(empty_db) as conn:  # what a newer release's migration would leave
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_a_newer_release'")
        conn.execute("CREATE TABLE added_by_a_newer_release (id int)")
    r, _ = run_migrate(empty_db, "--timeout", "30")
    assert r.returncode == 0, r.stderr
    (line,) = [line for line in r.stderr.splitlines() if "newer than this release knows" in line]
    assert "9999_from_a_newer_release" in line and "Traceback" not in r.stderr
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999_from_a_newer_release",)]
        assert conn.execute("SELECT to_regclass('added_by_a_newer_release')").fetchone() != (None,)
