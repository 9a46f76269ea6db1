"""Jobs as their players see them: recorded and sent by the routes that hand work to the
worker (the avatar, the friends import), read until they are done."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from game_service.api.deps import Me
from game_service.api.schemas import ERRORS, IdPath, JobOut
from game_service.core.storage import public_url
from game_service.errors import GameError, not_found
from game_service.jobs import AVATAR, FRIENDS_IMPORT
from game_service.jobs.queue import QueueUnavailable
from game_service.repository import jobs as job_rows
from game_service.repository.jobs import Job

router = APIRouter(tags=["media"], responses=ERRORS)
log = logging.getLogger("game_service.jobs")

# a failed job's row keeps the last exception for the operators (and the dead-letter alarm);
# the player gets a sentence
FAILED = "We could not process the picture this time. Please upload it again."


def job_path(job_id: int) -> str:
    return f"/api/jobs/{job_id}"


def view(job: Job) -> dict:
    """queued and running are one state to the player: processing (a retry waiting for its
    backoff is queued again, and still coming)."""
    state = job.state if job.state in job_rows.FINISHED else "processing"
    out = {"id": job.id, "kind": job.kind, "state": state, "href": job_path(job.id), "avatar_url": None, "added": None,
           "reason": None}
    if state == "done" and job.kind == AVATAR and job.result:
        out["avatar_url"] = public_url(job.result)
    elif state == "done" and job.kind == FRIENDS_IMPORT:
        out["added"] = int(job.result or 0)
    elif state == "refused":
        out["reason"] = job.reason
    elif state == "failed":
        out["reason"] = FAILED
    return out


@router.get("/api/jobs/{job_id:id}", response_model=JobOut)
async def read_job(job_id: IdPath, me: Me):
    """One of your jobs (another player's is a 404): read it about once a second until its
    state is no longer ``processing``."""
    job = await job_rows.of_player(me.svc.engine, job_id, me.id)
    if job is None:
        raise not_found("job")
    return view(job)


async def record_and_send(svc, kind: str, me: int, subject: str, *, sealed: str | None = None,
                          again_when_finished: bool = False) -> JSONResponse:
    """The player's job of ``kind`` on ``subject``, recorded and sent; 202 with it (and its
    ``Location``). A second request for the same work finds the same job
    (``repository.jobs.create_once``).

    The row is committed before its message goes out (a worker receiving the message must
    find it). A send that fails removes the row again and answers 503, so that no job says
    "processing" with nothing on the queue behind it; the player's retry makes a new one.
    A job found queued and never started (the same work asked for again) is sent again:
    if its first send was lost (a server that died between the row and the send), this one
    carries it; if not, the second delivery finds the job finished and changes nothing."""
    made = await job_rows.create_once(svc.engine, kind, me, subject, sealed=sealed,
                                      again_when_finished=again_when_finished)
    if made is None:
        raise player_gone()
    job, new = made
    if job_rows.unsent(job):
        try:
            await run_in_threadpool(svc.queue.send, job.id)
        except QueueUnavailable as exc:
            log.error("job not sent: the queue is unavailable", extra={"job": job.id, "error": str(exc)[:500]})
            if not new or await job_rows.discard_unsent(svc.engine, job.id):
                raise GameError(503, "queue_unavailable", "this cannot be done right now; try again shortly",
                                headers={"Retry-After": str(svc.settings.db_retry_after_seconds)}) from None
            # a worker started it: the message went out, only its answer was lost
            job = await job_rows.of_player(svc.engine, job.id, me) or job
    return JSONResponse(view(job), status_code=202, headers={"Location": job_path(job.id)})


def player_gone() -> GameError:
    return GameError(401, "invalid_session", "this player no longer exists; sign in again",
                     headers={"WWW-Authenticate": "Bearer"})
