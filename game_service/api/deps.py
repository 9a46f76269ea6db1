"""Request dependencies: the authenticated player, the Idempotency-Key, shared services,
and the write context that every write route shares (``Writer``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service.config import Settings
from game_service.errors import GameError
from game_service.repository.writes import Write, run_write, session_generation
from game_service.security import Session, Sessions

_bearer = HTTPBearer(auto_error=False, description="Session token from /api/auth/guest or /api/auth/facebook")
_IDEM_OK = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    storage: object
    sessions: Sessions
    http: httpx.AsyncClient


async def services(request: Request) -> Services:
    return request.app.state.services


def _unauthorized(code: str, detail: str) -> GameError:
    return GameError(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


async def current_session(
    creds: HTTPAuthorizationCredentials | None = Depends(_bearer), svc: Services = Depends(services)
) -> Session:
    """The caller's session: a valid, unexpired token of a player who still exists, of the
    player's current token generation (signing out or linking Facebook revokes older ones).
    Checked in the database before the route does anything: a deleted player's token is a
    401 and moves nothing."""
    if creds is None:
        raise _unauthorized("not_authenticated", "sign in first (Authorization: Bearer <token>)")
    session = svc.sessions.verify(creds.credentials)
    if session is None:
        raise _unauthorized("invalid_session", "session token is invalid or expired; sign in again")
    generation = await session_generation(svc.engine, session.player_id)
    if generation is None:
        raise _unauthorized("invalid_session", "this player no longer exists; sign in again")
    if generation != session.generation:
        raise _unauthorized("invalid_session", "this session was signed out; sign in again")
    return session


async def player_id(session: Session = Depends(current_session)) -> int:
    return session.player_id


async def optional_player_id(
    creds: HTTPAuthorizationCredentials | None = Depends(_bearer), svc: Services = Depends(services)
) -> int | None:
    """The signed-in player, or None without a (valid, current) session."""
    if creds is None:
        return None
    try:
        return (await current_session(creds, svc)).player_id
    except GameError:
        return None


async def idempotency_key(
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description="Retry a write with the same key to get the same result once",
        json_schema_extra={"minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$"},  # 1-128 visible ASCII
    ),
) -> str | None:
    if idempotency_key is None:
        return None
    if not _IDEM_OK.match(idempotency_key):
        raise GameError(422, "invalid_idempotency_key", "Idempotency-Key must be 1-128 visible ASCII characters")
    return idempotency_key


def fingerprint(request: Request, body: bytes | str = b"") -> str:
    raw = body.encode() if isinstance(body, str) else body
    return f"{request.method} {request.url.path} " + hashlib.sha256(raw).hexdigest()[:32]


Svc = Annotated[Services, Depends(services)]
Me = Annotated[int, Depends(player_id)]
IdemKey = Annotated[str | None, Depends(idempotency_key)]


@dataclass
class WriteContext:
    """What a write route needs: who writes, with which Idempotency-Key, on which services."""

    request: Request
    svc: Services
    me: int
    key: str | None

    async def run(self, write: Write, body: bytes = b"") -> JSONResponse:
        """Run ``write`` (rate limit, idempotency, one transaction) and answer its result.

        ``body`` is the request body as validated, part of the Idempotency-Key fingerprint."""
        status, out = await run_write(
            self.svc.engine, self.svc.settings, self.me, write, self.key, fingerprint(self.request, body)
        )
        return JSONResponse(jsonable_encoder(out), status_code=status)


async def write_context(request: Request, svc: Svc, me: Me, key: IdemKey) -> WriteContext:
    return WriteContext(request, svc, me, key)


Writer = Annotated[WriteContext, Depends(write_context)]
