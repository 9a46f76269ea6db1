from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from game_service.api.deps import Me, StateReader, Writer
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
async def my_state(caller: StateReader):
    """Profile and game state: coins, energy (refilled lazily), level/XP, daily reward, gifts waiting."""
    return await caller.state()


@router.patch("/api/me", response_model=PlayerState)
async def rename(body: RenameIn, me: Me):
    await players.rename(me.svc.engine, me.id, body.name)
    return await players.get_state(me.svc.engine, me.svc.settings, me.id)


@router.get("/api/me/ledger")
async def my_ledger(
    me: Me,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    """The player's append-only coin ledger, newest first."""
    return {"items": await players.ledger_entries(me.svc.engine, me.id, limit, offset)}


@router.post("/api/actions", responses={200: {"model": ActionOut}})
async def act(w: Writer):
    """Spend energy to earn coins and XP. 409 when out of energy."""
    return await w.run(lambda me: economy.action(w.svc.settings, me))


@router.post("/api/daily-reward", responses={200: {"model": DailyOut}})
async def claim_daily(w: Writer):
    """Claim the daily reward: once per player per UTC day (409 afterwards)."""
    return await w.run(lambda me: economy.daily_reward(w.svc.settings, me))


@router.post("/api/shop/energy", responses={200: {"model": EnergyPackOut}})
async def buy_energy(w: Writer):
    """Spend coins on an energy pack. 409 when the wallet does not hold enough."""
    return await w.run(lambda me: economy.buy_energy(w.svc.settings, me))


@router.get("/api/players/{target_id}", response_model=PublicPlayer)
async def public_profile(target_id: IdPath, me: Me):
    return await players.public_profile(me.svc.engine, me.svc.settings, target_id)


@router.get("/api/leaderboard", response_model=LeaderboardOut)
async def leaderboard(
    me: Me,
    scope: Literal["global", "friends"] = "global",
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=100_000),
):
    """Players by XP (ties by id); ``scope=friends`` is you and your friends. Paginated."""
    return await social.leaderboard(me.svc.engine, me.svc.settings, me.id, scope, limit, offset)
