from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.exc import IntegrityError

from game_service import facebook
from game_service.repository import players
from game_service.api.deps import Services, optional_player_id, player_id, services
from game_service.api.schemas import ERRORS, FacebookIn, GuestIn, PlayerState, TokenOut

router = APIRouter(tags=["auth"], responses=ERRORS)


@router.post("/api/auth/guest", response_model=TokenOut, status_code=201)
async def guest_sign_in(body: GuestIn | None = None, svc: Services = Depends(services)):
    """Create a guest player (no Facebook needed) and return a session token."""
    pid = await players.create_player(svc.engine, svc.settings, body.name if body else None)
    return {"token": svc.sessions.issue(pid), "player": await players.get_state(svc.engine, svc.settings, pid)}


@router.post("/api/auth/facebook", response_model=TokenOut)
async def facebook_sign_in(
    body: FacebookIn, current: int | None = Depends(optional_player_id), svc: Services = Depends(services)
):
    """Sign in with Facebook (JS SDK ``signedRequest`` or an access token).

    A signed-in guest who signs in with a Facebook account that has no player yet keeps
    their progress: the account is linked to the guest.
    """
    fb_id = await facebook.resolve_user(svc.settings, svc.http, body.signed_request, body.access_token)
    pid = await players.find_by_facebook(svc.engine, fb_id)
    if pid is None and current is not None and await players.player_exists(svc.engine, current):
        await players.link_facebook(svc.engine, current, fb_id)
        pid = current
    if pid is None:
        try:
            pid = await players.create_player(svc.engine, svc.settings, None, fb_user_id=fb_id)
        except IntegrityError:
            # a concurrent first sign-in with the same Facebook account created it
            pid = await players.find_by_facebook(svc.engine, fb_id)
            if pid is None:
                raise
    return {"token": svc.sessions.issue(pid), "player": await players.get_state(svc.engine, svc.settings, pid)}


@router.post("/api/me/facebook", response_model=PlayerState)
async def link_facebook(body: FacebookIn, me: int = Depends(player_id), svc: Services = Depends(services)):
    """Link Facebook to the signed-in (guest) player, keeping all progress."""
    fb_id = await facebook.resolve_user(svc.settings, svc.http, body.signed_request, body.access_token)
    await players.link_facebook(svc.engine, me, fb_id)
    return await players.get_state(svc.engine, svc.settings, me)
