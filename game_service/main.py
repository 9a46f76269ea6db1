"""The FastAPI application factory."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.staticfiles import StaticFiles

from game_service.api import auth, events, facebook_callbacks, game, health, invites, jobs, media, progress, recovery, social
from game_service.api.deps import Services
from game_service.core import facebook
from game_service.core.config import Settings, get_settings
from game_service.core.db import listener_connect, make_engine
from game_service.core.live import Hub
from game_service.errors import GameError
from game_service.jobs.queue import SqsQueue
from game_service.core.logs import request_id_var
from game_service.core.middleware import RequestContextMiddleware
from game_service.core.security import Sessions
from game_service.core.session_renewal import RenewalMiddleware
from game_service.core.storage import LocalStorage, NoSniffStaticFiles, make_storage

log = logging.getLogger("game_service")
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _error(status: int, code: str, detail, headers: dict | None = None) -> JSONResponse:
    body = {"error": code, "detail": detail}
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    storage = make_storage(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings)
        http = facebook.make_http()
        hub = Hub(settings, engine, None if settings.is_sqlite else listener_connect(settings))
        await hub.start()
        hub.end_streams_on_exit()
        app.state.services = Services(
            settings=settings,
            engine=engine,
            storage=storage,
            sessions=Sessions(settings.session_secret or "", settings.session_max_age_seconds),
            http=http,
            queue=SqsQueue(settings.job_queue_url, in_request=True) if settings.job_queue_url else None,
            hub=hub,
        )
        try:
            yield
        finally:
            await hub.stop()
            await http.aclose()
            await engine.dispose()

    app = FastAPI(
        title="Game service",
        version="1.0.0",
        description="A small social web game: wallet, energy, daily reward, friends, gifts, leaderboard, avatars.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
        # no OpenTelemetry: the service exports none (its logs and CloudWatch's metrics are what
        # it has), so FastAPI need not look for a configured provider on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    @app.exception_handler(GameError)
    async def game_error(_: Request, exc: GameError):
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        msg = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return JSONResponse(
            {"error": "invalid_request", "detail": msg, "errors": errors, "request_id": request_id_var.get()},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
            exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # every method of the path, not just those of its first route
            headers = {**(headers or {}), "Allow": allowed_methods(app, request.scope)}
        return _error(exc.status_code, code, exc.detail, headers)

    for r in (health, auth, game, social, events, media, jobs, facebook_callbacks, invites, recovery, progress):
        app.include_router(r.router)

    app.add_middleware(RenewalMiddleware)  # sliding sessions (session_renewal)
    app.add_middleware(
        RequestContextMiddleware,
        max_body=settings.request_max_bytes,
        upload_path=LocalStorage.UPLOAD_URL,
        upload_max_body=settings.avatar_max_bytes + 16 * 1024,
        retry_after=settings.db_retry_after_seconds,
        access_sample_rate=settings.access_log_sample_rate,
        access_slow_ms=settings.access_log_slow_ms,
    )

    if isinstance(storage, LocalStorage):
        # Locally the service serves verified media itself (the CDN does it in AWS).
        app.mount("/media", NoSniffStaticFiles(directory=storage.root / "media"), name="media")
    if settings.serve_static and STATIC_DIR.is_dir():
        app.router.routes.append(_PageMount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    return app


class _PageMount(Mount):
    """The web page at ``/``, but never for ``/api/...``: an API path with a wrong method is
    the API's 405 (with its methods in ``Allow``), an unknown one the API's JSON 404."""

    def matches(self, scope):
        if scope.get("path", "").startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_FILE_METHODS = ("GET", "HEAD")  # what a mount of static files (the page, local media) answers


def _answers(route, scope, method: str) -> bool:
    if isinstance(route, Mount) and isinstance(route.app, StaticFiles) and method not in _FILE_METHODS:
        return False  # a mount matches every method; its files answer only these
    return route.matches({**scope, "method": method})[0] == Match.FULL


def allowed_methods(app: FastAPI, scope) -> str:
    """The methods some route answers at this path (for a 405's ``Allow``)."""
    return ", ".join(m for m in _METHODS if any(_answers(route, scope, m) for route in app.router.routes))
