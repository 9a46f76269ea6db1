from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from game_service import repository
from game_service.api.deps import Services, fingerprint, idempotency_key, player_id, services
from game_service.api.schemas import (
    ERRORS,
    IdPath,
    ActionOut,
    DailyOut,
    EnergyPackOut,
    LeaderboardOut,
    PlayerState,
    PublicPlayer,
    RenameIn,
)

router = APIRouter(tags=["game"], responses=ERRORS)


async def write(request: Request, svc: Services, me: int, op: str, key: str | None, handler, body: bytes = b""):
    status, out = await repository.run_write(
        svc.engine, svc.settings, me, op, key, fingerprint(request, body), handler
    )
    return JSONResponse(jsonable_encoder(out), status_code=status)


@router.get("/api/me", responses={200: {"model": PlayerState}})
async def my_state(me: int = Depends(player_id), svc: Services = Depends(services)):
    """Profile and game state: coins, energy (refilled lazily), level/XP, daily reward, gifts waiting."""
    return JSONResponse(await repository.get_state(svc.engine, svc.settings, me))


@router.patch("/api/me", response_model=PlayerState)
async def rename(body: RenameIn, me: int = Depends(player_id), svc: Services = Depends(services)):
    await repository.rename(svc.engine, me, body.name)
    return await repository.get_state(svc.engine, svc.settings, me)


@router.get("/api/me/ledger")
async def my_ledger(
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    me: int = Depends(player_id),
    svc: Services = Depends(services),
):
    """The player's append-only coin ledger, newest first."""
    return {"items": await repository.ledger_entries(svc.engine, me, limit, offset)}


@router.post("/api/actions", responses={200: {"model": ActionOut}})
async def act(
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Spend energy to earn coins and XP. 409 when out of energy."""
    if repository.fast_path(svc.engine, key):
        status, out = await repository.act_fast(svc.engine, svc.settings, me)
        return JSONResponse(out, status_code=status)
    return await write(request, svc, me, "action", key, repository.act_handler(svc.settings, me))


@router.post("/api/daily-reward", responses={200: {"model": DailyOut}})
async def claim_daily(
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Claim the daily reward: once per player per UTC day (409 afterwards)."""
    return await write(request, svc, me, "daily", key, repository.daily_handler(svc.settings, me))


@router.post("/api/shop/energy", responses={200: {"model": EnergyPackOut}})
async def buy_energy(
    request: Request,
    me: int = Depends(player_id),
    key: str | None = Depends(idempotency_key),
    svc: Services = Depends(services),
):
    """Spend coins on an energy pack. 409 when the wallet does not hold enough."""
    return await write(request, svc, me, "energy_pack", key, repository.buy_energy_handler(svc.settings, me))


@router.get("/api/players/{target_id}", response_model=PublicPlayer)
async def public_profile(target_id: IdPath, me: int = Depends(player_id), svc: Services = Depends(services)):
    return await repository.public_profile(svc.engine, svc.settings, target_id)


@router.get("/api/leaderboard", response_model=LeaderboardOut)
async def leaderboard(
    scope: Literal["global", "friends"] = "global",
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=100_000),
    me: int = Depends(player_id),
    svc: Services = Depends(services),
):
    """Players by XP (ties by id); ``scope=friends`` is you and your friends. Paginated."""
    return await repository.leaderboard(svc.engine, svc.settings, me, scope, limit, offset)
