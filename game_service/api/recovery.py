"""Recovery codes: keep a guest account across devices without Facebook."""

from __future__ import annotations

from fastapi import APIRouter, Request

from game_service.api.deps import Writer, services_of
from game_service.api.schemas import ERRORS, Strict, TokenOut, text
from game_service.errors import GameError
from game_service.repository import players, recovery
from game_service.repository.writes import session_generation

router = APIRouter(tags=["auth"], responses=ERRORS)


class RecoverIn(Strict):
    code: text(1, 64)  # type: ignore[valid-type]


@router.post("/api/me/recovery-code", status_code=201)
async def new_recovery_code(w: Writer):
    """A new recovery code for your account (any earlier one stops working). Keep it: it
    signs you in on another device (``POST /api/auth/recover``)."""
    return await w.run(recovery.new_code)


@router.post("/api/auth/recover", response_model=TokenOut)
async def recover(body: RecoverIn, request: Request):
    """Sign in with a recovery code (spaces, dashes and case do not matter). The code keeps
    working until you make a new one, so a retry signs in again."""
    svc = services_of(request)
    pid = await recovery.redeem(svc.engine, body.code)
    generation = None if pid is None else await session_generation(svc.engine, pid)
    if generation is None:
        raise GameError(404, "unknown_recovery_code", "no account has this recovery code")
    return {"token": svc.sessions.issue(pid, generation),
            "player": await players.get_state(svc.engine, svc.settings, pid)}
