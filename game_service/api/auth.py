from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.exc import IntegrityError

from game_service.core import facebook
from game_service.core.client_address import client_key
from game_service.errors import GameError
from game_service.repository import players
from game_service.repository.writes import count_signup, next_session_generation, session_generation
from game_service.api.deps import Me, Services, optional_player_id, services_of
from game_service.api.schemas import ERRORS, FACEBOOK_ERRORS, FacebookIn, GuestIn, LinkedOut, TokenOut, link, linked

router = APIRouter(tags=["auth"], responses=ERRORS)


async def _revoke_older_tokens(svc: Services, pid: int) -> int:
    """Move the player's token generation on; return it (401 if the player is gone)."""
    generation = await next_session_generation(svc.engine, pid)
    if generation is None:
        raise GameError(401, "invalid_session", "this player no longer exists; sign in again",
                        headers={"WWW-Authenticate": "Bearer"})
    return generation


@router.post("/api/auth/guest", response_model=TokenOut, status_code=201, responses=linked(
    201,
    AskToBeFriends=link("POST", "/api/friends/requests", body={"player_id": "$response.body#/player/id"}),
    ItsProfile=link("GET", "/api/players/{target_id}", parameters={"target_id": "$response.body#/player/id"}),
))
async def guest_sign_in(request: Request, body: GuestIn | None = None):
    """Create a guest player (no Facebook needed) and return a session token.

    Guest sign-ups are limited per client address (429 ``signup_limited`` with Retry-After)."""
    svc = services_of(request)
    await count_signup(svc.engine, svc.settings, client_key(request, svc.settings))
    pid = await players.create_player(svc.engine, svc.settings, body.name if body else None)
    return {"token": svc.sessions.issue(pid, 0), "player": await players.get_state(svc.engine, svc.settings, pid)}


@router.post("/api/auth/facebook", response_model=TokenOut, responses=FACEBOOK_ERRORS)
async def facebook_sign_in(
    body: FacebookIn, request: Request, current: int | None = Depends(optional_player_id)
):
    """Sign in with Facebook (JS SDK ``signedRequest`` or an access token).

    A signed-in guest who signs in with a Facebook account that has no player yet keeps
    their progress: the account is linked to the guest, and the guest's older tokens stop
    working (use the token answered here).
    """
    svc = services_of(request)
    fb_id = await facebook.resolve_user(svc.settings, svc.http, body.signed_request, body.access_token)
    pid = await players.find_by_facebook(svc.engine, fb_id)
    generation = None
    if pid is None and current is not None:
        await players.link_facebook(svc.engine, current, fb_id)
        pid = current
        generation = await _revoke_older_tokens(svc, pid)
    if pid is None:
        try:
            pid = await players.create_player(svc.engine, svc.settings, None, fb_user_id=fb_id)
        except IntegrityError:
            # a concurrent first sign-in with the same Facebook account created it
            pid = await players.find_by_facebook(svc.engine, fb_id)
            if pid is None:
                raise
    if generation is None:
        generation = await session_generation(svc.engine, pid)
        if generation is None:  # deleted between the two reads
            raise GameError(409, "player_deleted", "this player was just deleted; sign in again")
    return {"token": svc.sessions.issue(pid, generation),
            "player": await players.get_state(svc.engine, svc.settings, pid)}


@router.post("/api/me/facebook", response_model=LinkedOut, responses=FACEBOOK_ERRORS)
async def link_facebook(body: FacebookIn, caller: Me):
    """Link Facebook to the signed-in (guest) player, keeping all progress.

    Every older token of the player stops working; the answer carries the new ``token``."""
    svc, me = caller.svc, caller.id
    fb_id = await facebook.resolve_user(svc.settings, svc.http, body.signed_request, body.access_token)
    await players.link_facebook(svc.engine, me, fb_id)
    generation = await _revoke_older_tokens(svc, me)
    return {**await players.get_state(svc.engine, svc.settings, me), "token": svc.sessions.issue(me, generation)}


@router.post("/api/auth/sign-out", status_code=204)
async def sign_out(caller: Me):
    """Sign out everywhere: every token issued to the player so far stops working."""
    await _revoke_older_tokens(caller.svc, caller.id)
    return Response(status_code=204)
