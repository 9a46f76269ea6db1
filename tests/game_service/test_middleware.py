"""The HTTP middleware's composition, driven in-process with stand-in apps (no database): the
request id on every answer and log line, the access line's final status, the 413 replacing
whatever is answered after a body has run over the limit, the 503 and the 500."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from sqlalchemy import exc as sa_exc

from game_service.core import outage
from game_service.core.logs import request_id_var
from game_service.core.middleware import RequestContextMiddleware

LIMIT = 100


class _Lines(logging.Handler):
    """Each record as (logger, message, fields, the request id it was made under)."""

    def __init__(self):
        super().__init__()
        self.lines: list[tuple] = []

    def emit(self, record):
        self.lines.append((record.name, record.getMessage(), getattr(record, "fields", None), request_id_var.get()))


@pytest.fixture
def lines(monkeypatch):
    monkeypatch.setattr(outage, "_down_since", None)
    monkeypatch.setattr(outage, "_failures", 0)
    handler = _Lines()
    service, access = logging.getLogger("game_service"), logging.getLogger("game_service.access")
    monkeypatch.setattr(access, "propagate", True)  # to the handler on game_service
    levels = service.level, access.level
    service.setLevel(logging.INFO)
    access.setLevel(logging.INFO)
    service.addHandler(handler)
    yield handler.lines
    service.removeHandler(handler)
    service.setLevel(levels[0])
    access.setLevel(levels[1])


def call(app, headers=(), chunks=()):
    """The messages the middleware sends for one POST /api/x."""
    mw = RequestContextMiddleware(app, max_body=LIMIT, upload_path="/up", upload_max_body=2 * LIMIT, retry_after=7)
    pending, sent = list(chunks), []

    async def receive():
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/x", "headers": list(headers)}
    asyncio.run(mw(scope, receive, send))
    return sent


def answer(sent) -> tuple[int, dict, dict]:
    start, body = sent
    return start["status"], dict(start["headers"]), json.loads(body["body"])


def reads_then(fail):
    """An app that reads the whole body, then answers 200, or, if the read fails, does
    ``fail()`` (as FastAPI answers a failed read with a 400)."""

    async def app(scope, receive, send):
        try:
            while (await receive()).get("more_body"):
                pass
        except Exception:
            return await fail(send)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def answer_400(send):
    await send({"type": "http.response.start", "status": 400, "headers": []})
    await send({"type": "http.response.body", "body": b'{"error": "bad_request"}'})


async def raise_bug(send):
    raise RuntimeError("a bug")


async def raise_db_down(send):
    raise sa_exc.TimeoutError("no pooled connection")


TOO_LARGE = {"error": "request_too_large", "detail": f"request body exceeds {LIMIT} bytes"}


def test_a_content_length_over_the_limit_is_a_413_with_the_request_id_before_the_app_runs(lines):
    status, headers, body = answer(call(reads_then(answer_400), [(b"content-length", b"101"),
                                                                  (b"x-request-id", b"r-1")]))
    assert (status, body, headers[b"x-request-id"]) == (413, TOO_LARGE, b"r-1")
    assert headers[b"content-length"] == str(len(json.dumps(TOO_LARGE))).encode()
    assert [(name, fields["status"], rid) for name, _, fields, rid in lines] == [("game_service.access", 413, "r-1")]
    assert answer(call(reads_then(answer_400), [(b"content-length", b"many")]))[0] == 413


@pytest.mark.parametrize("fail", [answer_400, raise_bug, raise_db_down])
def test_a_chunked_body_over_the_limit_is_a_413_whatever_the_app_answers_then(fail, lines):
    sent = call(reads_then(fail), [(b"x-request-id", b"r-2")], [b"x" * 60, b"x" * 60])
    status, headers, body = answer(sent)
    assert (status, body, headers[b"x-request-id"]) == (413, TOO_LARGE, b"r-2")
    assert lines[-1][0] == "game_service.access" and lines[-1][2]["status"] == 413 and lines[-1][3] == "r-2"
    assert answer(call(reads_then(fail), [], [b"x" * 60, b"x" * 40]))[0] == 200  # at the limit: read


def failing(exc):
    async def app(scope, receive, send):
        raise exc

    return app


def test_the_database_unavailable_is_a_503_with_retry_after_and_the_request_id(lines):
    status, headers, body = answer(call(failing(sa_exc.TimeoutError("no pooled connection")),
                                        [(b"x-request-id", b"r-3")]))
    assert status == 503 and headers[b"retry-after"] == b"7" and headers[b"x-request-id"] == b"r-3"
    assert body == {"error": "database_unavailable", "detail": "the database is unavailable; retry shortly",
                    "request_id": "r-3"}
    assert [line[1] for line in lines] == ["database unavailable; answering 503 until it is back", "request"]


def test_an_unhandled_error_is_a_500_with_the_request_id_or_raised_once_the_answer_has_begun(lines):
    status, headers, body = answer(call(failing(RuntimeError("a bug")), [(b"x-request-id", b"bad id!")]))
    rid = headers[b"x-request-id"].decode()
    assert rid != "bad id!" and len(rid) == 32  # not a sane id: a new one
    assert status == 500 and body["error"] == "internal_error" and body["request_id"] == rid
    assert [(line[1], line[3]) for line in lines] == [("unhandled error", rid), ("request", rid)]

    async def begins_then_fails(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("late")

    lines.clear()
    with pytest.raises(RuntimeError, match="late"):
        call(begins_then_fails)
    assert [line[1] for line in lines] == ["unhandled error", "request"] and lines[1][2]["status"] == 200
