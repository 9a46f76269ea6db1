from __future__ import annotations

import hashlib
import logging

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from game_service.core import cdn, facebook
from game_service.repository import deletion
from game_service.api.deps import Services, services_of
from game_service.api.schemas import ERRORS, DeletionOut, errors_for, link, linked
from game_service.contract import MEDIA_PREFIX
from game_service.errors import GameError, not_found
from game_service.core.public_url import public_base_url
from game_service.core.storage import incoming_prefix

router = APIRouter(tags=["facebook"], responses=ERRORS)
log = logging.getLogger("game_service.deletion")


async def _complete(svc: Services, code: str, player_id: int | None) -> None:
    if player_id is not None:
        media = f"{MEDIA_PREFIX}avatars/{player_id}/"
        await run_in_threadpool(svc.storage.delete_prefix, media)
        await run_in_threadpool(svc.storage.delete_prefix, incoming_prefix(player_id))
        await run_in_threadpool(cdn.invalidate, svc.settings, [f"/{media}*"])
    await deletion.finish_deletion(svc.engine, code)


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
    uploads; answers with a status URL and a confirmation code. If deleting uploads
    fails, the request stays ``pending`` and the status URL completes it.

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
    code, pid = await deletion.start_deletion(svc.engine, fb_id, hashlib.sha256(sr.encode()).hexdigest())
    try:
        await _complete(svc, code, pid)
    except Exception:  # noqa: BLE001 - the status URL retries the storage part
        log.warning("deletion %s: uploads not deleted yet", code, exc_info=True)
    return {"url": f"{base}/api/facebook/deletion-status?code={code}", "confirmation_code": code}


@router.get("/api/facebook/deletion-status")
async def deletion_status(request: Request, code: str = Query(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")):
    svc = services_of(request)
    row = await deletion.get_deletion(svc.engine, code)
    if row is None:
        raise not_found("deletion request")
    if row.status == "pending":
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
