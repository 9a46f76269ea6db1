from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from game_service import facebook, repository
from game_service.api.deps import Services, idempotency_key, player_id, services
from game_service.api.game import write
from game_service.api.schemas import ERRORS, IdPath, FacebookImportIn, FriendRequestIn, GiftClaimOut, GiftIn, GiftSentOut
from game_service.errors import GameError

router = APIRouter(tags=["social"], responses=ERRORS)


@router.get("/api/friends")
async def list_friends(me: int = Depends(player_id), svc: Services = Depends(services)):
    """Friends, plus incoming and outgoing friend requests."""
    return await repository.list_friends(svc.engine, svc.settings, me)


@router.post("/api/friends/requests", status_code=201)
async def request_friend(
    body: FriendRequestIn,
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Ask a player to be friends (if they already asked you, you become friends)."""
    return await write(
        request, svc, me, "friend_request", key, repository.friend_request_handler(me, body.player_id),
        body.model_dump_json().encode(),
    )


@router.post("/api/friends/requests/{request_id}/accept")
async def accept_friend(
    request_id: IdPath,
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    return await write(request, svc, me, "friend_accept", key, repository.accept_request_handler(me, request_id))


@router.delete("/api/friends/requests/{request_id}", status_code=204)
async def decline_friend(request_id: IdPath, me: int = Depends(player_id), svc: Services = Depends(services)):
    """Decline an incoming request or cancel an outgoing one."""
    await repository.delete_request(svc.engine, me, request_id)
    return Response(status_code=204)


@router.delete("/api/friends/{friend_id}", status_code=204)
async def remove_friend(friend_id: IdPath, me: int = Depends(player_id), svc: Services = Depends(services)):
    await repository.remove_friend(svc.engine, me, friend_id)
    return Response(status_code=204)


@router.post("/api/friends/facebook-import")
async def import_facebook_friends(
    body: FacebookImportIn, me: int = Depends(player_id), svc: Services = Depends(services)
):
    """Befriend the Facebook friends who also play (needs a linked Facebook account)."""
    fb_id = await facebook.user_from_access_token(svc.settings, svc.http, body.access_token)
    state = await repository.get_state(svc.engine, svc.settings, me)
    linked = await repository.find_by_facebook(svc.engine, fb_id)
    if not state["facebook_linked"] or linked != me:
        raise GameError(403, "facebook_mismatch", "this access token belongs to a Facebook account not linked to you")
    ids = await facebook.friends_who_play(svc.settings, svc.http, body.access_token)
    added = await repository.import_facebook_friends(svc.engine, me, ids)
    return {"added": added}


@router.post("/api/gifts", status_code=201, responses={201: {"model": GiftSentOut}})
async def send_gift(
    body: GiftIn,
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Send a friend a gift of coins: once per friend per UTC day, a few per day in all."""
    return await write(
        request, svc, me, "gift_send", key, repository.send_gift_handler(svc.settings, me, body.to_player_id),
        body.model_dump_json().encode(),
    )


@router.get("/api/gifts")
async def gift_inbox(
    limit: int = Query(50, ge=1, le=200), me: int = Depends(player_id), svc: Services = Depends(services)
):
    """The inbox: unclaimed gifts first."""
    return {"items": await repository.inbox(svc.engine, svc.settings, me, limit)}


@router.post("/api/gifts/{gift_id}/claim", responses={200: {"model": GiftClaimOut}})
async def claim_gift(
    gift_id: IdPath,
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Claim a gift sent to you, exactly once (409 on a second claim, 404 if it is not yours)."""
    if repository.fast_path(svc.engine, key):
        status, out = await repository.claim_gift_fast(svc.engine, svc.settings, me, gift_id)
        return JSONResponse(out, status_code=status)
    return await write(request, svc, me, "gift_claim", key, repository.claim_gift_handler(me, gift_id))
