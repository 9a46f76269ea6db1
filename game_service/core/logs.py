"""Structured JSON logs; each line carries the request id of the request it belongs to."""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
import time

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            out.update(extra)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def dict_config(level: str = "INFO") -> dict:
    """The one logging configuration (``logging.config.dictConfig`` form): JSON lines on
    stderr; uvicorn's and gunicorn's own loggers propagate to it; their access loggers are
    off, since the service writes its own access line (with the request id). Both local play
    (:func:`configure`) and gunicorn (``logconfig_dict``, in the master and every worker) use it."""
    level = level.upper()
    quiet = {"level": "CRITICAL", "handlers": [], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "game_service.core.logs.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            **{name: {"level": level, "handlers": [], "propagate": True}
               for name in ("uvicorn", "uvicorn.error", "gunicorn.error")},
            "uvicorn.access": quiet,
            "gunicorn.access": quiet,
            "alembic.runtime.plugins": {"level": "WARNING"},  # one line per plugin otherwise
        },
    }


def configure(level: str = "INFO") -> None:
    logging.config.dictConfig(dict_config(level))
