"""Players: sign-up, state, public profile, Facebook link, avatar, the ledger listing."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service import rules
from game_service.core import clock
from game_service.core.config import Settings
from game_service.core.db import fetch_one
from game_service.errors import conflict, not_found
from game_service.models import daily_rewards, ledger, players
from game_service.repository.economy import energy_now, energy_params
from game_service.core.security import Session
from game_service.repository.writes import PID, ledger_entry, player_exists, reader

p = players
__all__ = ["player_exists"]  # re-exported for the routes


async def create_player(engine: AsyncEngine, s: Settings, name: str | None, fb_user_id: str | None = None) -> int:
    async with engine.begin() as conn:
        pid = (
            await conn.execute(
                sa.insert(p)
                .values(
                    name=name or "Guest",
                    fb_user_id=fb_user_id,
                    coins=s.start_coins,
                    energy=s.energy_cap,
                    energy_at=clock.now_ms(),
                    xp=0,
                )
                .returning(p.c.id)
            )
        ).scalar_one()
        if not name:
            await conn.execute(sa.update(p).where(p.c.id == pid).values(name=f"Guest {pid}"))
        if s.start_coins:
            await conn.execute(ledger_entry(pid, s.start_coins, s.start_coins, "welcome", "welcome"))
    return pid


def _state_select() -> sa.Select:
    cur, at = energy_now()
    claimed = (
        sa.select(sa.literal(1))
        .where(daily_rewards.c.player_id == p.c.id, daily_rewards.c.day == sa.bindparam("today", type_=sa.Date))
        .exists()
    )
    return sa.select(
        p.c.id, p.c.name, p.c.fb_user_id, p.c.coins, cur.label("energy"), at.label("energy_at"), p.c.xp,
        p.c.avatar_key, p.c.gifts_waiting, claimed.label("daily_claimed"), p.c.session_gen,
    ).where(p.c.id == PID)


_STATE = _state_select()


async def get_state(engine: AsyncEngine, s: Settings, player_id: int, session: Session | None = None) -> dict:
    """The player's state in one primary-key read (and a primary-key probe of daily_rewards).

    With ``session`` (the caller's verified token), the same read checks it: a player who no
    longer exists or a signed-out token is the 401 of ``Session.check``."""
    now = clock.now_ms()
    params = {**energy_params(s, now), "pid": player_id, "today": clock.today()}
    row = await fetch_one(reader(engine), _STATE, params)
    if session is not None:
        session.check(None if row is None else row.session_gen)
    if row is None:
        raise not_found("player")
    view = rules.player_view(row, s, now)
    view["daily_reward_available"] = not row.daily_claimed
    view["daily_reward_coins"] = s.daily_reward_coins
    view["gifts_waiting"] = row.gifts_waiting
    return view


_SELECT_1 = sa.select(sa.literal_column("1"))


async def db_ping(engine: AsyncEngine) -> int:
    return (await fetch_one(reader(engine), _SELECT_1, {}))[0]


async def find_by_facebook(engine: AsyncEngine, fb_user_id: str) -> int | None:
    async with reader(engine).connect() as conn:
        return (await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id == fb_user_id))).scalar_one_or_none()


async def link_facebook(engine: AsyncEngine, player_id: int, fb_user_id: str) -> None:
    async with engine.begin() as conn:
        other = (await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id == fb_user_id))).scalar_one_or_none()
        if other is not None and other != player_id:
            raise conflict("facebook_in_use", "this Facebook account already belongs to another player")
        row = (
            await conn.execute(sa.select(p.c.fb_user_id).where(p.c.id == player_id).with_for_update())
        ).one_or_none()
        if row is None:
            raise not_found("player")
        if row.fb_user_id is not None and row.fb_user_id != fb_user_id:
            raise conflict("facebook_linked", "this player is already linked to another Facebook account")
        try:
            await conn.execute(sa.update(p).where(p.c.id == player_id).values(fb_user_id=fb_user_id))
        except sa.exc.IntegrityError as exc:
            raise conflict("facebook_in_use", "this Facebook account already belongs to another player") from exc


async def rename(engine: AsyncEngine, player_id: int, name: str) -> None:
    async with engine.begin() as conn:
        r = await conn.execute(sa.update(p).where(p.c.id == player_id).values(name=name))
        if r.rowcount == 0:
            raise not_found("player")


async def ledger_entries(engine: AsyncEngine, player_id: int, limit: int, offset: int) -> list[dict]:
    q = (
        sa.select(ledger.c.id, ledger.c.delta, ledger.c.balance_after, ledger.c.reason, ledger.c.created_at)
        .where(ledger.c.player_id == player_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    async with reader(engine).connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(q)]


async def public_profile(engine: AsyncEngine, s: Settings, player_id: int) -> dict:
    async with reader(engine).connect() as conn:
        row = (await conn.execute(sa.select(p).where(p.c.id == player_id))).one_or_none()
    if row is None:
        raise not_found("player")
    return rules.public_player(row, s)


async def set_avatar(engine: AsyncEngine, player_id: int, key: str) -> str | None:
    """Point the player at a verified avatar; return the previous key."""
    async with engine.begin() as conn:
        old = (
            await conn.execute(sa.select(p.c.avatar_key).where(p.c.id == player_id).with_for_update())
        ).one_or_none()
        if old is None:
            raise not_found("player")
        await conn.execute(sa.update(p).where(p.c.id == player_id).values(avatar_key=key))
    return old.avatar_key
