"""Facebook sign-in: signed_request verification and Graph API calls."""

from __future__ import annotations

import httpx

from game_service.core.config import Settings
from game_service.errors import GameError
from game_service.core.security import InvalidSignedRequest, parse_signed_request


def make_http() -> httpx.AsyncClient:
    """The client for the Graph API (the server's and the worker's): a slow Facebook costs a
    request seconds, not minutes."""
    return httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=3.0))


class TokenRejected(GameError):
    """Facebook refused the player's access token: asking again will not help (the player must
    sign in with Facebook again), unlike Facebook being unreachable or failing."""


def _require_enabled(s: Settings) -> None:
    if not s.facebook_enabled:
        raise GameError(503, "facebook_disabled", "Facebook sign-in is not configured on this server")


def user_from_signed_request(s: Settings, signed_request: str, *, check_age: bool = True) -> str:
    _require_enabled(s)
    try:
        payload = parse_signed_request(
            signed_request,
            s.facebook_app_secret or "",
            s.facebook_signed_request_max_age_seconds if check_age else None,
        )
    except InvalidSignedRequest as exc:
        raise GameError(401, "invalid_signed_request", f"Facebook signed_request rejected: {exc}") from None
    return str(payload["user_id"])


async def user_from_access_token(s: Settings, http: httpx.AsyncClient, token: str) -> str:
    """Ask the Graph API's debug_token who the token belongs to; it must be for our app."""
    _require_enabled(s)
    try:
        r = await http.get(
            f"{s.facebook_graph_url.rstrip('/')}/debug_token",
            params={"input_token": token, "access_token": f"{s.facebook_app_id}|{s.facebook_app_secret}"},
        )
    except httpx.HTTPError as exc:
        raise GameError(502, "facebook_unreachable", f"cannot reach the Facebook Graph API: {exc}") from None
    if r.status_code >= 500:
        raise GameError(502, "facebook_unreachable", f"Facebook Graph API answered {r.status_code}")
    try:
        data = r.json().get("data") or {}
    except ValueError:
        raise GameError(502, "facebook_unreachable", "Facebook Graph API answered with invalid JSON") from None
    if r.status_code != 200 or not data.get("is_valid"):
        raise GameError(401, "invalid_access_token", "Facebook access token is not valid")
    if str(data.get("app_id")) != str(s.facebook_app_id):
        raise GameError(401, "invalid_access_token", "Facebook access token was issued for another app")
    if not data.get("user_id"):
        raise GameError(401, "invalid_access_token", "Facebook access token has no user")
    return str(data["user_id"])


async def friends_who_play(s: Settings, http: httpx.AsyncClient, token: str) -> list[str]:
    """Facebook returns only the friends who also use this app (``user_friends``)."""
    ids: list[str] = []
    url: str | None = f"{s.facebook_graph_url.rstrip('/')}/me/friends"
    params: dict | None = {"access_token": token, "limit": 500}
    for _ in range(20):  # at most 20 pages
        if not url:
            break
        try:
            r = await http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise GameError(502, "facebook_unreachable", f"cannot reach the Facebook Graph API: {exc}") from None
        if r.status_code in (400, 401, 403):  # the token expired or was revoked, or the permission withdrawn
            raise TokenRejected(502, "facebook_token_rejected",
                                f"Facebook no longer accepts this access token ({r.status_code} for friends)")
        if r.status_code != 200:
            raise GameError(502, "facebook_error", f"Facebook Graph API answered {r.status_code} for friends")
        body = r.json()
        ids += [str(f["id"]) for f in body.get("data", []) if f.get("id")]
        url, params = (body.get("paging") or {}).get("next"), None
    return ids


async def resolve_user(s: Settings, http: httpx.AsyncClient, signed_request: str | None, access_token: str | None) -> str:
    if signed_request:
        return user_from_signed_request(s, signed_request)
    if access_token:
        return await user_from_access_token(s, http, access_token)
    raise GameError(422, "missing_credentials", "send signed_request or access_token")
