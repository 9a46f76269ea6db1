"""The wallet and the energy bar: actions, energy packs, the daily reward, credits."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from game_service import rules
from game_service.core import clock
from game_service.core.config import Settings
from game_service.errors import GameError, conflict, not_found
from game_service.models import daily_rewards, players
from game_service.repository.writes import (
    NOW,
    PID,
    PLAYER_COLS,
    Chain,
    Write,
    insert_for,
    ledger_entry,
    raise_missing_or,
)

p = players

# the settings a statement needs, as parameters: every statement is built once
CAP = sa.bindparam("cap", type_=sa.Integer)
REFILL_MS = sa.bindparam("refill_ms", type_=sa.BigInteger)


def energy_params(s: Settings, now: int) -> dict:
    return {"now": now, "cap": s.energy_cap, "refill_ms": s.energy_refill_seconds * 1000}


def energy_now() -> tuple[Any, Any]:
    """The player's energy as of ``:now`` and its reference time (rules.energy_now)."""
    return rules.energy_now(p.c.energy, p.c.energy_at, NOW, CAP, REFILL_MS)


def credit(amount: Any, *, gift_claimed: bool = False) -> sa.Update:
    """Add ``amount`` coins to player ``:pid`` (one fewer gift waiting when it is a gift);
    RETURNING its id and new balance."""
    values: dict = {"coins": p.c.coins + amount}
    if gift_claimed:
        values["gifts_waiting"] = p.c.gifts_waiting - 1
    return sa.update(p).where(p.c.id == PID).values(**values).returning(p.c.id, p.c.coins)


# ---------------------------------------------------------------- actions
COST = sa.bindparam("cost", type_=sa.Integer)
EARN = sa.bindparam("earn", type_=sa.Integer)
XP = sa.bindparam("xp", type_=sa.Integer)
NO_ENERGY = ("no_energy", "not enough energy; wait for it to refill")


def _spend_energy(gate: Any) -> sa.Update:
    """Spend ``:cost`` energy (refilled as of ``:now``) for ``:earn`` coins and ``:xp`` XP."""
    cur, at = energy_now()
    return (
        sa.update(p)
        .where(p.c.id == PID, cur >= COST, gate)
        .values(energy=cur - COST, energy_at=at, coins=p.c.coins + EARN, xp=p.c.xp + XP)
        .returning(*PLAYER_COLS)
    )


ACT = Chain(_spend_energy, (lambda upd: ledger_entry(upd.c.id, EARN, upd.c.coins, "action"),))


def action(s: Settings, player_id: int) -> Write:
    now = clock.now_ms()
    params = {**energy_params(s, now), "pid": player_id, "cost": s.action_energy_cost, "earn": s.action_coins,
              "xp": s.action_xp}

    async def finish(conn: AsyncConnection, row: Any) -> tuple[int, dict]:
        if row is None:
            await raise_missing_or(conn, player_id, conflict(*NO_ENERGY))
        return 200, {
            "coins_earned": s.action_coins,
            "xp_earned": s.action_xp,
            "energy_spent": s.action_energy_cost,
            "player": rules.player_view(row, s, now),
        }

    return Write.of_chain("action", ACT, params, finish)


# ---------------------------------------------------------------- energy packs
PRICE = sa.bindparam("price", type_=sa.Integer)
PACK = sa.bindparam("pack", type_=sa.Integer)


def _sell_pack(gate: Any) -> sa.Update:
    """Sell player ``:pid`` a pack of ``:pack`` energy for ``:price`` coins, if it fits under the cap."""
    cur, at = energy_now()
    return (
        sa.update(p)
        .where(p.c.id == PID, p.c.coins >= PRICE, rules.pack_fits(cur, PACK, CAP), gate)
        .values(coins=p.c.coins - PRICE, energy=cur + PACK, energy_at=at)
        .returning(*PLAYER_COLS)
    )


ENERGY_PACK = Chain(_sell_pack, (lambda upd: ledger_entry(upd.c.id, -PRICE, upd.c.coins, "energy_pack"),))
_WALLET_AND_ENERGY = sa.select(p.c.coins, energy_now()[0].label("energy")).where(p.c.id == PID)


async def _pack_refused(conn: AsyncConnection, s: Settings, params: dict) -> GameError:
    """Why a pack was not sold: no such player, too few coins, or no room under the cap."""
    row = (await conn.execute(_WALLET_AND_ENERGY, params)).one_or_none()
    if row is None:
        return not_found("player")
    if row.coins < s.energy_pack_price:
        return conflict("insufficient_coins", "not enough coins")
    return conflict(
        "energy_full",
        f"no room for {s.energy_pack_amount} more energy: packs never fill the bar past {s.energy_cap}",
    )


def buy_energy(s: Settings, player_id: int) -> Write:
    now = clock.now_ms()
    params = {**energy_params(s, now), "pid": player_id, "price": s.energy_pack_price, "pack": s.energy_pack_amount}

    async def finish(conn: AsyncConnection, row: Any) -> tuple[int, dict]:
        if row is None:
            raise await _pack_refused(conn, s, params)
        return 200, {
            "coins_spent": s.energy_pack_price,
            "energy_added": s.energy_pack_amount,
            "player": rules.player_view(row, s, now),
        }

    return Write.of_chain("energy_pack", ENERGY_PACK, params, finish)


# ---------------------------------------------------------------- the daily reward
async def credit_coins(conn: AsyncConnection, player_id: int, amount: int, reason: str, op_key: str,
                       gift_claimed: bool = False) -> int:
    """Credit ``amount`` coins with its ledger row; return the new balance."""
    row = (await conn.execute(credit(sa.literal(amount, sa.BigInteger), gift_claimed=gift_claimed),
                              {"pid": player_id})).one_or_none()
    if row is None:
        raise not_found("player")
    await conn.execute(ledger_entry(player_id, amount, row.coins, reason), {"op_key": op_key})
    return row.coins


def daily_reward(s: Settings, player_id: int) -> Write:
    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        day = clock.today()
        got = (
            await conn.execute(
                insert_for(conn.dialect.name, daily_rewards)
                .values(player_id=player_id, day=day, coins=s.daily_reward_coins)
                .on_conflict_do_nothing()
                .returning(daily_rewards.c.day)
            )
        ).first()
        if got is None:
            raise conflict("already_claimed", "the daily reward was already claimed today (UTC)")
        coins = await credit_coins(conn, player_id, s.daily_reward_coins, "daily_reward", f"daily:{day.isoformat()}")
        return 200, {"coins_earned": s.daily_reward_coins, "coins": coins, "day": day.isoformat()}

    return Write("daily", steps)
