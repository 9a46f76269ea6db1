"""What each kind of job does. A handler may run more than once for one job (a worker can
die after any step): every step before the job's ``done`` is safe to repeat (objects are
written under keys fixed by the job's id), and the step that makes the effect visible
commits with the ``done`` (``repository.jobs.finish_*``)."""

from __future__ import annotations

import asyncio

from game_service.core import facebook, sealing
from game_service.core.storage import avatars_prefix, incoming_prefix
from game_service.jobs import AVATAR, DATA_DELETION, FRIENDS_IMPORT
from game_service.jobs.avatar import Processed, process_avatar
from game_service.jobs.deletion import remove_media_and_finish
from game_service.repository import jobs as job_rows, social


def avatar_keys(player_id: int, job_id: int) -> tuple[str, str]:
    """The full-size image and the thumbnail an avatar job writes (the same on every attempt)."""
    base = f"{avatars_prefix(player_id)}{job_id}"
    return f"{base}.webp", f"{base}-thumb.webp"


def thumb_of(avatar_key: str) -> str | None:
    """The thumbnail beside an avatar made by a job (older avatars have none)."""
    return avatar_key[: -len(".webp")] + "-thumb.webp" if avatar_key.endswith(".webp") else None


async def avatar(ctx, job) -> str:
    """Verify the upload, make the two images, point the player at them, remove the upload."""
    storage, settings = ctx.storage, ctx.settings
    if not job.subject.startswith(incoming_prefix(job.player_id)):
        return await job_rows.refuse(ctx.engine, job.id, "That upload is not yours.")
    data = await asyncio.to_thread(storage.read, job.subject, settings.avatar_max_bytes + 1)
    if data is None:
        return await job_rows.refuse(
            ctx.engine, job.id, "The upload is gone (uploads are kept for a day); upload the picture again.")
    made = await asyncio.to_thread(process_avatar, data, settings.avatar_max_bytes)
    if not isinstance(made, Processed):
        outcome = await job_rows.refuse(ctx.engine, job.id, made.reason)
        await asyncio.to_thread(storage.delete, job.subject)
        return outcome
    full_key, thumb_key = avatar_keys(job.player_id, job.id)
    await asyncio.to_thread(storage.put, thumb_key, made.thumb, made.content_type)
    await asyncio.to_thread(storage.put, full_key, made.full, made.content_type)
    outcome, old = await job_rows.finish_avatar(ctx.engine, job, full_key)
    if outcome == "applied" and old and old != full_key:
        for key in filter(None, (old, thumb_of(old))):
            await asyncio.to_thread(storage.delete, key)
    elif outcome == "player-gone":  # nothing to show the images to
        for key in (full_key, thumb_key):
            await asyncio.to_thread(storage.delete, key)
    await asyncio.to_thread(storage.delete, job.subject)
    return "done"


async def data_deletion(ctx, job) -> str:
    """A Facebook data deletion's uploads, avatars and CDN paths (the subject is the request's
    confirmation code; the player's rows went in the request)."""
    await remove_media_and_finish(ctx.storage, ctx.settings, ctx.engine, job.subject, job.player_id)
    return "done"


# the friends import's refusals, in the player's words (the page shows them)
IMPORT_EXPIRED = "Facebook's permission to read your friends has expired; import them again."
IMPORT_REJECTED = "Facebook no longer accepts this sign-in; sign in with Facebook again, then import your friends."


async def friends_import(ctx, job) -> str:
    """Befriend the player's Facebook friends who play: the Graph API's friend list, paged
    (the slow part), with the player's access token sealed in the job's row; the friendships
    and the job's ``done`` commit together. Facebook unreachable or failing is a retry; a
    token that does not open (expired) or that Facebook refuses is a refusal, said plainly."""
    try:
        token = sealing.unseal(ctx.settings.session_secret or "", job.sealed)
    except sealing.Unsealable:
        return await job_rows.refuse(ctx.engine, job.id, IMPORT_EXPIRED)
    try:
        fb_ids = await facebook.friends_who_play(ctx.settings, ctx.http, token)
    except facebook.TokenRejected:
        return await job_rows.refuse(ctx.engine, job.id, IMPORT_REJECTED)
    await social.finish_friends_import(ctx.engine, job, fb_ids)
    return "done"


HANDLERS = {AVATAR: avatar, DATA_DELETION: data_deletion, FRIENDS_IMPORT: friends_import}
