"""Wall clock of the game (UTC). One place, so tests can move time forward."""

from __future__ import annotations

import datetime as dt
import time

_offset_seconds = 0.0


def now_ms() -> int:
    return int((time.time() + _offset_seconds) * 1000)


def utcnow() -> dt.datetime:
    return dt.datetime.fromtimestamp(now_ms() / 1000, tz=dt.timezone.utc)


def today() -> dt.date:
    return utcnow().date()


def advance(seconds: float) -> None:
    """Move the game clock forward (tests only)."""
    global _offset_seconds
    _offset_seconds += seconds


def reset() -> None:
    global _offset_seconds
    _offset_seconds = 0.0
