"""Async SQLAlchemy engine (psycopg 3 for PostgreSQL, aiosqlite for the local default).

On PostgreSQL each new connection computes its credentials when it opens (``db_auth``:
a fixed URL, a Secrets Manager secret re-read after a rotation, or an RDS IAM token), and
a pooled connection is checked before use (``pool_pre_ping``), so a failover or a
terminated backend costs a reconnect, not a failed request.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from game_service import outage
from game_service.config import ConfigError, Settings
from game_service.db_auth import credentials_for, is_auth_failure

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
    engine = create_async_engine(
        "postgresql+psycopg://",
        async_creator=make_async_creator(creds, settings),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
        # prepared statements server-side after 5 uses (psycopg default); keep it
    )
    # a connection handed out (pre-pinged, or just opened) ends an outage; a cheap no-op otherwise
    event.listen(engine.sync_engine, "checkout", lambda *_: outage.recovered())
    engine.sync_engine._game_credentials = creds  # type: ignore[attr-defined]  # tests read counters
    return engine
