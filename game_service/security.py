"""Session tokens and Facebook signed-request verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from game_service import clock


class _GameClockSigner(TimestampSigner):
    """Timestamps from the game clock (the wall clock, movable in tests)."""

    def get_timestamp(self) -> int:
        return clock.now_ms() // 1000


class InvalidSignedRequest(ValueError):
    pass


class Sessions:
    """Signed, expiring session tokens. The server keeps no session state; it only remembers,
    per process, the tokens it has already verified (their player and signing time), so a
    player's next requests skip the signature check. Expiry is checked on every request."""

    CACHE_MAX = 10_000

    def __init__(self, secret: str, max_age_seconds: int):
        self._s = URLSafeTimedSerializer(secret, salt="game-session", signer=_GameClockSigner)
        self._max_age = max_age_seconds
        self._verified: dict[str, tuple[int, int]] = {}  # token -> (player id, signed at, epoch s)

    def issue(self, player_id: int) -> str:
        return self._s.dumps({"pid": player_id})

    def verify(self, token: str) -> int | None:
        hit = self._verified.get(token)
        if hit is not None:
            pid, signed_at = hit
            age = clock.now_ms() // 1000 - signed_at
            if 0 <= age <= self._max_age:
                return pid
            del self._verified[token]
            return None
        try:
            data, signed = self._s.loads(token, max_age=self._max_age, return_timestamp=True)
        except (SignatureExpired, BadSignature):
            return None
        pid = data.get("pid") if isinstance(data, dict) else None
        if not isinstance(pid, int):
            return None
        if len(self._verified) >= self.CACHE_MAX:
            self._verified.clear()
        self._verified[token] = (pid, int(signed.timestamp()))
        return pid


def _b64url_decode(s: str) -> bytes:
    s = s.strip()
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parse_signed_request(signed_request: str, app_secret: str, max_age_seconds: int | None) -> dict:
    """Verify a Facebook ``signed_request`` and return its payload.

    Checks the HMAC-SHA256 signature with a constant-time compare, the ``algorithm``
    field, and (when ``max_age_seconds`` is given) that ``issued_at`` is fresh.
    """
    if not isinstance(signed_request, str) or signed_request.count(".") != 1:
        raise InvalidSignedRequest("malformed signed_request")
    sig_part, payload_part = signed_request.split(".", 1)
    try:
        sig = _b64url_decode(sig_part)
        payload = json.loads(_b64url_decode(payload_part))
    except (ValueError, TypeError) as exc:
        raise InvalidSignedRequest("malformed signed_request") from exc
    expected = hmac.new(app_secret.encode(), payload_part.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(sig, expected):
        raise InvalidSignedRequest("bad signature")
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
