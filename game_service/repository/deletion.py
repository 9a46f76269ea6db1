"""Facebook data-deletion requests: the player's rows go at once, storage is cleaned next."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service.core import clock
from game_service.models import deletion_requests, gifts, players
from game_service.repository import jobs as job_rows
from game_service.repository.jobs import Job
from game_service.repository.writes import insert_for, reader

p = players


async def start_deletion(engine: AsyncEngine, fb_user_id: str, request_sha256: str,
                         job_kind: str | None = None) -> tuple[str, int | None, Job | None]:
    """Delete the player's rows and record a pending request; storage is cleaned next.
    With ``job_kind``, the job that cleans it is recorded in the same transaction (when there
    was a player): (code, the player's id or None, that job or None).

    The same callback again (same ``signed_request``, by its SHA-256) deletes nothing and
    answers the first one's code and job: the request row is claimed before anything is
    deleted, and a concurrent twin waits for it, then finds it."""
    code = secrets.token_hex(12)
    async with engine.begin() as conn:
        claimed = (
            await conn.execute(
                insert_for(conn.dialect.name, deletion_requests)
                .values(code=code, player_id=None, status="pending", requested_at=clock.utcnow(),
                        request_sha256=request_sha256)
                .on_conflict_do_nothing()
                .returning(deletion_requests.c.code)
            )
        ).first()
        if claimed is None:
            first = (
                await conn.execute(
                    sa.select(deletion_requests.c.code, deletion_requests.c.player_id)
                    .where(deletion_requests.c.request_sha256 == request_sha256)
                )
            ).one()
            job = None
            if job_kind is not None and first.player_id is not None:
                job = await job_rows.of_subject(conn, job_kind, first.player_id, first.code)
            return first.code, first.player_id, job
        pid = (await conn.execute(sa.select(p.c.id).where(p.c.fb_user_id == fb_user_id))).scalar_one_or_none()
        if pid is not None and not await _delete_player(conn, pid):
            pid = None  # a concurrent deletion took it first
        await conn.execute(
            sa.update(deletion_requests).where(deletion_requests.c.code == code).values(player_id=pid)
        )
        job = None
        if job_kind is not None and pid is not None:
            job = await job_rows.insert(conn, job_kind, pid, code)
    return code, pid, job


async def _delete_player(conn: AsyncConnection, player_id: int) -> bool:
    """Delete the player's rows (the rest cascade), keeping every other player's counters
    true: the unclaimed gifts the player sent leave their recipients' ``gifts_waiting``.
    False when the player was gone already.

    The player and those recipients are locked first, lowest id first, like every write
    between two players (``social._lock_pair``): no gift of the player is sent or claimed
    in between."""
    sent = sa.select(gifts.c.recipient_id).where(gifts.c.sender_id == player_id, gifts.c.claimed_at.is_(None))
    if conn.dialect.name == "postgresql":  # SQLite (local play) has one writer at a time
        await conn.execute(
            sa.select(p.c.id).where(sa.or_(p.c.id == player_id, p.c.id.in_(sent))).order_by(p.c.id).with_for_update()
        )
    gone = await conn.execute(sa.delete(gifts).where(gifts.c.sender_id == player_id)
                              .returning(gifts.c.recipient_id, gifts.c.claimed_at))
    waiting = Counter(g.recipient_id for g in gone if g.claimed_at is None)
    for recipient in sorted(waiting):
        await conn.execute(sa.update(p).where(p.c.id == recipient)
                           .values(gifts_waiting=p.c.gifts_waiting - waiting[recipient]))
    return (await conn.execute(sa.delete(p).where(p.c.id == player_id).returning(p.c.id))).first() is not None


async def finish_deletion(engine: AsyncEngine, code: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(deletion_requests)
            .where(deletion_requests.c.code == code, deletion_requests.c.status == "pending")
            .values(status="completed", completed_at=clock.utcnow())
        )


async def get_deletion(engine: AsyncEngine, code: str) -> Any:
    async with reader(engine).connect() as conn:
        return (await conn.execute(sa.select(deletion_requests).where(deletion_requests.c.code == code))).one_or_none()


def iso(d: dt.datetime | None) -> str | None:
    return d.isoformat() if d else None
