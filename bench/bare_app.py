"""The bare reference app of the service benchmark: what the stack itself costs.

The same FastAPI, uvicorn, gunicorn and psycopg as the game service, and nothing else: no
middleware, no SQLAlchemy, no authentication, no logging; one psycopg connection pool of
BARE_POOL_SIZE (default 10) per worker. bench/service_bench.py runs it next to the service
(`gunicorn bench.bare_app:app -k uvicorn_worker.UvicornWorker`) on the same database.

  GET  /bare/select1          SELECT 1
  GET  /bare/players/{id}     one primary-key read of a player
  POST /bare/players/{id}/earn  UPDATE ... RETURNING + ledger INSERT in one transaction
"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool

POOL_SIZE = int(os.environ.get("BARE_POOL_SIZE", "10"))


@asynccontextmanager
async def lifespan(app: FastAPI):
    pool = AsyncConnectionPool(
        os.environ["BARE_DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE, open=False
    )
    await pool.open(wait=True)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/bare/select1")
async def select1():
    async with app.state.pool.connection() as conn:
        row = await (await conn.execute("SELECT 1")).fetchone()
    return JSONResponse({"status": "ok", "db": row[0]})


@app.get("/bare/players/{pid}")
async def read_player(pid: int):
    async with app.state.pool.connection() as conn:
        row = await (
            await conn.execute("SELECT id, name, coins, energy, energy_at, xp FROM players WHERE id = %s", (pid,))
        ).fetchone()
    if row is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return JSONResponse(dict(zip(("id", "name", "coins", "energy", "energy_at", "xp"), row)))


@app.post("/bare/players/{pid}/earn")
async def earn(pid: int):
    async with app.state.pool.connection() as conn:  # one transaction, committed on exit
        row = await (
            await conn.execute("UPDATE players SET coins = coins + 1, xp = xp + 1 WHERE id = %s RETURNING coins", (pid,))
        ).fetchone()
        if row is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        await conn.execute(
            "INSERT INTO ledger (player_id, delta, balance_after, reason, op_key) VALUES (%s, 1, %s, 'bare', %s)",
            (pid, row[0], uuid.uuid4().hex),
        )
    return JSONResponse({"coins": row[0]})
