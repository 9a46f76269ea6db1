"""Player events: what happened to a player that their open pages should show now.

A write that concerns another player (a friend request, an accepted one, a gift, a removal)
calls :func:`announce` inside its own transaction: one row in ``player_events`` and, on
PostgreSQL, a ``NOTIFY`` on :data:`CHANNEL` whose payload is the player's id. PostgreSQL
delivers a notification only when its transaction commits, so nothing is announced that
did not happen, and every host's listener (``core/live.py``) hears it. The row is what a
stream sends: its id is the event id a page gives back when it reconnects.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service.models import player_events

CHANNEL = "player_events"
LATE_SECONDS = 10
KINDS = ("friend_request", "friend_request_closed", "friend_added", "friend_removed", "gift",
         "session_ended")  # signed out everywhere (or Facebook linked): older tokens' streams end
e = player_events

_ROW = sa.insert(e).values(player_id=sa.bindparam("player_id"), kind=sa.bindparam("kind"),
                           from_id=sa.bindparam("from_id")).returning(e.c.id, e.c.player_id)
# PostgreSQL: the row and its notification in one round trip
_ROW_AND_NOTIFY = sa.select(sa.func.pg_notify(CHANNEL, sa.cast(sa.column("player_id"), sa.Text))).select_from(
    _ROW.cte("announced"))


async def announce(conn: AsyncConnection, player_id: int, kind: str, from_id: int | None) -> None:
    """Record ``kind`` for ``player_id`` (caused by ``from_id``) in the caller's transaction."""
    assert kind in KINDS, kind
    params = {"player_id": player_id, "kind": kind, "from_id": from_id}
    await conn.execute(_ROW_AND_NOTIFY if conn.dialect.name == "postgresql" else _ROW, params)


async def since(engine: AsyncEngine, player_id: int, after_id: int, limit: int = 100) -> list[dict]:
    """The player's events after ``after_id``, oldest first. On PostgreSQL also those of the
    last :data:`LATE_SECONDS`: an id is taken before its transaction commits, so a write
    that committed late may carry an id lower than one already sent (the caller skips what
    it has sent). SQLite has one writer at a time: its ids arrive in order."""
    newer = e.c.id > after_id
    if engine.dialect.name == "postgresql":
        newer = sa.or_(newer, e.c.created_at >= sa.func.now() - sa.text(f"interval '{LATE_SECONDS} seconds'"))
    q = sa.select(e.c.id, e.c.kind, e.c.from_id).where(e.c.player_id == player_id, newer).order_by(e.c.id).limit(limit)
    async with engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(q)]


async def last_id(engine: AsyncEngine, player_id: int | None = None) -> int:
    """The id of the player's latest event, or of anyone's (0: none): where a new stream, or a
    listener without NOTIFY, starts."""
    q = sa.select(sa.func.coalesce(sa.func.max(e.c.id), 0))
    if player_id is not None:
        q = q.where(e.c.player_id == player_id)
    async with engine.connect() as conn:
        return int((await conn.execute(q)).scalar_one())


async def newer_than(engine: AsyncEngine, after_id: int) -> tuple[int, set[int]]:
    """For a listener without NOTIFY (SQLite, local play): the players with events after
    ``after_id``, and the highest id seen."""
    q = sa.select(e.c.id, e.c.player_id).where(e.c.id > after_id).order_by(e.c.id)
    async with engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return (rows[-1].id if rows else after_id), {r.player_id for r in rows}


async def prune(engine: AsyncEngine, keep_seconds: int) -> int:
    """Delete events older than ``keep_seconds``; returns how many."""
    cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=keep_seconds)
    async with engine.begin() as conn:
        return (await conn.execute(sa.delete(e).where(e.c.created_at < cutoff))).rowcount
