from __future__ import annotations

import hashlib
import logging

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from game_service.core import facebook
from game_service.jobs import DATA_DELETION
from game_service.jobs.deletion import remove_media_and_finish
from game_service.jobs.queue import QueueUnavailable
from game_service.repository import deletion, jobs as job_rows
from game_service.repository.jobs import Job
from game_service.api.deps import Services, services_of
from game_service.api.schemas import ERRORS, DeletionOut, errors_for, link, linked
from game_service.errors import GameError, not_found
from game_service.core.public_url import public_base_url

router = APIRouter(tags=["facebook"], responses=ERRORS)
log = logging.getLogger("game_service.deletion")


async def _complete(svc: Services, code: str, player_id: int | None) -> None:
    """The slow part, in this request (no queue, or the queue is down, or its job failed)."""
    await remove_media_and_finish(svc.storage, svc.settings, svc.engine, code, player_id)


async def _send(svc: Services, job: Job) -> bool:
    """The deletion's job to the worker (when not sent before); False when the queue is down."""
    if not job_rows.unsent(job):
        return True
    try:
        await run_in_threadpool(svc.queue.send, job.id)
    except QueueUnavailable as exc:
        log.error("deletion job not sent: the queue is unavailable; done in the request instead",
                  extra={"job": job.id, "error": str(exc)[:500]})
        # no message behind it: the job says so, and the status URL finishes what is left
        await job_rows.give_up(svc.engine, job.id, f"not sent, the queue was unavailable: {exc}")
        return False
    return True


@router.post(
    "/api/facebook/data-deletion",
    response_model=DeletionOut,
    responses={**errors_for(400, 401, 413, 503), **linked(200, DeletionOut, ItsStatus=link(
        "GET", "/api/facebook/deletion-status", parameters={"code": "$response.body#/confirmation_code"}))},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {"signed_request": {"type": "string", "minLength": 1, "maxLength": 8192}},
                        "required": ["signed_request"],
                        "additionalProperties": False,
                    }
                }
            },
        }
    },
)
async def data_deletion(request: Request):
    """Facebook's data-deletion callback (form field ``signed_request``).

    Deletes the player's rows at once (ledger, friends, gifts cascade), then their
    uploads; answers with a status URL and a confirmation code. With a job queue
    (``GAME_JOB_QUEUE_URL``) the uploads, every version of them, and their CDN paths are the
    worker's job, and the status says ``pending`` until it is done; without one (or with
    the queue down) they are deleted in this request. If deleting them fails, the request
    stays ``pending`` and the status URL completes it.

    The ``signed_request`` must be fresh (``issued_at`` within
    ``GAME_FACEBOOK_SIGNED_REQUEST_MAX_AGE_SECONDS``: Facebook sends a new one each time), and
    the same one sent again answers the same confirmation code and deletes nothing more.
    """
    svc = services_of(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=16 * 1024)
    sr = form.get("signed_request")
    if not isinstance(sr, str) or not sr:
        raise GameError(400, "missing_signed_request", "form field signed_request is required")
    fb_id = facebook.user_from_signed_request(svc.settings, sr)
    # known before anything is deleted: a failure here deletes nothing
    base = await run_in_threadpool(public_base_url, svc.settings, str(request.base_url))
    queued = svc.queue is not None
    code, pid, job = await deletion.start_deletion(svc.engine, fb_id, hashlib.sha256(sr.encode()).hexdigest(),
                                                   DATA_DELETION if queued else None)
    if job is None or not await _send(svc, job):
        try:
            await _complete(svc, code, pid)
        except Exception:  # noqa: BLE001 - the status URL retries the storage part
            log.warning("deletion %s: uploads not deleted yet", code, exc_info=True)
    return {"url": f"{base}/api/facebook/deletion-status?code={code}", "confirmation_code": code}


async def _worker_has_it(svc: Services, code: str, player_id: int | None) -> bool:
    """Whether the deletion's job is the worker's to finish (queued or running): the status
    then answers from it. A job that failed (its message in the dead-letter queue) or a
    deletion without one is finished here."""
    if svc.queue is None or player_id is None:
        return False
    job = await job_rows.find(svc.engine, DATA_DELETION, player_id, code)
    return job is not None and job.state not in job_rows.FINISHED


@router.get("/api/facebook/deletion-status")
async def deletion_status(request: Request, code: str = Query(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")):
    svc = services_of(request)
    row = await deletion.get_deletion(svc.engine, code)
    if row is None:
        raise not_found("deletion request")
    if row.status == "pending" and not await _worker_has_it(svc, code, row.player_id):
        try:
            await _complete(svc, code, row.player_id)
        except Exception:  # noqa: BLE001 - storage still failing: it stays pending, retried next time
            log.warning("deletion %s: uploads not deleted yet", code, exc_info=True)
        row = await deletion.get_deletion(svc.engine, code)
    return {
        "confirmation_code": row.code,
        "status": row.status,
        "requested_at": deletion.iso(row.requested_at),
        "completed_at": deletion.iso(row.completed_at),
    }
