"""Pure ASGI middleware: request id, JSON access log, request size limit; and, once the
app has started, ``gc.freeze()`` (see :meth:`RequestContextMiddleware.lifespan`)."""

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
_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class TooLarge(Exception):
    pass


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


class RequestContextMiddleware:
    def __init__(self, app, max_body: int, upload_path: str, upload_max_body: int, retry_after: int = 5,
                 access_sample_rate: float = 1.0, access_slow_ms: float = 1000.0):
        self.app = app
        # Which requests get an access line: every failure (5xx) and every slow one, and this
        # share of the rest (each such line says so: "sampled": rate). The load balancer's and
        # CloudFront's logs have every request; this line adds what only the service knows
        # (its request id, its own time), and costs CloudWatch ingestion per line.
        self.access_sample_rate = access_sample_rate
        self.access_slow_ms = access_slow_ms
        self.retry_after = retry_after
        self.max_body = max_body
        self.upload_path = upload_path
        self.upload_max_body = upload_max_body

    @staticmethod
    async def lifespan(app, scope, receive, send):
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

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(self.app, scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        if not _RID_OK.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        status_holder = {"status": 500}
        rid_header = (b"x-request-id", rid.encode())

        limit = self.upload_max_body if scope["path"] == self.upload_path else self.max_body
        # set once a body without Content-Length (chunked) runs over the limit: whatever the app
        # answers then (FastAPI turns the failed read into a 400) is replaced by the 413
        over_limit = {"hit": False, "replaced": False}

        async def send_wrapper(message):
            if over_limit["hit"] and not status_holder.get("started"):
                over_limit["replaced"] = True
                status_holder["started"] = True
                return await _send_json(
                    send_wrapper_raw, 413, {"error": "request_too_large", "detail": f"request body exceeds {limit} bytes"}
                )
            if over_limit["replaced"]:
                return None
            await send_wrapper_raw(message)

        async def send_wrapper_raw(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message = {**message, "headers": list(message.get("headers", [])) + [rid_header]}
            await send(message)

        try:
            cl = headers.get(b"content-length")
            if cl is not None:
                try:
                    too_big = int(cl) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _send_json(
                        send_wrapper,
                        413,
                        {"error": "request_too_large", "detail": f"request body exceeds {limit} bytes"},
                    )
                    return
            received = 0

            async def receive_limited():
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        over_limit["hit"] = True
                        raise TooLarge()
                return message

            try:
                await self.app(scope, receive_limited, send_wrapper)
            except TooLarge:
                await _send_json(
                    send_wrapper, 413, {"error": "request_too_large", "detail": f"request body exceeds {limit} bytes"}
                )
            except Exception as exc:
                if outage.is_db_unavailable(exc) and not status_holder.get("started"):
                    outage.failed(exc)  # logs the first failure of an incident only
                    await _send_json(
                        send_wrapper,
                        503,
                        {
                            "error": "database_unavailable",
                            "detail": "the database is unavailable; retry shortly",
                            "request_id": rid,
                        },
                        [(b"retry-after", str(self.retry_after).encode())],
                    )
                    return
                logging.getLogger("game_service").exception("unhandled error")
                if status_holder.get("started"):
                    raise
                await _send_json(
                    send_wrapper,
                    500,
                    {
                        "error": "internal_error",
                        "detail": "internal server error; the request id identifies it in the logs",
                        "request_id": rid,
                    },
                )
        finally:
            if scope["path"] != LIVENESS_PATH and access_log.isEnabledFor(logging.INFO):
                duration_ms = (time.perf_counter() - start) * 1000
                fields = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status_holder["status"],
                    "duration_ms": round(duration_ms, 2),
                }
                keep = status_holder["status"] >= 500 or duration_ms >= self.access_slow_ms
                if not keep:
                    keep = self.access_sample_rate >= 1 or random.random() < self.access_sample_rate
                    if self.access_sample_rate < 1:
                        fields["sampled"] = self.access_sample_rate
                if keep:
                    # the record made directly: Logger.info would also walk the stack to find
                    # its caller, which an access line does not report
                    access_log.handle(access_log.makeRecord(
                        access_log.name, logging.INFO, __file__, 0, "request", (), None, extra={"fields": fields},
                    ))
            request_id_var.reset(token)
