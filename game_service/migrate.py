"""``python -m game_service migrate``: the once-per-deploy database step.

The host bootstrap runs it before the service starts (the service itself never migrates).
On PostgreSQL it:

1. connects as the admin (master) user from ``GAME_DB_ADMIN_SECRET_ID`` when set, else with
   the service's own database settings;
2. takes a session advisory lock, so replicas that start at once migrate exactly once (the
   others wait, then find the schema at head);
3. leaves the schema alone, logs one line and succeeds when the database is at a revision
   this code does not know: a rollback started the previous release after a newer release
   migrated, and expand/contract migrations keep that release working;
4. runs Alembic ``upgrade head`` (one transaction: PostgreSQL DDL is transactional);
5. makes sure the app's own role ``GAME_DB_USER`` exists with only the privileges it needs
   (read/write rows of the app's tables, use its sequences; the same for future tables
   through ALTER DEFAULT PRIVILEGES) and ``rds_iam`` when that role exists (on RDS).

``timeout`` bounds the whole step: waiting for the lock, and every statement (lock_timeout and
statement_timeout), so a migration blocked by a long transaction fails with a clear message
instead of hanging the deploy.

``alembic.ini`` ships inside the package, so this works from any working directory.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool, text
from sqlalchemy import exc as sa_exc

from game_service.core.config import Settings
from game_service.core.db_auth import admin_credentials_for

HERE = Path(__file__).resolve().parent
LOCK_KEY = 7_413_300_411  # arbitrary, constant for this application (same key as before)
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"

log = logging.getLogger("game_service.migrate")


class MigrateError(RuntimeError):
    """The migration could not run (timeout, database error); the message says why."""


def alembic_config(connection=None) -> Config:
    cfg = Config(str(HERE / "alembic.ini"))
    cfg.set_main_option("script_location", str(HERE / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def upgrade_head(settings: Settings, timeout: float = 300) -> str:
    """Schema only (tests, local play): no app role. See ``migrate``."""
    return migrate(settings, timeout=timeout, manage_role=False)


def migrate(settings: Settings, timeout: float = 300, manage_role: bool = True) -> str:
    """Run the deploy step; returns "upgraded" or "unknown_revision". Raises MigrateError."""
    if settings.is_sqlite:
        engine = create_engine(settings.sync_database_url, poolclass=pool.NullPool)
        try:
            with engine.connect() as conn:
                return _upgrade(conn)
        finally:
            engine.dispose()

    creds = admin_credentials_for(settings)
    deadline = time.monotonic() + timeout
    engine = create_engine("postgresql+psycopg://", creator=lambda: _connect(creds.params(), timeout),
                           poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _lock(conn, deadline, timeout)
            try:
                ms = max(1, int((deadline - time.monotonic()) * 1000))
                conn.execute(text(f"SET lock_timeout = {ms}"))
                conn.execute(text(f"SET statement_timeout = {ms}"))
                conn.commit()
                outcome = _upgrade(conn)
                if outcome == "upgraded" and manage_role:
                    _ensure_app_role(conn, settings.db_user)
                return outcome
            finally:
                if not conn.invalidated:
                    conn.rollback()
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                    conn.commit()
    except sa_exc.DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state in ("55P03", "57014"):  # lock_not_available, query_canceled (statement_timeout)
            raise MigrateError(
                f"migration did not finish within --timeout {timeout:g} s (a lock was held by another "
                f"session or a statement ran too long); nothing was changed: {exc.orig}"
            ) from None
        raise MigrateError(f"database error: {type(exc.orig).__name__}: {str(exc.orig).strip()}") from None
    finally:
        engine.dispose()


def _connect(params: dict, timeout: float) -> psycopg.Connection:
    """A session bounded from its first statement: the database's own statement_timeout (the
    parameter group's, for requests) never applies to this step, not even to the driver's
    first queries."""
    ms = max(1, int(timeout * 1000))
    options = f"{params.get('options', '')} -c statement_timeout={ms} -c lock_timeout={ms}".strip()
    return psycopg.connect(**{**params, "options": options})


def _lock(conn, deadline: float, timeout: float) -> None:
    waited = False
    while True:  # bounded by the deadline
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        conn.commit()
        if got:
            return
        if time.monotonic() >= deadline:
            raise MigrateError(f"another migrate held the migration lock for more than --timeout {timeout:g} s")
        if not waited:
            log.info("another migrate is running; waiting for it")
            waited = True
        time.sleep(0.2)


def _upgrade(conn) -> str:
    current = MigrationContext.configure(conn).get_current_heads()
    conn.commit()
    unknown = sorted(set(current) - known_revisions())
    if unknown:
        log.warning(
            f"database schema is at revision {', '.join(unknown)}, newer than this release knows "
            "(a newer release migrated it; expand/contract keeps this release working): schema left unchanged"
        )
        return "unknown_revision"
    command.upgrade(alembic_config(conn), "head")
    conn.commit()
    return "upgraded"


def _ensure_app_role(conn, role: str) -> None:
    me = conn.execute(text("SELECT current_user")).scalar()
    if me == role:
        log.info(f"migrate runs as the app role {role!r}; no grants to make")
        conn.commit()
        return
    q = conn.dialect.identifier_preparer.quote
    r = q(role)
    if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
        # no password: IAM mode signs in with tokens (rds_iam); in password mode the secret's
        # rotation sets it
        try:
            with conn.begin_nested():
                conn.execute(text(f"CREATE ROLE {r} LOGIN"))
            log.info(f"created the app role {role!r}")
        except sa_exc.ProgrammingError:  # created meanwhile by a migrate of another database
            pass
    db = conn.execute(text("SELECT current_database()")).scalar()
    for stmt in (
        f"GRANT CONNECT ON DATABASE {q(db)} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {r}",
        f"REVOKE ALL ON TABLE alembic_version FROM {r}",  # the schema version is the migrator's
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA public TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {TABLE_PRIVILEGES} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {r}",
    ):
        conn.execute(text(stmt))
    if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'")).first():
        conn.execute(text(f"GRANT rds_iam TO {r}"))
    conn.commit()
    log.info(f"app role {role!r}: privileges on the app's tables and sequences granted")
