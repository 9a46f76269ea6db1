"""The engine's two modes over one pool (game_service/core/db.py), on real PostgreSQL: the pool's
connections are in autocommit for the one-statement reads and writes, and ``engine.begin()``
is a real transaction. One pooled connection serves both in turn, so a transaction's mode can
never leak into the next checkout."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from game_service.core.db import execute_one, fetch_one, make_engine
from game_service.repository.writes import reader

XACT = sa.select(sa.func.pg_current_xact_id().cast(sa.Text), sa.func.current_setting("transaction_isolation"))


def test_one_pooled_connection_serves_autocommit_reads_and_real_transactions_in_turn(make_settings, db):
    db.execute("CREATE TABLE IF NOT EXISTS db_mode_probe (n int)")
    db.execute("TRUNCATE db_mode_probe")

    async def scenario() -> None:
        engine = make_engine(make_settings(db_pool_size=1, db_max_overflow=0))
        try:
            for _ in range(2):
                # autocommit: each statement is a transaction of its own
                a, b = [await fetch_one(reader(engine), XACT, {}) for _ in range(2)]
                assert a[0] != b[0]
                # a transaction: one id across its statements, READ COMMITTED, and all or nothing
                async with engine.begin() as conn:
                    ids = {(await conn.execute(XACT)).one() for _ in range(2)}
                    assert len(ids) == 1 and ids.pop()[1] == "read committed"
                try:
                    async with engine.begin() as conn:
                        await conn.execute(sa.text("INSERT INTO db_mode_probe VALUES (1)"))
                        raise RuntimeError("the write fails half way")
                except RuntimeError:
                    pass
                assert engine.sync_engine.pool.checkedin() == 1  # the same connection every time
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    assert db.execute("SELECT count(*) FROM db_mode_probe").fetchone()[0] == 0, "the failed transaction rolled back"


PID = sa.select(sa.func.pg_backend_pid())


async def _through_fetch_one(engine, stmt):
    return await fetch_one(reader(engine), stmt, {})


async def _through_execute_one(engine, stmt):
    async with reader(engine).connect() as conn:
        return await execute_one(conn, stmt, {})


@pytest.mark.parametrize("run", [_through_fetch_one, _through_execute_one], ids=["fetch_one", "execute_one"])
def test_a_cancelled_statement_discards_its_connection_and_a_failed_one_keeps_it(make_settings, run):
    """A request cancelled mid-statement (the client went away, a timeout) leaves its
    connection in an unknown state: it is never handed out again, and the next request gets
    a working one at once. A statement that merely fails (an error from the server) keeps its
    connection, and the error is SQLAlchemy's, not marked as a lost connection."""

    async def scenario() -> None:
        engine = make_engine(make_settings(db_pool_size=1, db_max_overflow=0))
        try:
            first = (await run(engine, PID))[0]
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(run(engine, sa.select(sa.func.pg_sleep(10))), 0.3)
            second = (await asyncio.wait_for(run(engine, PID), 5))[0]
            assert second != first, "the cancelled statement's connection was replaced"
            with pytest.raises(sa.exc.DBAPIError) as err:
                await run(engine, sa.select(sa.literal(1) / sa.literal(0)))
            assert not err.value.connection_invalidated and "division by zero" in str(err.value)
            assert (await run(engine, PID))[0] == second, "a failed statement keeps its connection"
        finally:
            await engine.dispose()

    asyncio.run(scenario())
