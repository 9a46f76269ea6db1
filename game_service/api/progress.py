"""The castle coins build, the daily reward's streak, the energy shop's rule."""

from __future__ import annotations

from fastapi import APIRouter

from game_service.api.deps import Me, Writer
from game_service.api.schemas import ERRORS, ProgressOut
from game_service.repository import progress

router = APIRouter(tags=["game"], responses=ERRORS)


@router.get("/api/progress", responses={200: {"model": ProgressOut}})
async def my_progress(me: Me):
    """Castle level and next price; daily reward: available, streak, when the next one comes;
    energy pack: price, amount, whether it fits under the cap and is affordable now; the energy
    refill period and an action's energy cost (the page counts energy with them)."""
    return await progress.progress(me.svc.engine, me.svc.settings, me.id)


@router.post("/api/castle/upgrade")
async def upgrade_castle(w: Writer):
    """Build the castle one level higher (level n costs n x 50 coins; 409 ``insufficient_coins``,
    ``castle_complete``)."""
    return await w.run(lambda me: progress.upgrade_castle(w.svc.settings, me))
