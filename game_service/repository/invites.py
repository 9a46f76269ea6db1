"""Finding friends: a player's invite link code, befriending by invite, search by name."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service import rules
from game_service.core.config import Settings
from game_service.errors import conflict, not_found
from game_service.models import friends, invites, players
from game_service.repository.social import _are_friends, _make_friends
from game_service.repository.writes import Write, insert_for, reader

p = players
SEARCH_LIMIT = 10


def my_invite(player_id: int) -> Write:
    """The player's invite code, made on first use; the same code every time after."""

    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        await conn.execute(
            insert_for(conn.dialect.name, invites)
            .values(code=secrets.token_urlsafe(12), player_id=player_id)
            .on_conflict_do_nothing(index_elements=[invites.c.player_id])
        )
        code = (await conn.execute(sa.select(invites.c.code).where(invites.c.player_id == player_id))).scalar_one()
        return 200, {"code": code, "path": f"/?invite={code}"}

    return Write("invite", steps)


async def _inviter(conn: AsyncConnection, code: str):
    q = sa.select(p).join(invites, invites.c.player_id == p.c.id).where(invites.c.code == code)
    row = (await conn.execute(q)).one_or_none()
    if row is None:
        raise not_found("invite")
    return row


async def inviter(engine: AsyncEngine, s: Settings, code: str) -> dict:
    """Who sent this invite (shown to the invitee before they sign in)."""
    async with reader(engine).connect() as conn:
        return rules.public_player(await _inviter(conn, code), s)


def accept_invite(s: Settings, player_id: int, code: str) -> Write:
    """Befriend the invite's owner (already friends: nothing changes, the same answer)."""

    async def steps(conn: AsyncConnection, op_key: str) -> tuple[int, dict]:
        row = await _inviter(conn, code)
        if row.id == player_id:
            raise conflict("own_invite", "this is your own invite link")
        status = "already_friends" if await _are_friends(conn, player_id, row.id) else "friends"
        if status == "friends":
            await _make_friends(conn, player_id, row.id)
        return 200, {"status": status, "player": rules.public_player(row, s)}

    return Write("invite_accept", steps)


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(engine: AsyncEngine, s: Settings, player_id: int, text: str) -> list[dict]:
    """Players whose name contains ``text`` (any case), best matches (name starts with it)
    first, at most SEARCH_LIMIT; the searching player is left out."""
    is_friend = (
        sa.select(sa.literal(1)).where(friends.c.player_id == player_id, friends.c.friend_id == p.c.id).exists()
    )
    name = sa.func.lower(p.c.name)
    q = (
        sa.select(p, is_friend.label("is_friend"))
        .where(name.like(_like_pattern(text), escape="\\"), p.c.id != player_id)
        .order_by(sa.case((name.like(_like_pattern(text)[1:], escape="\\"), 0), else_=1), p.c.xp.desc(), p.c.id)
        .limit(SEARCH_LIMIT)
    )
    async with reader(engine).connect() as conn:
        rows = await conn.execute(q)
        return [{**rules.public_player(r, s), "is_friend": bool(r.is_friend)} for r in rows]
