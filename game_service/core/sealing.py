"""A short secret that a job must carry to the worker (the player's Facebook access token
for the friends import), kept in the job's row sealed rather than in plaintext.

The key is derived from the session secret (HKDF-SHA256, with a purpose of its own), so a
reader of the database or of a backup holds nothing usable without the app secret; a sealed
value expires (``TTL_SECONDS``, on the game clock) and the row drops it when its job ends
(``repository.jobs.finish``). Fernet (``cryptography``) authenticates and encrypts: a value
sealed under another key, changed, or past its age does not open.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from game_service.core import clock

# a Facebook user token lives an hour or two; a job that waits longer than this for a
# worker asks the player to import again rather than keep the token longer
TTL_SECONDS = 3600
_PURPOSE = b"game_service: secrets sealed into job rows"


class Unsealable(ValueError):
    """The value does not open: sealed under another key (the app secret was rotated),
    changed, or older than ``TTL_SECONDS``."""


def _fernet(session_secret: str) -> Fernet:
    if not session_secret:
        raise ValueError("sealing needs the session secret (settings.session_secret)")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(session_secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(session_secret: str, value: str) -> str:
    return _fernet(session_secret).encrypt_at_time(value.encode(), clock.now_ms() // 1000).decode()


def unseal(session_secret: str, sealed: str | None) -> str:
    if not sealed:
        raise Unsealable("nothing sealed")
    try:
        return _fernet(session_secret).decrypt_at_time(sealed.encode(), TTL_SECONDS, clock.now_ms() // 1000).decode()
    except InvalidToken:
        raise Unsealable("sealed under another key, changed, or expired") from None
