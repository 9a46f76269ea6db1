"""Production server: gunicorn with uvicorn workers (one per vCPU by default)."""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from game_service.core import logs
from game_service.core.config import Settings


class GameServer(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        s = self.settings
        cfg = {
            "bind": f"{s.bind}:{s.port}",
            "workers": s.workers,
            "worker_class": "uvicorn_worker.UvicornWorker",
            "graceful_timeout": 20,  # SIGTERM: stop accepting, finish in-flight requests
            "timeout": 60,
            "keepalive": 75,  # longer than the load balancer's idle timeout
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
