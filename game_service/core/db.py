"""Async SQLAlchemy engine (psycopg 3 for PostgreSQL, aiosqlite for the local default).

On PostgreSQL each new connection computes its credentials when it opens (``db_auth``:
a fixed URL, a Secrets Manager secret re-read after a rotation, or an RDS IAM token), and
a pooled connection is checked before use without a round trip (:func:`_check_out`): a
backend the server has ended (failover, restart, ``pg_terminate_backend``) has already
sent its goodbye and closed the socket, so the socket is readable; such a connection is
replaced, and a failover or a terminated backend costs a reconnect, not a failed request.

The hot statements (the state read, the one-statement action and gift claim) run through
:func:`execute_one`: on PostgreSQL the statement (SQLAlchemy Core, compiled once) runs on
the pooled psycopg connection itself.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import select
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import namedtuple_row
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg import PGDialectAsync_psycopg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import greenlet_spawn

from game_service.core import outage
from game_service.core.config import ConfigError, Settings
from game_service.core.db_auth import credentials_for, is_auth_failure

log = logging.getLogger("game_service.db")


def make_async_creator(creds, settings: Settings):
    """An ``async_creator``: fresh credentials per connect, one retry after an auth failure."""
    # psycopg bounds the connect itself (connect_timeout); this is a backstop for DNS and
    # for reading the secret or making the token.
    deadline = settings.db_connect_timeout_seconds + 2

    async def connect_once(params: dict) -> psycopg.AsyncConnection:
        return await asyncio.wait_for(psycopg.AsyncConnection.connect(**params), deadline)

    async def credentials(fn, *args) -> dict | None:
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), deadline)
        except (ConfigError, asyncio.TimeoutError) as exc:  # e.g. Secrets Manager unreachable
            raise outage.DatabaseUnavailable(f"cannot get database credentials: {exc}") from exc

    async def creator() -> psycopg.AsyncConnection:
        params = await credentials(creds.params)
        try:
            conn = await connect_once(params)
        except psycopg.OperationalError as exc:
            if not is_auth_failure(exc):
                raise
            fresh = await credentials(creds.after_auth_failure, params)
            if fresh is None:
                raise
            log.warning("database rejected the credentials; connecting again with the secret just re-read")
            conn = await connect_once(fresh)
        except asyncio.TimeoutError as exc:
            raise outage.DatabaseUnavailable(f"connect did not finish in {deadline} s") from exc
        return conn

    return creator


def listener_connect(settings: Settings) -> Callable[[], Awaitable[psycopg.AsyncConnection]]:
    """How the live-updates listener (core/live.py) opens its connection: as the pool does
    (the same credentials, refreshed the same way), outside the pool."""
    return make_async_creator(credentials_for(settings), settings)


def make_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(settings.async_database_url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - local play
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    creds = credentials_for(settings)
    # The pool's connections stay in autocommit: the one-statement reads and writes (the hot
    # path, ``repository.writes.reader``) then need no BEGIN/COMMIT and nothing is set or
    # reset per checkout. What the service uses by default is this pool with transactions
    # (READ COMMITTED, PostgreSQL's default): ``engine.begin()`` is one transaction.
    auto = create_async_engine(
        "postgresql+psycopg://",
        async_creator=make_async_creator(creds, settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
        isolation_level="AUTOCOMMIT",
        # psycopg prepares a statement server-side after its 5th use on a connection (its
        # default): the hot statements are then parsed and planned once per connection
    )
    event.listen(auto.sync_engine, "checkout", _check_out)
    engine = auto.execution_options(isolation_level="READ COMMITTED")
    engine.sync_engine._game_autocommit = auto  # type: ignore[attr-defined]  # writes.reader
    for e in (auto, engine):
        e.sync_engine._game_credentials = creds  # type: ignore[attr-defined]  # tests read counters
    return engine


def _server_hung_up(conn: psycopg.AsyncConnection) -> bool:
    """True when the server side of an idle connection is gone, without a round trip.

    An idle connection in the pool has nothing to read: anything readable (the FATAL
    message a terminated backend sends, end of file, an error) means it must not be used.
    """
    if conn.closed or conn.broken:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _check_out(dbapi_conn, record, _proxy) -> None:
    """Pool checkout (SQLAlchemy's "pessimistic" recipe, instead of a ``SELECT 1`` ping per
    checkout, docs/decisions.md "Database connections"): a connection whose server hung up is
    replaced (DisconnectionError: the pool discards it and opens a new one). A connection
    handed out ends an outage (a cheap no-op otherwise)."""
    if _server_hung_up(record.driver_connection):
        raise sa.exc.DisconnectionError("the server closed the connection")
    outage.recovered()


@functools.lru_cache(maxsize=None)
def _psycopg_sql(stmt: sa.Executable) -> tuple[str, dict]:
    """A statement compiled once for psycopg: its SQL and its literal parameters."""
    compiled = stmt.compile(dialect=PGDialectAsync_psycopg())
    return compiled.string, {k: v for k, v in compiled.params.items() if v is not None}


async def execute_one(conn: AsyncConnection, stmt: sa.Executable, params: dict) -> Any:
    """The first row (or None) of ``stmt`` executed on ``conn``.

    On PostgreSQL the statement runs on the pooled psycopg connection itself (compiled
    once; rows are named tuples): SQLAlchemy's execution layer costs as much CPU as the
    rest of a hot request (bench/profile_service.py). Errors are SQLAlchemy's, as from
    ``conn.execute``; after a disconnect or an interruption (a cancelled request) the
    connection is discarded, never handed out again. Elsewhere (SQLite) it is
    ``conn.execute``."""
    if conn.dialect.name != "postgresql":
        return (await conn.execute(stmt, params)).first()
    sync = conn.sync_connection
    # the checked-out connection itself (get_raw_connection() would cost a greenlet switch);
    # an invalidated one is reconnected by SQLAlchemy first
    pooled = await conn.get_raw_connection() if sync.invalidated else sync.connection
    return await _on_driver(pooled.driver_connection, stmt, params, conn.invalidate)


async def fetch_one(engine: AsyncEngine, stmt: sa.Executable, params: dict) -> Any:
    """The first row (or None) of ``stmt`` on a pooled connection of ``engine`` (an
    autocommit engine: ``repository.writes.reader``), as :func:`execute_one` runs it.

    On PostgreSQL the connection comes straight from the pool (its checkout check and
    credentials included), without a SQLAlchemy ``Connection`` around it."""
    if engine.dialect.name != "postgresql":
        async with engine.connect() as conn:
            return (await conn.execute(stmt, params)).first()
    pooled = await engine.raw_connection()
    try:
        return await _on_driver(pooled.driver_connection, stmt, params,
                                lambda exc: greenlet_spawn(pooled.invalidate, exc))
    finally:
        await greenlet_spawn(pooled.close)  # back to the pool (or closed, when invalidated)


async def _on_driver(pg: psycopg.AsyncConnection, stmt: sa.Executable, params: dict,
                     invalidate: Callable[[BaseException | None], Awaitable[None]]) -> Any:
    sql, defaults = _psycopg_sql(stmt)
    try:
        async with pg.cursor(row_factory=namedtuple_row) as cur:
            await cur.execute(sql, {**defaults, **params})
            return await cur.fetchone()
    except psycopg.Error as exc:
        lost = isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) or pg.broken
        if lost:
            await invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, params, exc, psycopg.Error, connection_invalidated=lost) from exc
    except BaseException:
        await invalidate(None)  # e.g. cancelled mid-statement: its state is unknown
        raise
