from __future__ import annotations

from fastapi import APIRouter, Query, Response

from game_service.api import jobs
from game_service.api.deps import Me, Writer
from game_service.core import facebook, sealing
from game_service.jobs import FRIENDS_IMPORT
from game_service.api.schemas import (
    ERRORS,
    FACEBOOK_ERRORS,
    FacebookImportIn,
    FacebookImportOut,
    FriendRequestIn,
    FriendsOut,
    GiftClaimOut,
    GiftIn,
    GiftSentOut,
    IdPath,
    JobOut,
    errors_for,
    link,
    linked,
)
from game_service.errors import GameError
from game_service.repository import players, social

router = APIRouter(tags=["social"], responses=ERRORS)


@router.get("/api/friends", response_model=FriendsOut, responses=linked(
    200,
    AcceptIncoming=link("POST", "/api/friends/requests/{request_id}/accept",
                        parameters={"request_id": "$response.body#/incoming_requests/0/request_id"}),
    DeclineIncoming=link("DELETE", "/api/friends/requests/{request_id}",
                         parameters={"request_id": "$response.body#/incoming_requests/0/request_id"}),
    GiftAFriend=link("POST", "/api/gifts", body={"to_player_id": "$response.body#/friends/0/id"}),
    RemoveAFriend=link("DELETE", "/api/friends/{friend_id}", parameters={"friend_id": "$response.body#/friends/0/id"}),
))
async def list_friends(
    me: Me,
    limit: int = Query(100, ge=1, le=200),
    offset: int = Query(0, ge=0, le=100_000),
):
    """A page of friends (by name; ``next_offset`` for the next one), plus the incoming and
    outgoing friend requests (each capped at the pending-request limit)."""
    return await social.list_friends(me.svc.engine, me.svc.settings, me.id, limit, offset)


@router.post("/api/friends/requests", status_code=201, responses=linked(
    201,
    CancelIt=link("DELETE", "/api/friends/requests/{request_id}", parameters={"request_id": "$response.body#/request_id"}),
    ItsProfile=link("GET", "/api/players/{target_id}", parameters={"target_id": "$response.body#/player_id"}),
))
async def request_friend(body: FriendRequestIn, w: Writer):
    """Ask a player to be friends (if they already asked you, you become friends)."""
    return await w.run(lambda me: social.friend_request(w.svc.settings, me, body.player_id), body.model_dump_json().encode())


@router.post("/api/friends/requests/{request_id}/accept")
async def accept_friend(request_id: IdPath, w: Writer):
    return await w.run(lambda me: social.accept_request(me, request_id))


@router.delete("/api/friends/requests/{request_id}", status_code=204)
async def decline_friend(request_id: IdPath, me: Me):
    """Decline an incoming request or cancel an outgoing one."""
    await social.delete_request(me.svc.engine, me.id, request_id)
    return Response(status_code=204)


@router.delete("/api/friends/{friend_id:id}", status_code=204)
async def remove_friend(friend_id: IdPath, me: Me):
    await social.remove_friend(me.svc.engine, me.id, friend_id)
    return Response(status_code=204)


@router.post("/api/friends/facebook-import", response_model=FacebookImportOut, responses={
    **FACEBOOK_ERRORS, **errors_for(403),
    202: {"model": JobOut, "description": "with a job queue: the import is handed to the worker; read the job "
                                          "(its `href`, also in `Location`) until it is done",
          "headers": {"Location": {"description": "the job's `href`", "schema": {"type": "string"}}},
          "links": {"ReadTheJob": link("GET", "/api/jobs/{job_id}", parameters={"job_id": "$response.body#/id"})}},
})
async def import_facebook_friends(body: FacebookImportIn, caller: Me):
    """Befriend the Facebook friends who also play (needs a linked Facebook account).

    The token is checked here (it must be of the Facebook account linked to you). With a job
    queue (as in AWS) the friend list, which Facebook hands out page by page, is read by the
    worker: 202 with the job, whose ``added`` says how many friends it made; the token rides in
    the job's row sealed (``core.sealing``), dropped when the job ends. An import asked for
    while one is under way answers that one. Without a queue (a local run): done here, 200."""
    svc, me = caller.svc, caller.id
    fb_id = await facebook.user_from_access_token(svc.settings, svc.http, body.access_token)
    state = await players.get_state(svc.engine, svc.settings, me)
    linked = await players.find_by_facebook(svc.engine, fb_id)
    if not state["facebook_linked"] or linked != me:
        raise GameError(403, "facebook_mismatch", "this access token belongs to a Facebook account not linked to you")
    if svc.queue is not None:
        return await jobs.record_and_send(svc, FRIENDS_IMPORT, me, f"facebook:{fb_id}", again_when_finished=True,
                                          sealed=sealing.seal(svc.settings.session_secret or "", body.access_token))
    ids = await facebook.friends_who_play(svc.settings, svc.http, body.access_token)
    added = await social.import_facebook_friends(svc.engine, me, ids)
    return {"added": added}


@router.post("/api/gifts", status_code=201, responses=linked(
    201, GiftSentOut,
    ClaimIt=link("POST", "/api/gifts/{gift_id}/claim", parameters={"gift_id": "$response.body#/gift_id"}),
))
async def send_gift(body: GiftIn, w: Writer):
    """Send a friend a gift of coins: once per friend per UTC day, a few per day in all."""
    return await w.run(lambda me: social.send_gift(w.svc.settings, me, body.to_player_id), body.model_dump_json().encode())


@router.get("/api/gifts", responses=linked(
    200, ClaimTheFirst=link("POST", "/api/gifts/{gift_id}/claim", parameters={"gift_id": "$response.body#/items/0/id"}),
))
async def gift_inbox(me: Me, limit: int = Query(50, ge=1, le=200)):
    """The inbox: unclaimed gifts first."""
    return {"items": await social.inbox(me.svc.engine, me.svc.settings, me.id, limit)}


@router.post("/api/gifts/{gift_id}/claim", responses={200: {"model": GiftClaimOut}})
async def claim_gift(gift_id: IdPath, w: Writer):
    """Claim a gift sent to you, exactly once (409 on a second claim, 404 if it is not yours)."""
    return await w.run(lambda me: social.claim_gift(me, gift_id))
