"""What coins build, and the daily reward's streak.

The castle: level n costs ``n * castle_price`` coins (rules.castle_price). An upgrade locks
the player's row, then pays by a conditional update (``coins >= price``) with its ledger row,
and moves the castle from the level it read to the next one (``level = :read``), all in one
transaction: two upgrades at once pay two different prices, never the same one twice.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service import rules
from game_service.core import clock
from game_service.core.config import Settings
from game_service.errors import conflict, not_found
from game_service.models import castles, daily_rewards, players, recovery_codes
from game_service.repository.economy import energy_now, energy_params
from game_service.repository.writes import PID, insert_for, ledger_entry, reader, Write

p = players
STREAK_LOOKBACK_DAYS = 366


def castle_view(level: int, s: Settings) -> dict:
    return {"level": level, "max_level": s.castle_max_level, "next_price": rules.castle_price(level, s)}


async def _castle_level(conn: AsyncConnection, player_id: int) -> int:
    q = sa.select(castles.c.level).where(castles.c.player_id == player_id)
    return (await conn.execute(q)).scalar_one_or_none() or 0


def upgrade_castle(s: Settings, player_id: int) -> Write:
    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        # one upgrade at a time per player: the next price depends on the level read here
        locked = (await conn.execute(sa.select(p.c.id).where(p.c.id == player_id).with_for_update())).first()
        if locked is None:
            raise not_found("player")
        level = await _castle_level(conn, player_id)
        price = rules.castle_price(level, s)
        if price is None:
            raise conflict("castle_complete", "your castle is complete")
        paid = (
            await conn.execute(
                sa.update(p).where(p.c.id == player_id, p.c.coins >= price)
                .values(coins=p.c.coins - price).returning(p.c.coins)
            )
        ).scalar_one_or_none()
        if paid is None:
            raise conflict("insufficient_coins", "not enough coins")
        now = clock.utcnow()
        if level == 0:
            move = (insert_for(conn.dialect.name, castles).values(player_id=player_id, level=1, updated_at=now)
                    .on_conflict_do_nothing())
        else:
            move = (sa.update(castles).where(castles.c.player_id == player_id, castles.c.level == level)
                    .values(level=level + 1, updated_at=now))
        if (await conn.execute(move.returning(castles.c.level))).first() is None:
            # cannot happen under the row lock; the transaction rolls back: never pay for nothing
            raise conflict("castle_changed", "your castle changed meanwhile; try again")
        await conn.execute(ledger_entry(player_id, -price, paid, "castle"), {"op_key": op_key})
        return 200, {"coins_spent": price, "coins": paid, "castle": castle_view(level + 1, s)}

    return Write("castle", steps)


_PROGRESS = sa.select(p.c.coins, energy_now()[0].label("energy")).where(p.c.id == PID)


async def progress(engine: AsyncEngine, s: Settings, player_id: int) -> dict:
    """The castle, the daily reward (streak, when the next one comes), the energy shop, the
    refill period, and whether the player has a recovery code."""
    now = clock.now_ms()
    today = clock.today()
    async with reader(engine).connect() as conn:
        row = (await conn.execute(_PROGRESS, {**energy_params(s, now), "pid": player_id})).one_or_none()
        if row is None:
            raise not_found("player")
        level = await _castle_level(conn, player_id)
        has_recovery_code = (
            await conn.execute(sa.select(recovery_codes.c.player_id).where(recovery_codes.c.player_id == player_id))
        ).first() is not None
        days = (
            await conn.execute(
                sa.select(daily_rewards.c.day)
                .where(daily_rewards.c.player_id == player_id,
                       daily_rewards.c.day > today - dt.timedelta(days=STREAK_LOOKBACK_DAYS))
                .order_by(daily_rewards.c.day.desc())
            )
        ).scalars().all()
    claimed_today = bool(days) and days[0] == today
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    return {
        "castle": castle_view(level, s),
        "daily": {
            "available": not claimed_today,
            "coins": s.daily_reward_coins,
            "streak": rules.daily_streak(list(days), today),
            "next_at": tomorrow.isoformat() if claimed_today else None,
            "next_in_seconds": int(tomorrow.timestamp() - now / 1000) if claimed_today else 0,
        },
        "energy_pack": {
            "price": s.energy_pack_price,
            "amount": s.energy_pack_amount,
            "fits": rules.pack_fits(row.energy, s.energy_pack_amount, s.energy_cap),
            "affordable": row.coins >= s.energy_pack_price,
        },
        "energy_refill_seconds": s.energy_refill_seconds,
        "action_energy_cost": s.action_energy_cost,
        "recovery_code": has_recovery_code,
    }
