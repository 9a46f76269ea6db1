"""Database outages: which errors mean "the database is unavailable", logged once per incident.

A request that meets such an error answers a JSON 503 ``database_unavailable`` with
``Retry-After`` (see ``middleware``). Each process logs the first failure of an incident and
the recovery (with how long it lasted and how many requests failed), not every request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import psycopg
from sqlalchemy import exc as sa_exc

log = logging.getLogger("game_service.db")

_lock = threading.Lock()
_down_since: float | None = None
_failures = 0


class DatabaseUnavailable(Exception):
    """Connecting did not finish in time, or its credentials could not be fetched."""


def is_db_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (DatabaseUnavailable, sa_exc.TimeoutError, asyncio.TimeoutError, TimeoutError)):
        return True  # sa_exc.TimeoutError: no pooled connection free within the pool timeout
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig or exc
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        # class 40 (serialization failure, deadlock) is a conflict between requests, not an outage
        return not (getattr(exc, "sqlstate", None) or "").startswith("40")
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))


def failed(exc: BaseException) -> None:
    global _down_since, _failures
    with _lock:
        _failures += 1
        if _down_since is not None:
            return
        _down_since = time.monotonic()
    log.warning(
        "database unavailable; answering 503 until it is back",
        extra={"fields": {"error": f"{type(exc).__name__}: {exc}"[:500]}},
    )


def recovered() -> None:
    global _down_since, _failures
    if _down_since is None:  # the common case: no lock
        return
    with _lock:
        if _down_since is None:
            return
        lasted, count = time.monotonic() - _down_since, _failures
        _down_since, _failures = None, 0
    log.warning(
        "database available again",
        extra={"fields": {"outage_seconds": round(lasted, 1), "failed_requests": count}},
    )


def is_down() -> bool:
    return _down_since is not None
