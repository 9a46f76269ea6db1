"""The live stream of a signed-in player: server-sent events of what happens to them.

``GET /api/events`` answers ``text/event-stream`` and stays open. Each event is a row of
``player_events`` (a friend request, an accepted one, a gift, ...)::

    id: 42
    event: gift
    data: {"id": 42, "kind": "gift", "from_id": 7}

A comment line every ``events_heartbeat_seconds`` keeps the connection open through the load
balancer and the CDN; the stream ends after ``events_stream_seconds`` (or when the server
stops) and the page opens the next one with ``Last-Event-ID``: it gets every event after
that one that is still kept (``events_keep_seconds``). A stream without it starts from now.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse

from game_service.api.deps import Me
from game_service.api.schemas import ERRORS
from game_service.errors import GameError
from game_service.repository import events
from game_service.repository.writes import session_generation

router = APIRouter(tags=["live"], responses=ERRORS)
log = logging.getLogger("game_service.live")

MAX_ID = 2**63 - 1
EVENT_ID_PATTERN = "^[0-9]{1,19}$"
SENT_REMEMBERED = 256  # ids a stream remembers having sent (a late commit's lower id is not sent twice)
STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx (the local front door) passes each event on at once
}


def event_id(raw: str | None) -> int | None:
    """The header's id (digits: the header's pattern); one past every id there can be means
    "nothing after it"."""
    return None if raw is None else min(int(raw), MAX_ID)


def frame(row: dict) -> str:
    data = json.dumps({"id": row["id"], "kind": row["kind"], "from_id": row["from_id"]})
    return f"id: {row['id']}\nevent: {row['kind']}\ndata: {data}\n\n"


@router.get(
    "/api/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events, until the server ends them"},
               429: {"description": "this player has too many streams open on this server"}},
)
async def live_events(
    me: Me,
    # typed str (not str | None) so that the document's schema is the pattern alone
    last_event_id: Annotated[str, Header(alias="Last-Event-ID", description="the id of the last event received",
                                         pattern=EVENT_ID_PATTERN)] = None,  # type: ignore[assignment]
):
    """What happens to you, as it happens (friend requests, friends, gifts): server-sent
    events. Reconnect with ``Last-Event-ID`` to get what you missed."""
    svc = me.svc
    s = svc.settings
    after = event_id(last_event_id)
    hub = svc.hub
    player_id = me.id
    sub = hub.subscribe(player_id)  # before the floor is read: nothing falls between the two
    try:
        floor = after if after is not None else await events.last_id(svc.engine, player_id)
    except BaseException:
        hub.unsubscribe(sub)
        raise
    loop = asyncio.get_running_loop()

    async def body():
        sent: deque[int] = deque(maxlen=SENT_REMEMBERED)
        try:
            # where this stream starts: the page's Last-Event-ID should it need to reconnect
            yield f"retry: 1000\nid: {floor}\nevent: open\ndata: {{}}\n\n"
            if after is not None:
                sub.wake.set()  # catch up at once
            deadline = loop.time() + s.events_stream_seconds
            while not sub.ended:
                left = deadline - loop.time()
                if left <= 0:
                    return
                try:
                    await asyncio.wait_for(sub.wake.wait(), min(s.events_heartbeat_seconds, left))
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                sub.wake.clear()
                if sub.ended:
                    return
                try:
                    # a signed-out (or deleted) player's stream ends here: every sign-out wakes it
                    me.session.check(await session_generation(svc.engine, player_id))
                    rows = await events.since(svc.engine, player_id, max(sent, default=floor))
                except GameError:  # the session is over: the page's next stream gets the 401
                    return
                except Exception as exc:  # noqa: BLE001 - the database is away: end; the page comes back
                    log.warning("a live stream could not read its events; ending it",
                                extra={"fields": {"error": f"{type(exc).__name__}: {exc}"[:300]}})
                    return
                for row in rows:
                    if row["id"] <= floor or row["id"] in sent:
                        continue
                    sent.append(row["id"])
                    yield frame(row)
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(body(), media_type="text/event-stream", headers=STREAM_HEADERS)
