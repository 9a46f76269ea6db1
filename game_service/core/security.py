"""Session tokens and Facebook signed-request verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import NamedTuple

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from game_service.core import clock
from game_service.errors import GameError


class _GameClockSigner(TimestampSigner):
    """Timestamps from the game clock (the wall clock, movable in tests)."""

    def get_timestamp(self) -> int:
        return clock.now_ms() // 1000


class InvalidSignedRequest(ValueError):
    pass


class Session(NamedTuple):
    """What a valid token says: whose it is, which of the player's token generations it
    belongs to (signing out or linking Facebook moves the generation on, revoking older
    tokens) and when it was signed (epoch seconds)."""

    player_id: int
    generation: int
    signed_at: int

    def check(self, current_generation: int | None) -> None:
        """The rule that makes a verified token a session, in one place: the player still
        exists (``current_generation`` is not None) and the token is of the player's current
        generation. Raises the 401 otherwise. The read of ``current_generation`` is the
        caller's: a statement of its own (``api.deps.Caller.check``) or a column of the
        route's own statement (the state read, the one-statement writes)."""
        if current_generation is None:
            raise unauthorized("invalid_session", "this player no longer exists; sign in again")
        if current_generation != self.generation:
            raise unauthorized("invalid_session", "this session was signed out; sign in again")


def unauthorized(code: str, detail: str) -> GameError:
    return GameError(401, code, detail, headers={"WWW-Authenticate": "Bearer"})


class Sessions:
    """Signed, expiring session tokens. The server keeps no session state; it only remembers,
    per process, the tokens it has already verified, so a player's next requests skip the
    signature check. Expiry is checked on every request; whether the player still exists
    and the generation is still current is the database's to say (``api.deps``)."""

    CACHE_MAX = 10_000

    def __init__(self, secret: str, max_age_seconds: int):
        self._s = URLSafeTimedSerializer(secret, salt="game-session", signer=_GameClockSigner)
        self._max_age = max_age_seconds
        self._verified: dict[str, Session] = {}

    def issue(self, player_id: int, generation: int) -> str:
        """A new token for ``player_id`` at its current token ``generation``."""
        return self._s.dumps({"pid": player_id, "g": generation})

    def verify(self, token: str) -> Session | None:
        hit = self._verified.get(token)
        if hit is not None:
            age = clock.now_ms() // 1000 - hit.signed_at
            if 0 <= age <= self._max_age:
                return hit
            del self._verified[token]
            return None
        try:
            data, signed = self._s.loads(token, max_age=self._max_age, return_timestamp=True)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict):
            return None
        pid, gen = data.get("pid"), data.get("g", 0)  # tokens from before generations: 0
        if type(pid) is not int or type(gen) is not int:
            return None
        if len(self._verified) >= self.CACHE_MAX:
            self._verified.clear()
        session = Session(pid, gen, int(signed.timestamp()))
        self._verified[token] = session
        return session


def _b64url_decode(s: str) -> bytes:
    s = s.strip()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# A signed_request is a few hundred bytes; Facebook's payloads are flat JSON objects.
MAX_SIGNED_REQUEST_CHARS = 8192
MAX_PAYLOAD_NESTING = 8


def _nesting(raw: bytes) -> int:
    """How deeply JSON text nests its arrays and objects (brackets inside strings included:
    an over-estimate is harmless, the bound is far above what Facebook sends)."""
    depth = deepest = 0
    for b in raw:
        if b in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif b in b"]}":
            depth -= 1
    return deepest


def parse_signed_request(signed_request: str, app_secret: str, max_age_seconds: int | None) -> dict:
    """Verify a Facebook ``signed_request`` and return its payload.

    The HMAC-SHA256 signature is checked first (constant-time compare) over the payload's
    text as sent: nothing an unauthenticated caller sends is decoded. Then the payload is
    decoded, bounded in size and nesting, and its ``algorithm`` and (when
    ``max_age_seconds`` is given) the freshness of ``issued_at`` are checked.
    """
    if not isinstance(signed_request, str) or len(signed_request) > MAX_SIGNED_REQUEST_CHARS \
            or signed_request.count(".") != 1 or not signed_request.isascii():
        raise InvalidSignedRequest("malformed signed_request")
    sig_part, payload_part = signed_request.split(".", 1)
    try:
        sig = _b64url_decode(sig_part)
    except ValueError as exc:
        raise InvalidSignedRequest("malformed signed_request") from exc
    expected = hmac.new(app_secret.encode(), payload_part.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidSignedRequest("bad signature")
    try:
        raw = _b64url_decode(payload_part)
        if _nesting(raw) > MAX_PAYLOAD_NESTING:
            raise ValueError("payload nests too deeply")
        payload = json.loads(raw)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidSignedRequest("malformed signed_request payload") from exc
    if not isinstance(payload, dict) or str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise InvalidSignedRequest("unsupported algorithm")
    if max_age_seconds is not None:
        issued_at = payload.get("issued_at")
        if not isinstance(issued_at, (int, float)):
            raise InvalidSignedRequest("issued_at missing")
        age = clock.now_ms() / 1000 - issued_at
        if age > max_age_seconds or age < -60:
            raise InvalidSignedRequest("signed_request is stale")
    if not payload.get("user_id"):
        raise InvalidSignedRequest("user_id missing")
    return payload
