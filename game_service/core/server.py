"""Production server: gunicorn with uvicorn workers (one per vCPU by default)."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication
from uvicorn_worker import UvicornWorker

from game_service.core import logs
from game_service.core.config import Settings
from game_service.core.http_timeouts import timed_protocol


class GameWorker(UvicornWorker):
    """A uvicorn worker whose connections time out slow clients (core/http_timeouts.py)."""

    @property
    def CONFIG_KWARGS(self) -> dict:  # type: ignore[override]  # read once the worker knows its app
        s = self.app.settings
        return {"loop": "auto", "http": timed_protocol(s.http_header_timeout_seconds, s.http_body_timeout_seconds)}


class GameServer(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        s = self.settings
        cfg = {
            "bind": f"{s.bind}:{s.port}",
            "workers": s.workers,
            "worker_class": "game_service.core.server.GameWorker",
            "graceful_timeout": 20,  # SIGTERM: stop accepting, finish in-flight requests
            "timeout": 60,
            "keepalive": s.http_keepalive_seconds,  # longer than the load balancer's idle timeout
            "accesslog": None,
            "errorlog": "-",
            "loglevel": s.log_level.lower(),
            "proc_name": "game-service",
            # no X-Forwarded-For rewriting of the client address by the server: the service
            # decides whom to believe itself (GAME_TRUSTED_PROXIES, client_address.py)
            "forwarded_allow_ips": "",
            "logconfig_dict": logs.dict_config(s.log_level),
        }
        for k, v in cfg.items():
            self.cfg.set(k, v)

    def load(self):
        from game_service.main import create_app

        return create_app(self.settings)


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level)
    logging.getLogger("game_service").info(
        "starting", extra={"fields": {"bind": f"{settings.bind}:{settings.port}", "workers": settings.workers}}
    )
    GameServer(settings).run()
