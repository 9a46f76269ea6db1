"""The slow part of a Facebook data deletion, after the player's rows went in the request:
every version of every upload and avatar of the player in the media bucket, their CDN paths
invalidated, then the request marked completed. Safe to repeat: what is gone stays gone, and
a completed request stays completed. The worker runs it (``handlers.data_deletion``); without
a queue (a local run), or when the queue is down, the request runs it itself.
"""

from __future__ import annotations

import asyncio

from game_service.core import cdn
from game_service.core.storage import avatars_prefix, incoming_prefix
from game_service.repository import deletion


async def remove_media_and_finish(storage, settings, engine, code: str, player_id: int | None) -> None:
    if player_id is not None:
        media = avatars_prefix(player_id)
        await asyncio.to_thread(storage.delete_prefix, media)
        await asyncio.to_thread(storage.delete_prefix, incoming_prefix(player_id))
        await asyncio.to_thread(cdn.invalidate, settings, [f"/{media}*"])
    await deletion.finish_deletion(engine, code)
