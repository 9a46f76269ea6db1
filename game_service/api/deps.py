"""Request dependencies: the authenticated player, the Idempotency-Key, shared services,
and the write context that every write route shares (``Writer``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service.core import session_renewal
from game_service.core.config import Settings
from game_service.errors import GameError
from game_service.repository.writes import Write, run_write, session_generation
from game_service.core.security import Session, Sessions, unauthorized

_IDEM_OK = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    storage: object
    sessions: Sessions
    http: httpx.AsyncClient


def services_of(request: Request) -> Services:
    """The shared services, for the hot routes: a FastAPI dependency costs a ``SELECT 1``
    request about a tenth of its CPU, ``request`` itself nothing."""
    return request.app.state.services


async def services(request: Request) -> Services:
    return services_of(request)


class SessionBearer(HTTPBearer):
    """The caller's token, verified (signature, expiry) but NOT yet checked against the
    database: a route that takes it (``Token``) must check it in its own statement, with
    ``Session.check`` on the player's current generation (the state read and the writes
    do: one statement per request instead of two). Every other route takes ``Me``.

    One dependency (the OpenAPI document's bearer scheme as well): the header, the
    signature and the renewal in one call, since each dependency FastAPI resolves costs a
    hot request a few percent of its CPU."""

    async def __call__(self, request: Request) -> Session:  # type: ignore[override]
        creds = await super().__call__(request)
        if creds is None:
            raise unauthorized("not_authenticated", "sign in first (Authorization: Bearer <token>)")
        sessions = services_of(request).sessions
        session = sessions.verify(creds.credentials)
        if session is None:
            raise unauthorized("invalid_session", "session token is invalid or expired; sign in again")
        session_renewal.note(request, sessions, session)  # sent only if the session is not then refused
        return session


_BEARER = dict(scheme_name="HTTPBearer", description="Session token from /api/auth/guest or /api/auth/facebook")
session_token = SessionBearer(auto_error=False, **_BEARER)
_optional_bearer = HTTPBearer(auto_error=False, **_BEARER)


async def current_session(session: Session = Depends(session_token), svc: Services = Depends(services)) -> Session:
    """The caller's session: a valid, unexpired token of a player who still exists, of the
    player's current token generation (signing out or linking Facebook revokes older ones).
    Checked in the database before the route does anything: a deleted player's token is a
    401 and moves nothing."""
    session.check(await session_generation(svc.engine, session.player_id))
    return session


async def player_id(session: Session = Depends(current_session)) -> int:
    return session.player_id


async def optional_player_id(
    creds: HTTPAuthorizationCredentials | None = Depends(_optional_bearer), svc: Services = Depends(services)
) -> int | None:
    """The signed-in player, or None without a (valid, current) session (never renewed here:
    the routes that take it answer a token of their own)."""
    session = None if creds is None else svc.sessions.verify(creds.credentials)
    if session is None:
        return None
    try:
        return (await current_session(session, svc)).player_id
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
Token = Annotated[Session, Depends(session_token)]  # generation checked by the route's own statement
IdemKey = Annotated[str | None, Depends(idempotency_key)]


@dataclass
class WriteContext:
    """What a write route needs: who writes (a verified token, whose generation the write's
    own transaction checks), with which Idempotency-Key, on which services."""

    request: Request
    svc: Services
    session: Session
    key: str | None

    @property
    def me(self) -> int:
        return self.session.player_id

    async def run(self, write: Write, body: bytes = b"") -> JSONResponse:
        """Check the session, then run ``write`` (rate limit, idempotency, one transaction)
        and answer its result.

        ``body`` is the request body as validated, part of the Idempotency-Key fingerprint."""
        fp = fingerprint(self.request, body) if self.key is not None else ""
        status, out = await run_write(self.svc.engine, self.svc.settings, self.session, write, self.key, fp)
        return JSONResponse(out, status_code=status)  # a write's body is JSON types already


async def write_context(request: Request, session: Token, key: IdemKey) -> WriteContext:
    return WriteContext(request, services_of(request), session, key)


Writer = Annotated[WriteContext, Depends(write_context)]
