"""The engine's two modes over one pool (game_service/db.py), on real PostgreSQL: the pool's
connections are in autocommit for the one-statement reads and writes, and ``engine.begin()``
is a real transaction. One pooled connection serves both in turn, so a transaction's mode can
never leak into the next checkout."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from game_service.db import fetch_one, make_engine
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
