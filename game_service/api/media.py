from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from game_service.repository import players
from game_service.api import jobs
from game_service.api.deps import Me, services_of
from game_service.api.schemas import ERRORS, AvatarConfirmIn, JobOut, PlayerState, UploadOut, UploadUrlIn, link, linked
from game_service.jobs import AVATAR
from game_service.errors import GameError, not_found
from game_service.core.storage import (
    LocalStorage,
    avatar_key_for,
    avatar_prefix_for,
    incoming_prefix,
    sniff_image_type,
)

router = APIRouter(tags=["media"], responses=ERRORS)


@router.post("/api/me/avatar/upload-url", response_model=UploadOut, responses=linked(
    200, ConfirmIt=link("POST", "/api/me/avatar", body={"key": "$response.body#/key"}),
))
async def avatar_upload_url(body: UploadUrlIn, caller: Me):
    """A presigned POST for the browser: key pinned under ``incoming/<player>/``, exact
    content type, ``content-length-range``, short expiry. POST ``fields`` + ``file`` to ``url``."""
    svc, me = caller.svc, caller.id
    post = await run_in_threadpool(svc.storage.presign_upload, me, body.content_type)
    return {**post, "max_bytes": svc.settings.avatar_max_bytes, "expires_in": svc.settings.upload_url_expiry_seconds}


@router.post("/api/me/avatar", response_model=PlayerState, responses={
    202: {"model": JobOut, "description": "with a job queue: the upload is handed to the worker; read the job "
                                          "(its `href`, also in `Location`) until it is done or refused",
          "headers": {"Location": {"description": "the job's `href`", "schema": {"type": "string"}}},
          "links": {"ReadTheJob": link("GET", "/api/jobs/{job_id}", parameters={"job_id": "$response.body#/id"})}},
})
async def avatar_confirm(body: AvatarConfirmIn, caller: Me):
    """Make an upload the avatar.

    With a job queue (``GAME_JOB_QUEUE_URL``, as in AWS): a job is recorded and sent to the
    worker, which verifies the picture by its content and redraws it (``game_service.jobs``);
    the answer is at once, 202 with the job. Without one (a local run): the upload is verified
    here (size, image type by magic bytes) and the answer is the player's state.

    Confirming the same upload again (a double click, a retry) answers the same: the same job,
    or the same avatar."""
    svc, me = caller.svc, caller.id
    key = body.key
    if not key.startswith(incoming_prefix(me)) or ".." in key or "//" in key:
        raise not_found("upload")
    if svc.queue is not None:
        return await jobs.record_and_send(svc, AVATAR, me, key)
    head = await run_in_threadpool(svc.storage.head, key)
    if head is None:
        # a concurrent confirm of the same upload (a double click) may have made it the avatar
        dst = await run_in_threadpool(svc.storage.first_key, avatar_prefix_for(me, key))
        if dst is None:
            raise not_found("upload")
    else:
        dst = await _verified_avatar(svc, me, key, head)
    try:
        old = await players.set_avatar(svc.engine, me, dst)
    except GameError:
        # the player was deleted after the session check (a data-deletion callback racing
        # this request): nothing of theirs may stay behind
        await run_in_threadpool(svc.storage.delete, dst)
        raise jobs.player_gone() from None
    if old and old != dst:
        await run_in_threadpool(svc.storage.delete, old)
    return await players.get_state(svc.engine, svc.settings, me)


async def _verified_avatar(svc, me: int, key: str, head) -> str:
    """Check the upload (size, image type by magic bytes) and move it to its avatar key."""
    if head.size == 0 or head.size > svc.settings.avatar_max_bytes:
        await run_in_threadpool(svc.storage.delete, key)
        raise GameError(422, "invalid_upload", f"avatar must be 1 to {svc.settings.avatar_max_bytes} bytes")
    ctype = sniff_image_type(head.head)
    if ctype is None:
        await run_in_threadpool(svc.storage.delete, key)
        raise GameError(422, "invalid_upload", "avatar must be a PNG, JPEG, GIF or WebP image")
    dst = avatar_key_for(me, ctype, key)
    if not await run_in_threadpool(svc.storage.promote, key, dst, ctype):
        raise not_found("upload")
    return dst


@router.post(LocalStorage.UPLOAD_URL, status_code=204, include_in_schema=False)
async def local_upload(request: Request):
    """The local stand-in for S3's POST upload (only when no media bucket is configured)."""
    storage = services_of(request).storage
    if not isinstance(storage, LocalStorage):
        raise not_found("upload endpoint")
    form = await request.form(max_files=1, max_fields=10)
    key, ctype, policy, upload = form.get("key"), form.get("Content-Type"), form.get("policy"), form.get("file")
    if not isinstance(key, str) or not isinstance(ctype, str) or not isinstance(policy, str) or upload is None \
            or isinstance(upload, str):
        raise GameError(400, "invalid_upload_form", "form needs key, Content-Type, policy and file")
    try:
        limit = storage.check_policy(policy, key, ctype)
    except PermissionError as exc:
        raise GameError(403, "upload_denied", str(exc)) from None
    data = await upload.read(limit + 1)
    if not data or len(data) > limit:
        raise GameError(400, "entity_too_large", f"file must be 1 to {limit} bytes")
    await run_in_threadpool(storage.write, key, data)
    return Response(status_code=204)
