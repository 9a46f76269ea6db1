"""Jobs as their players see them: what the worker made of an upload, read until it is done."""

from __future__ import annotations

from fastapi import APIRouter

from game_service.api.deps import Me
from game_service.api.schemas import ERRORS, IdPath, JobOut
from game_service.core.storage import public_url
from game_service.errors import not_found
from game_service.jobs import AVATAR
from game_service.repository import jobs as job_rows
from game_service.repository.jobs import Job

router = APIRouter(tags=["media"], responses=ERRORS)

# a failed job's row keeps the last exception for the operators (and the dead-letter alarm);
# the player gets a sentence
FAILED = "We could not process the picture this time. Please upload it again."


def job_path(job_id: int) -> str:
    return f"/api/jobs/{job_id}"


def view(job: Job) -> dict:
    """queued and running are one state to the player: processing (a retry waiting for its
    backoff is queued again, and still coming)."""
    state = job.state if job.state in ("done", "refused", "failed") else "processing"
    out = {"id": job.id, "kind": job.kind, "state": state, "href": job_path(job.id), "avatar_url": None, "reason": None}
    if state == "done" and job.kind == AVATAR and job.result:
        out["avatar_url"] = public_url(job.result)
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
