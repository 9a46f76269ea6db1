"""Read timeouts of the server's HTTP connections: a slow client cannot hold one for long.

uvicorn bounds only the idle time between two requests of a kept-alive connection. Here,
besides it:

* a connection that opens and sends nothing for ``header_timeout`` seconds is closed; a
  request whose head (request line and headers) has not fully arrived by then (on a
  kept-alive connection: that long after the request's first byte) is answered 408 and closed;
* a request body that stalls (no byte for ``body_timeout`` seconds) is answered 408 and
  closed; the app, waiting for the body, sees the client gone.

A normal request (its head in one packet, its body streaming) never meets them. The timers
are the protocol's own: the app is not involved, and nothing is counted as a server error.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_BODY = json.dumps({"error": "request_timeout", "detail": "the request did not arrive in time"}).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_BODY)
) + _BODY


class TimedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools) with the read timeouts above; see
    :func:`timed_protocol` for one with the timeouts set."""

    header_timeout: float = 10.0
    body_timeout: float = 15.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._reading = False  # a request has begun and has not fully arrived

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading = True
        if self._read_timer is None:  # a kept-alive connection's next request
            self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._disarm()

    def _read_timed_out(self) -> None:
        """408 to a request that has begun (unless its answer has begun), then close. A
        connection that never sent a byte is closed without a word."""
        self._read_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # in a head: the previous request's (or None); in a body: its own
        answering = cycle is not None and not cycle.response_complete
        if self._reading and not (answering and cycle.response_started):
            self.transport.write(TIMEOUT_RESPONSE)
        if answering:  # the app waits for a body that does not come: it sees the client gone
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def timed_protocol(header_timeout: float, body_timeout: float) -> type[TimedHttpProtocol]:
    """The protocol class with these timeouts (uvicorn's ``http`` setting)."""
    return type("TimedHttpProtocol", (TimedHttpProtocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})
