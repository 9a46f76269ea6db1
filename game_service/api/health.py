from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from game_service.contract import LIVENESS_PATH, READINESS_PATH
from game_service.repository import players
from game_service.api.deps import services_of
from game_service.api.schemas import errors_for

router = APIRouter(tags=["health"])


@router.get(LIVENESS_PATH)
async def live():
    """Shallow liveness for the load balancer: the process and its event loop answer. No DB."""
    return JSONResponse({"status": "ok"})


@router.get("/api/health/db", responses=errors_for(503))
async def db(request: Request):
    """One trivial query (``SELECT 1``): the floor the benchmark compares endpoints with."""
    return JSONResponse({"status": "ok", "db": await players.db_ping(services_of(request).engine)})


@router.get(READINESS_PATH, responses=errors_for(503))
async def ready(request: Request):
    """Deep readiness for alarms: database and storage. 503 with the reason when one fails."""
    svc = services_of(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(players.db_ping(svc.engine), timeout=5)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}: {exc}"[:300]
    try:
        await asyncio.wait_for(run_in_threadpool(svc.storage.check), timeout=5)
        checks["storage"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["storage"] = f"error: {type(exc).__name__}: {exc}"[:300]
    ok = all(v == "ok" for v in checks.values())
    headers = None if ok else {"Retry-After": str(svc.settings.db_retry_after_seconds)}
    return JSONResponse({"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503, headers=headers)


@router.get("/api/config", tags=["game"])
async def public_config(request: Request):
    """Public settings the web page needs: the Facebook app id (when sign-in is enabled) and how
    often the page refreshes what it shows."""
    s = services_of(request).settings
    return {"facebook_app_id": s.facebook_app_id if s.facebook_enabled else None,
            "refresh_seconds": s.page_refresh_seconds}
