"""Pure ASGI middleware, one class per job: the request id, the JSON access log, the request
size limit (413), and the JSON answers to a database outage (503) and to an unhandled error
(500); :class:`RequestContextMiddleware` composes them and, once the app has started, calls
``gc.freeze()`` (see :func:`freeze_after_startup`).

The order of the composition is the behaviour: the request id is outermost, so it is on
every response and in every log line of the request; the access log sees the status that
was finally sent; the size limit replaces whatever is answered inside it, the 503 and the
500 included, once a body has run over the limit. The inner classes see HTTP requests only
(the composition routes the rest)."""

from __future__ import annotations

import gc
import json
import logging
import random
import re
import time
import uuid

from game_service.core import outage
from game_service.contract import LIVENESS_PATH
from game_service.core.logs import request_id_var

access_log = logging.getLogger("game_service.access")
EVENT_STREAM = b"text/event-stream"


def _is_stream(headers) -> bool:
    """A response that streams events (the live updates): its content type says so."""
    return any(k == b"content-type" and v.startswith(EVENT_STREAM) for k, v in headers)
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class TooLarge(Exception):
    """Raised into the app by :class:`BodyLimit`'s ``receive`` when a body runs over the limit."""


def _header(scope, name: bytes) -> bytes | None:
    """The request header's value (the last one, if it is repeated), or None."""
    value = None
    for key, v in scope.get("headers") or ():
        if key == name:
            value = v
    return value


async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
            + (headers or []),
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def _too_large(send, limit: int) -> None:
    await _send_json(send, 413, {"error": "request_too_large", "detail": f"request body exceeds {limit} bytes"})


async def freeze_after_startup(app, scope, receive, send):
    """After start-up, move every object alive then (modules, routes, the engine, ...) out
    of the cyclic garbage collector's generations: they live as long as the process, and
    the collector would otherwise walk all of them again in every full collection,
    which per-request garbage triggers often under load."""

    async def send_frozen(message):
        if message["type"] == "lifespan.startup.complete":
            gc.collect()
            gc.freeze()
        await send(message)

    return await app(scope, receive, send_frozen)


class RequestId:
    """The client's ``X-Request-Id`` if it is a sane one, a new one otherwise: set for the
    request's log lines (``request_id_var``) and sent back on its response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        rid = (_header(scope, b"x-request-id") or b"").decode("latin-1")
        if not _RID_OK.match(rid):
            rid = uuid.uuid4().hex
        rid_header = (b"x-request-id", rid.encode())

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": list(message.get("headers", [])) + [rid_header]}
            await send(message)

        token = request_id_var.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class AccessLog:
    """One JSON line per request: method, path, the status sent (500 if none was) and the
    service's own time. Not for the liveness probe. A stream (``text/event-stream``, the live
    updates) lasts as long as it is meant to: its line says ``"stream": true`` and is never
    counted slow."""

    def __init__(self, app, sample_rate: float = 1.0, slow_ms: float = 1000.0):
        self.app = app
        # Which requests get an access line: every failure (5xx) and every slow one, and this
        # share of the rest (each such line says so: "sampled": rate). The load balancer's and
        # CloudFront's logs have every request; this line adds what only the service knows
        # (its request id, its own time), and costs CloudWatch ingestion per line.
        self.sample_rate = sample_rate
        self.slow_ms = slow_ms

    async def __call__(self, scope, receive, send):
        start = time.perf_counter()
        status = 500
        headers = ()

        async def send_noting_status(message):
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if scope["path"] != LIVENESS_PATH and access_log.isEnabledFor(logging.INFO):
                self._line(scope, status, (time.perf_counter() - start) * 1000, headers)

    def _line(self, scope, status: int, duration_ms: float, headers=()) -> None:
        fields = {"method": scope["method"], "path": scope["path"], "status": status,
                  "duration_ms": round(duration_ms, 2)}
        # a stream's time is its life, not slowness; looked at only for a line that may be kept
        keep = status >= 500 or (duration_ms >= self.slow_ms and not _is_stream(headers))
        if not keep:
            keep = self.sample_rate >= 1 or random.random() < self.sample_rate
            if self.sample_rate < 1:
                fields["sampled"] = self.sample_rate
        if keep:
            if _is_stream(headers):
                fields["stream"] = True
            # the record made directly: Logger.info would also walk the stack to find
            # its caller, which an access line does not report
            access_log.handle(access_log.makeRecord(
                access_log.name, logging.INFO, __file__, 0, "request", (), None, extra={"fields": fields},
            ))


class BodyLimit:
    """A request body over the limit (the upload path has its own) is answered 413: at once
    if its Content-Length says so (or is not a number); else (a chunked body) as soon as it
    has run over, by raising :class:`TooLarge` into the app's read, and then whatever the
    app answers (FastAPI turns the failed read into a 400) is replaced by the 413."""

    def __init__(self, app, max_body: int, upload_path: str, upload_max_body: int):
        self.app = app
        self.max_body = max_body
        self.upload_path = upload_path
        self.upload_max_body = upload_max_body

    async def __call__(self, scope, receive, send):
        limit = self.upload_max_body if scope["path"] == self.upload_path else self.max_body
        cl = _header(scope, b"content-length")
        if cl is not None:
            try:
                too_big = int(cl) > limit
            except ValueError:
                too_big = True
            if too_big:
                return await _too_large(send, limit)
        received = 0
        over = started = replaced = False

        async def receive_limited():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise TooLarge()
            return message

        async def send_unless_over(message):
            nonlocal started, replaced
            if over and not started:  # the first message of an answer after the body ran over
                replaced = started = True
                return await _too_large(send, limit)
            if replaced:  # the rest of that answer
                return None
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive_limited, send_unless_over)
        except TooLarge:  # the app let the failed read through: the 413 is this answer
            await _too_large(send_unless_over, limit)


class ErrorResponses:
    """An exception out of the app before it has begun its answer is answered in JSON with
    the request id: 503 with Retry-After if the database is unavailable (see ``outage``),
    else 500 (and logged). After the answer has begun, it is logged and raised on."""

    def __init__(self, app, retry_after: int = 5):
        self.app = app
        self.retry_after_header = (b"retry-after", str(retry_after).encode())

    async def __call__(self, scope, receive, send):
        started = False

        async def send_noting_start(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except TooLarge:
            raise  # BodyLimit's own signal, for it to answer
        except Exception as exc:
            if not started and outage.is_db_unavailable(exc):
                outage.failed(exc)  # logs the first failure of an incident only
                await _send_json(
                    send,
                    503,
                    {
                        "error": "database_unavailable",
                        "detail": "the database is unavailable; retry shortly",
                        "request_id": request_id_var.get(),
                    },
                    [self.retry_after_header],
                )
                return
            logging.getLogger("game_service").exception("unhandled error")
            if started:
                raise
            await _send_json(
                send,
                500,
                {
                    "error": "internal_error",
                    "detail": "internal server error; the request id identifies it in the logs",
                    "request_id": request_id_var.get(),
                },
            )


class RequestContextMiddleware:
    """The service's middleware (installed in ``main``): the classes above, outermost first."""

    def __init__(self, app, max_body: int, upload_path: str, upload_max_body: int, retry_after: int = 5,
                 access_sample_rate: float = 1.0, access_slow_ms: float = 1000.0):
        self.app = app
        self.http = RequestId(
            AccessLog(
                BodyLimit(ErrorResponses(app, retry_after), max_body, upload_path, upload_max_body),
                access_sample_rate, access_slow_ms,
            )
        )

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "http":
            return await self.http(scope, receive, send)
        if kind == "lifespan":
            return await freeze_after_startup(self.app, scope, receive, send)
        return await self.app(scope, receive, send)
