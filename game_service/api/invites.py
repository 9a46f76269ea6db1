"""Finding friends: invite links (``/?invite=<code>``) and search by name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from game_service.api.deps import Me, Writer, services_of
from game_service.api.schemas import ERRORS, NO_CONTROL_PATTERN, NoControl
from game_service.repository import invites

router = APIRouter(tags=["social"], responses=ERRORS)

InviteCode = Annotated[str, Path(min_length=8, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("/api/invites")
async def my_invite(w: Writer):
    """Your invite code and link path; the same every time. Whoever signs in through the link
    and accepts it becomes your friend."""
    return await w.run(invites.my_invite)


@router.get("/api/invites/{code}")
async def invite_owner(code: InviteCode, request: Request):
    """Who sent an invite (no sign-in needed: the page greets the invitee with it)."""
    svc = services_of(request)
    return {"code": code, "player": await invites.inviter(svc.engine, svc.settings, code)}


@router.post("/api/invites/{code}/accept")
async def accept_invite(code: InviteCode, w: Writer):
    """Become friends with the invite's owner (``already_friends`` when you are)."""
    return await w.run(lambda me: invites.accept_invite(w.svc.settings, me, code), code.encode())


@router.get("/api/players")
async def search_players(
    me: Me,
    q: Annotated[str, Query(min_length=2, max_length=40, description="part of a player's name, any case",
                            json_schema_extra={"pattern": NO_CONTROL_PATTERN}), NoControl],
):
    """Players whose name contains ``q`` (names starting with it first), at most 10."""
    return {"items": await invites.search(me.svc.engine, me.svc.settings, me.id, q)}
