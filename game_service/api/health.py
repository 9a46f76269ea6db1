from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from game_service.contract import LIVENESS_PATH, READINESS_PATH
from game_service.repository import players
from game_service.api.deps import services_of
from game_service.api.schemas import errors_for

router = APIRouter(tags=["health"])
log = logging.getLogger("game_service.health")


@router.get(LIVENESS_PATH)
async def live():
    """Shallow liveness for the load balancer: the process and its event loop answer. No DB."""
    return JSONResponse({"status": "ok"})


@router.get("/api/health/db", responses=errors_for(503))
async def db(request: Request):
    """One trivial query (``SELECT 1``): the floor the benchmark compares endpoints with."""
    return JSONResponse({"status": "ok", "db": await players.db_ping(services_of(request).engine)})


async def _check(name: str, probe: Awaitable) -> str:
    """``ok``, or ``error`` with the reason in the log only: the answer is public, and an
    exception's text names hosts, users and paths of the server."""
    try:
        await asyncio.wait_for(probe, timeout=5)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        log.warning("readiness: %s failed: %s: %s", name, type(exc).__name__, exc)
        return "error"


@router.get(READINESS_PATH, responses=errors_for(503))
async def ready(request: Request):
    """Deep readiness for alarms: database and storage. 503 naming the one that failed (the
    reason is in the service's log)."""
    svc = services_of(request)
    checks = {
        "database": await _check("database", players.db_ping(svc.engine)),
        "storage": await _check("storage", run_in_threadpool(svc.storage.check)),
    }
    ok = all(v == "ok" for v in checks.values())
    headers = None if ok else {"Retry-After": str(svc.settings.db_retry_after_seconds)}
    return JSONResponse({"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503, headers=headers)


@router.get("/api/config", tags=["game"])
async def public_config(request: Request):
    """Public settings the web page needs: the Facebook app id (when sign-in is enabled) and how
    often the page re-reads what it shows: ``refresh_seconds`` without a live stream
    (``/api/events``), ``refresh_live_seconds`` while one is open."""
    s = services_of(request).settings
    return {"facebook_app_id": s.facebook_app_id if s.facebook_enabled else None,
            "refresh_seconds": s.page_refresh_seconds,
            "refresh_live_seconds": s.page_refresh_live_seconds}
