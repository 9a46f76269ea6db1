from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from game_service.api.deps import Me, Svc, Token, Writer, services_of
from game_service.api.schemas import (
    ERRORS,
    ActionOut,
    DailyOut,
    EnergyPackOut,
    IdPath,
    LeaderboardOut,
    PlayerState,
    PublicPlayer,
    RenameIn,
)
from game_service.repository import economy, players, social

router = APIRouter(tags=["game"], responses=ERRORS)


@router.get("/api/me", responses={200: {"model": PlayerState}})
async def my_state(session: Token, request: Request):
    """Profile and game state: coins, energy (refilled lazily), level/XP, daily reward, gifts waiting."""
    svc = services_of(request)
    return JSONResponse(await players.get_state(svc.engine, svc.settings, session.player_id, session))


@router.patch("/api/me", response_model=PlayerState)
async def rename(body: RenameIn, me: Me, svc: Svc):
    await players.rename(svc.engine, me, body.name)
    return await players.get_state(svc.engine, svc.settings, me)


@router.get("/api/me/ledger")
async def my_ledger(
    me: Me,
    svc: Svc,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    """The player's append-only coin ledger, newest first."""
    return {"items": await players.ledger_entries(svc.engine, me, limit, offset)}


@router.post("/api/actions", responses={200: {"model": ActionOut}})
async def act(w: Writer):
    """Spend energy to earn coins and XP. 409 when out of energy."""
    return await w.run(economy.action(w.svc.settings, w.me))


@router.post("/api/daily-reward", responses={200: {"model": DailyOut}})
async def claim_daily(w: Writer):
    """Claim the daily reward: once per player per UTC day (409 afterwards)."""
    return await w.run(economy.daily_reward(w.svc.settings, w.me))


@router.post("/api/shop/energy", responses={200: {"model": EnergyPackOut}})
async def buy_energy(w: Writer):
    """Spend coins on an energy pack. 409 when the wallet does not hold enough."""
    return await w.run(economy.buy_energy(w.svc.settings, w.me))


@router.get("/api/players/{target_id}", response_model=PublicPlayer)
async def public_profile(target_id: IdPath, me: Me, svc: Svc):
    return await players.public_profile(svc.engine, svc.settings, target_id)


@router.get("/api/leaderboard", response_model=LeaderboardOut)
async def leaderboard(
    me: Me,
    svc: Svc,
    scope: Literal["global", "friends"] = "global",
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=100_000),
):
    """Players by XP (ties by id); ``scope=friends`` is you and your friends. Paginated."""
    return await social.leaderboard(svc.engine, svc.settings, me, scope, limit, offset)
