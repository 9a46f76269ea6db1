"""Jobs: the rows behind the queue's messages (game_service.jobs).

A message says only "job N". The row says what the job is, how far it got and what it
made; it is what makes a handler idempotent: a message delivered twice (SQS delivers at
least once) finds its job finished and changes nothing twice, and the step that makes a
job's effect visible commits in the same transaction as the job's ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from game_service.core import clock
from game_service.models import jobs, players

FINISHED = ("done", "refused", "failed")


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    player_id: int
    subject: str
    state: str
    attempts: int
    reason: str | None
    result: str | None
    sealed: str | None = None  # a secret the handler needs, sealed (core/sealing.py); gone once finished


def _job(row) -> Job:
    return Job(row.id, row.kind, row.player_id, row.subject, row.state, row.attempts, row.reason, row.result,
               row.sealed)


async def create(engine: AsyncEngine, kind: str, player_id: int, subject: str) -> int:
    async with engine.begin() as conn:
        return (await insert(conn, kind, player_id, subject)).id


async def insert(conn: AsyncConnection, kind: str, player_id: int, subject: str, *, sealed: str | None = None) -> Job:
    """A new queued job, in the caller's transaction (with what it is the job of)."""
    row = (await conn.execute(
        sa.insert(jobs).values(kind=kind, player_id=player_id, subject=subject, state="queued", sealed=sealed,
                               created_at=clock.utcnow(), updated_at=clock.utcnow())
        .returning(*jobs.c))).one()
    return _job(row)


async def of_subject(conn: AsyncConnection, kind: str, player_id: int, subject: str, *,
                     unfinished: bool = False) -> Job | None:
    """The first job of ``kind`` on ``subject`` for ``player_id`` (who may be gone: no check);
    ``unfinished``: only one that has not ended."""
    where = [jobs.c.player_id == player_id, jobs.c.kind == kind, jobs.c.subject == subject]
    if unfinished:
        where.append(jobs.c.state.not_in(FINISHED))
    row = (await conn.execute(sa.select(*jobs.c).where(*where).order_by(jobs.c.id).limit(1))).one_or_none()
    return None if row is None else _job(row)


async def find(engine: AsyncEngine, kind: str, player_id: int, subject: str) -> Job | None:
    async with engine.connect() as conn:
        return await of_subject(conn, kind, player_id, subject)


async def create_once(engine: AsyncEngine, kind: str, player_id: int, subject: str, *,
                      sealed: str | None = None, again_when_finished: bool = False) -> tuple[Job, bool] | None:
    """The player's job of ``kind`` on ``subject``, made when there is none yet, and whether it
    is new: confirming one upload twice (a double click, a retry with another Idempotency-Key)
    finds the first job instead of making a second. ``again_when_finished``: only a job still
    under way is found (a friends import can be run again next week, not twice at once). The
    player's row is locked for the look and the insert, so two requests at once make one job
    between them (and a deleted player makes none: None)."""
    async with engine.begin() as conn:
        me = (await conn.execute(sa.select(players.c.id).where(players.c.id == player_id).with_for_update())).one_or_none()
        if me is None:
            return None
        found = await of_subject(conn, kind, player_id, subject, unfinished=again_when_finished)
        if found is not None:
            return found, False
        return await insert(conn, kind, player_id, subject, sealed=sealed), True


def unsent(job: Job) -> bool:
    """Queued and never started: its message may not be on the queue (a send that failed, a
    server that died between the row and the send). Sending it again is harmless: a second
    delivery of a job finds it finished."""
    return job.state == "queued" and job.attempts == 0


async def discard_unsent(engine: AsyncEngine, job_id: int) -> bool:
    """Remove a job whose message could not be sent, so that no row says "queued" with nothing
    on the queue behind it; False (and kept) when a worker started it meanwhile: the send went
    through after all and only its answer was lost. A message that did go out for a removed
    job finds no row, and the worker drops it."""
    async with engine.begin() as conn:
        gone = (await conn.execute(
            sa.delete(jobs).where(jobs.c.id == job_id, jobs.c.state == "queued", jobs.c.attempts == 0)
            .returning(jobs.c.id))).one_or_none()
    return gone is not None


async def of_player(engine: AsyncEngine, job_id: int, player_id: int) -> Job | None:
    """A job, only to the player it belongs to (another player's job is not found)."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            sa.select(*jobs.c).where(jobs.c.id == job_id, jobs.c.player_id == player_id))).one_or_none()
    return None if row is None else _job(row)


async def start(engine: AsyncEngine, job_id: int) -> Job | None:
    """Count an attempt at a job that is not finished; None when it is finished (a second
    delivery of its message) or unknown. A job left ``running`` by a worker that died is
    started again: its message came back because nobody finished it."""
    async with engine.begin() as conn:
        row = (await conn.execute(
            sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state.not_in(FINISHED))
            .values(state="running", attempts=jobs.c.attempts + 1, updated_at=clock.utcnow())
            .returning(*jobs.c))).one_or_none()
    return None if row is None else _job(row)


async def finish(conn: AsyncConnection, job_id: int, state: str, *, reason: str | None = None,
                 result: str | None = None) -> bool:
    """Finish a job inside the caller's transaction (with the job's own effect); False when
    another delivery finished it first, and then the caller's effect must not apply. A
    finished job keeps no secret: its sealed value goes."""
    assert state in FINISHED
    row = (await conn.execute(
        sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state.not_in(FINISHED))
        .values(state=state, reason=reason, result=result, sealed=None, updated_at=clock.utcnow())
        .returning(jobs.c.id))).one_or_none()
    return row is not None


async def set_result(conn: AsyncConnection, job_id: int, result: str) -> None:
    """What a job made, when it is known only after its ``done`` (in the same transaction)."""
    await conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(result=result))


async def complete(engine: AsyncEngine, job_id: int) -> None:
    """``done``, for a handler whose effect needed no transaction of its own (a no-op when the
    handler finished the job itself)."""
    async with engine.begin() as conn:
        await finish(conn, job_id, "done")


async def refuse(engine: AsyncEngine, job_id: int, reason: str) -> str:
    """The job cannot be done as asked (not a picture, Facebook's permission gone): an answer
    for the player in ``reason``, not a failure to retry. Returns the outcome, "refused"."""
    async with engine.begin() as conn:
        await finish(conn, job_id, "refused", reason=reason)
    return "refused"


async def give_up(engine: AsyncEngine, job_id: int, reason: str) -> None:
    """The last attempt failed: the message goes to the dead-letter queue; the row says why."""
    async with engine.begin() as conn:
        await finish(conn, job_id, "failed", reason=reason[:500])


async def note_failure(engine: AsyncEngine, job_id: int, reason: str) -> None:
    """An attempt failed and will be tried again: the row keeps the latest reason."""
    async with engine.begin() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == job_id, jobs.c.state.not_in(FINISHED))
                           .values(state="queued", reason=reason[:500], updated_at=clock.utcnow()))


async def finish_avatar(engine: AsyncEngine, job: Job, key: str) -> tuple[str, str | None]:
    """The avatar job's effect and its ``done``, in one transaction: the player now shows
    ``key``. Returns what happened and the key it replaced: ("applied", old key),
    ("duplicate", None) when another delivery finished the job first, or ("player-gone",
    None) when the player no longer exists (the job is done, with nothing to show it to)."""
    async with engine.begin() as conn:
        old = (await conn.execute(
            sa.select(players.c.avatar_key).where(players.c.id == job.player_id).with_for_update())).one_or_none()
        if not await finish(conn, job.id, "done", result=key if old is not None else None):
            return "duplicate", None
        if old is None:
            return "player-gone", None
        await conn.execute(sa.update(players).where(players.c.id == job.player_id).values(avatar_key=key))
    return "applied", old.avatar_key
