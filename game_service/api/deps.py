"""Request dependencies: the caller (``Me``, ``Writer``, ``StateReader``: one :class:`Caller`,
checked against the database by the dependency or by the route's own statement), the
Idempotency-Key, and the shared services (``services_of``)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import httpx
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service.core import session_renewal
from game_service.core.config import Settings
from game_service.core.live import Hub
from game_service.errors import GameError
from game_service.jobs.queue import SqsQueue
from game_service.repository import players
from game_service.repository.writes import Write, count_session_write, run_write, session_generation
from game_service.core.security import Session, Sessions, unauthorized

_IDEM_OK = re.compile(r"^[\x21-\x7e]{1,128}$")


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    storage: object
    sessions: Sessions
    http: httpx.AsyncClient
    # the job queue (game_service.jobs) when GAME_JOB_QUEUE_URL is set: slow work (the avatar)
    # goes to the worker; None: the service does it inside the request, as on a local run
    queue: SqsQueue | None = None
    # live updates (core/live.py): this process's listener and its open streams
    hub: Hub | None = None


def services_of(request: Request) -> Services:
    """The shared services, for the hot routes: a FastAPI dependency costs a ``SELECT 1``
    request about a tenth of its CPU, ``request`` itself nothing."""
    return request.app.state.services


@dataclass
class Caller:
    """The signed-in caller: a verified token (signature, expiry) and the services. Whether
    the token's player still exists and the token is of the player's current generation is
    the database's to say (``Session.check``); the player's id is reachable only through a
    check, so no route can forget it:

    * ``Me``: checked in a statement of its own before the route runs (``id``), a write
      (any method but GET and HEAD) counted against the write budget by that statement;
    * ``Writer``: ``run`` builds the write for the player and runs it, checked by the write's
      own statement or transaction (one statement per request instead of two);
    * ``StateReader``: ``state`` reads the player's state, checked by that same read."""

    request: Request
    svc: Services
    session: Session
    key: str | None = None  # the Idempotency-Key (Writer)
    checked: bool = False

    @property
    def id(self) -> int:
        if not self.checked:
            raise RuntimeError("the session is unchecked: take Me, or use run() or state()")
        return self.session.player_id

    def _accepted(self) -> None:
        """The database accepted the session: its id is reachable, its renewal may go out."""
        self.checked = True
        session_renewal.confirm(self.request)

    async def check(self) -> None:
        self.session.check(await session_generation(self.svc.engine, self.session.player_id))
        self._accepted()

    async def check_and_count_write(self) -> None:
        """The check, and one write counted against the player's write budget (429 once it
        is spent), in one statement."""
        await count_session_write(self.svc.engine, self.svc.settings, self.session)
        self._accepted()

    async def run(self, build: Callable[[int], Write], body: bytes = b"") -> JSONResponse:
        """Run the write ``build(player_id)`` (session check, rate limit, idempotency, one
        transaction or statement) and answer its result.

        ``body`` is the request body as validated, part of the Idempotency-Key fingerprint."""
        fp = fingerprint(self.request, body) if self.key is not None else ""
        write = build(self.session.player_id)
        try:
            status, out = await run_write(self.svc.engine, self.svc.settings, self.session, write, self.key, fp)
        except GameError as exc:
            if exc.status != 401:  # the session was accepted, the write refused
                self._accepted()
            raise
        self._accepted()
        return JSONResponse(out, status_code=status)  # a write's body is JSON types already

    async def state(self) -> JSONResponse:
        """The player's state, the session checked by the same read."""
        svc = self.svc
        state = await players.get_state(svc.engine, svc.settings, self.session.player_id, self.session)
        self._accepted()
        return JSONResponse(state)


class SessionBearer(HTTPBearer):
    """The caller's token, verified (signature, expiry) but NOT yet checked against the
    database: a :class:`Caller` whose id the route reaches only through a check.

    One dependency (the OpenAPI document's bearer scheme as well): the header, the
    signature and the renewal in one call, since each dependency FastAPI resolves costs a
    hot request a few percent of its CPU."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        creds = await super().__call__(request)
        if creds is None:
            raise unauthorized("not_authenticated", "sign in first (Authorization: Bearer <token>)")
        svc = services_of(request)
        session = svc.sessions.verify(creds.credentials)
        if session is None:
            raise unauthorized("invalid_session", "session token is invalid or expired; sign in again")
        session_renewal.note(request, svc.sessions, session)  # sent once the database accepts the session
        return Caller(request, svc, session)


_BEARER = dict(scheme_name="HTTPBearer", description="Session token from /api/auth/guest or /api/auth/facebook")
session_token = SessionBearer(auto_error=False, **_BEARER)
_optional_bearer = HTTPBearer(auto_error=False, **_BEARER)


_READS = frozenset({"GET", "HEAD"})


async def checked_caller(caller: Caller = Depends(session_token)) -> Caller:
    """The caller, checked in the database before the route does anything: a deleted
    player's token is a 401 and moves nothing. Any other method than GET and HEAD is a write:
    it counts against the player's write budget like every write of ``Writer`` does (the edge
    has no other bound on a player's writes)."""
    if caller.request.method in _READS:
        await caller.check()
    else:
        await caller.check_and_count_write()
    return caller


async def optional_player_id(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_optional_bearer)
) -> int | None:
    """The signed-in player, or None without a (valid, current) session (never renewed here:
    the routes that take it answer a token of their own)."""
    svc = services_of(request)
    session = None if creds is None else svc.sessions.verify(creds.credentials)
    if session is None:
        return None
    caller = Caller(request, svc, session)
    try:
        await caller.check()
    except GameError:
        return None
    return caller.id


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


IdemKey = Annotated[str | None, Depends(idempotency_key)]


StateReader = Annotated[Caller, Depends(session_token)]


async def write_context(caller: StateReader, key: IdemKey) -> Caller:
    caller.key = key
    return caller


Me = Annotated[Caller, Depends(checked_caller)]
Writer = Annotated[Caller, Depends(write_context)]
