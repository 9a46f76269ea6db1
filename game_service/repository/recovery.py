"""Recovery codes: a guest copies one, and later redeems it on another device for a session.

Only the code's SHA-256 is stored (nor is the answer kept for an Idempotency-Key: a replay of
the key is a 409 ``recovery_code_issued``). A code has 100 random bits, so guessing is hopeless
without a rate limit; it works until the player makes a new one (which replaces it)."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service.core import clock
from game_service.errors import GameError
from game_service.models import recovery_codes
from game_service.repository.writes import Write, insert_for, reader

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols, no 0/O or 1/I look-alikes
GROUPS, GROUP_LEN = 4, 5  # 20 symbols = 100 bits
# a replay of a code's Idempotency-Key: the code is shown once and kept nowhere in plaintext
ISSUED = GameError(409, "recovery_code_issued",
                   "this request already made a recovery code, which is shown only once; make a new one")


def normalize(code: str) -> str:
    """What the player typed, without spaces or dashes, upper case."""
    return "".join(ch for ch in code.upper() if ch not in " -\t")


def _hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def new_code(player_id: int) -> Write:
    """A fresh code for the player; any earlier one stops working."""

    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
        code = "-".join(raw[i:i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))
        stmt = insert_for(conn.dialect.name, recovery_codes).values(
            player_id=player_id, code_hash=_hash(code), created_at=clock.utcnow()
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[recovery_codes.c.player_id],
                set_={"code_hash": stmt.excluded.code_hash, "created_at": stmt.excluded.created_at},
            )
        )
        return 201, {"code": code}

    return Write("recovery_code", steps, secret_replay=ISSUED)


async def redeem(engine: AsyncEngine, code: str) -> int | None:
    """The player a recovery code belongs to, if any."""
    async with reader(engine).connect() as conn:
        q = sa.select(recovery_codes.c.player_id).where(recovery_codes.c.code_hash == _hash(code))
        return (await conn.execute(q)).scalar_one_or_none()

