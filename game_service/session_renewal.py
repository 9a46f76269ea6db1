"""Sliding sessions: a session renews itself while it is used.

A request authenticated by a valid token signed more than ``RENEW_AFTER_SECONDS`` ago gets a
fresh token in the ``X-Session-Token`` response header; the page stores it in place of the
old one. A player who plays at least once a week is never signed out, and renewal is bounded:
at most one new token per day per player chain, and only for a token that is still valid
(an expired or revoked one is refused before this runs).

``note`` is called by the authentication dependency once the token is verified;
``RenewalMiddleware`` adds the header to whatever response the route returns.
"""

from __future__ import annotations

from starlette.requests import Request

from game_service import clock

HEADER = "X-Session-Token"
RENEW_AFTER_SECONDS = 24 * 3600
_STATE_KEY = "renewed_session_token"


def token_age_seconds(token: str) -> int | None:
    """Age of a session token already verified by ``Sessions.verify`` (its signed
    timestamp, ``payload.timestamp.signature``); None when it cannot be read."""
    from itsdangerous.encoding import base64_decode, bytes_to_int

    parts = token.rsplit(".", 2)
    if len(parts) != 3:
        return None
    try:
        signed_at = bytes_to_int(base64_decode(parts[1]))
    except Exception:  # noqa: BLE001 - not our format: no renewal
        return None
    return clock.now_ms() // 1000 - signed_at


def fresh_token(sessions, token: str, player_id: int) -> str | None:
    """A new token for ``player_id`` when ``token`` (valid) is old enough to renew."""
    age = token_age_seconds(token)
    if age is None or age < RENEW_AFTER_SECONDS:
        return None
    return sessions.issue(player_id)


def note(request: Request, sessions, token: str, player_id: int) -> None:
    renewed = fresh_token(sessions, token, player_id)
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
            if message["type"] == "http.response.start":
                token = scope.get("state", {}).get(_STATE_KEY)
                if token:
                    message = {**message, "headers": [*message.get("headers", []),
                                                      (HEADER.lower().encode(), token.encode())]}
            await send(message)

        return await self.app(scope, receive, send_with_token)
