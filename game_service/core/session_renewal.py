"""Sliding sessions: a session renews itself while it is used.

A request authenticated by a valid token signed more than ``RENEW_AFTER_SECONDS`` ago gets a
fresh token (same player, same generation: signing out still revokes it) in the
``X-Session-Token`` response header; the page stores it in place of the
old one. A player who plays at least once a week is never signed out, and renewal is bounded:
at most one new token per day per player chain, and only for a token that is still valid
(an expired or revoked one is refused before this runs).

``note`` is called by the authentication dependency once the token is verified, ``confirm``
once the database has checked the session (the player's current generation: in a statement
of its own or in the route's own statement); ``RenewalMiddleware`` adds the header only to
the response of a request whose session was confirmed. A refused or unchecked session (a
401, a body refused before the route ran) is never renewed.
"""

from __future__ import annotations

from starlette.requests import Request

from game_service.core import clock

HEADER = "X-Session-Token"
RENEW_AFTER_SECONDS = 24 * 3600
_STATE_KEY = "renewed_session_token"
_PENDING_KEY = "renewable_session_token"


def fresh_token(sessions, session) -> str | None:
    """A new token of the same player and generation when ``session`` (verified, current)
    was signed long enough ago to renew."""
    if clock.now_ms() // 1000 - session.signed_at < RENEW_AFTER_SECONDS:
        return None
    return sessions.issue(session.player_id, session.generation)


def note(request: Request, sessions, session) -> None:
    """The verified token is old enough: a renewed one is kept, to be sent once confirmed."""
    renewed = fresh_token(sessions, session)
    if renewed is not None:
        setattr(request.state, _PENDING_KEY, renewed)


def confirm(request: Request) -> None:
    """The database accepted the session: its renewed token (if any) goes out."""
    renewed = getattr(request.state, _PENDING_KEY, None)
    if renewed is not None:
        setattr(request.state, _STATE_KEY, renewed)


class RenewalMiddleware:
    """Pure ASGI: adds the renewed token (if the request got one) to the response headers."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_token(message):
            if message["type"] == "http.response.start" and message["status"] != 401:
                token = scope.get("state", {}).get(_STATE_KEY)
                if token:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (HEADER.lower().encode(), token.encode())]}
            await send(message)

        return await self.app(scope, receive, send_with_token)
