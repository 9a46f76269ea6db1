"""Live updates (GET /api/events) between two servers on one PostgreSQL, as two hosts run
them (`python -m game_service serve`, gunicorn with a uvicorn worker each): a write made
through one server reaches a stream held by the other within a second, through PostgreSQL's
LISTEN/NOTIFY; a write that is refused announces nothing; a stream that reconnects with its
last event id gets what it missed; the listener survives its connection being killed; a
signed-out session's stream ends; SIGTERM ends the streams at once.
"""

from __future__ import annotations

import os
import queue
import signal
import statistics
import threading
import time

import httpx
import psycopg
import pytest

from tests.game_service.conftest import SESSION_SECRET, LiveServer, create_database, drop_database
from game_service.core.config import Settings
from game_service.core.live import LISTENER_NAME
from game_service.migrate import upgrade_head

pytestmark = pytest.mark.slow(seconds=25)  # the whole file, idle 2-core machine


def server(db_url: str, tmp, **env) -> LiveServer:
    """One "host": the production server with one worker process."""
    return LiveServer({"GAME_DATABASE_URL": db_url, "GAME_SESSION_SECRET": SESSION_SECRET, "GAME_ENV": "test",
                       "GAME_MEDIA_DIR": str(tmp / f"media-{len(env)}-{time.monotonic_ns()}"),
                       "GAME_RATE_LIMIT_WRITES": "100000", **env}, workers=1)


class Stream:
    """One page's stream, read in a thread: (arrival time, event name, id, data) per event,
    and the keep-alive comments counted."""

    def __init__(self, url: str, headers: dict, last_event_id: str | None = None):
        self.events: queue.Queue = queue.Queue()
        self.keepalives = 0
        self.status: int | None = None
        self.ended = threading.Event()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        h = dict(headers)
        if last_event_id is not None:
            h["Last-Event-ID"] = last_event_id
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._thread = threading.Thread(target=self._read, args=(url + "/api/events", h), daemon=True)
        self._thread.start()

    def _read(self, url, headers):
        try:
            with self._client.stream("GET", url, headers=headers) as r:
                self.status = r.status_code
                if r.status_code != 200:
                    r.read()
                    self.body = r.text
                    return
                ev: dict = {}
                for line in r.iter_lines():
                    if self._stop.is_set():  # closed by the test: at the next line (a keep-alive at most)
                        return
                    if line == "":
                        if ev:
                            self.events.put((time.monotonic(), ev.get("event"), ev.get("id"), ev.get("data")))
                        ev = {}
                    elif line.startswith(":"):
                        self.keepalives += 1
                    else:
                        field, _, value = line.partition(":")
                        ev[field] = value[1:] if value.startswith(" ") else value
        except BaseException as exc:  # noqa: BLE001 - closed by the test, or cut
            self.error = exc
        finally:
            self.ended.set()

    def next(self, timeout: float = 5.0):
        return self.events.get(timeout=timeout)

    def next_event(self, timeout: float = 5.0):
        """The next event that is not the stream's opening one."""
        while True:
            got = self.next(timeout)
            if got[1] != "open":
                return got

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._client.close()


def guest(url: str, name: str) -> tuple[int, dict]:
    r = httpx.post(url + "/api/auth/guest", json={"name": name}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}


def write(url: str, method: str, path: str, headers: dict, body=None) -> httpx.Response:
    return httpx.request(method, url + path, json=body, timeout=10,
                         headers={**headers, "Idempotency-Key": os.urandom(8).hex()})


def befriend(one, two, a: tuple[int, dict], b: tuple[int, dict]) -> None:
    assert write(one.url, "POST", "/api/friends/requests", a[1], {"player_id": b[0]}).status_code == 201
    assert write(two.url, "POST", "/api/friends/requests", b[1], {"player_id": a[0]}).status_code == 200


@pytest.fixture(scope="module")
def live_db():
    url = create_database("gs_live")
    upgrade_head(Settings(database_url=url, session_secret="x"))
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def hosts(live_db, tmp_path_factory):
    """Two servers ("hosts") on one database."""
    tmp = tmp_path_factory.mktemp("live")
    servers = [server(live_db, tmp, GAME_EVENTS_HEARTBEAT_SECONDS="1")]  # a closed test stream goes within 1 s
    try:
        servers.append(server(live_db, tmp, GAME_EVENTS_HEARTBEAT_SECONDS="0.5", GAME_EVENTS_STREAM_SECONDS="3"))
        yield servers
    finally:
        for s in servers:
            s.stop()


def test_a_write_on_one_host_reaches_a_stream_on_the_other_within_a_second(hosts):
    one, two = hosts
    ann = guest(one.url, "Ann")
    stream = Stream(one.url, ann[1])
    try:
        opened = stream.next()
        assert opened[1] == "open" and stream.status == 200
        delays = []
        for i in range(20):  # twenty players ask Ann to be friends, through the other host
            other = guest(two.url, f"Fan{i}")
            t0 = time.monotonic()
            r = write(two.url, "POST", "/api/friends/requests", other[1], {"player_id": ann[0]})
            assert r.status_code == 201, r.text
            at, kind, eid, data = stream.next_event()
            delays.append(at - t0)
            assert kind == "friend_request" and f'"from_id": {other[0]}' in data, (kind, data)
            assert int(eid) > int(opened[2])
        # Ann accepts the last one on host one; the fan's stream on host two hears it
        fan_stream = Stream(two.url, other[1])
        fan_stream.next()
        requests = httpx.get(one.url + "/api/friends", headers=ann[1]).json()["incoming_requests"]
        rid = next(x["request_id"] for x in requests if x["player"]["id"] == other[0])
        assert write(one.url, "POST", f"/api/friends/requests/{rid}/accept", ann[1]).status_code == 200
        assert fan_stream.next_event()[1] == "friend_added"
        # and a gift from the fan (host two) reaches Ann (host one)
        assert write(two.url, "POST", "/api/gifts", other[1], {"to_player_id": ann[0]}).status_code == 201
        assert stream.next_event()[1] == "gift"
        fan_stream.close()
    finally:
        stream.close()
    delays.sort()
    p95 = delays[int(0.95 * len(delays)) - 1]
    print(f"\nwrite on one host -> event on the other: median {statistics.median(delays) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
    assert p95 < 1.0, delays


def test_a_refused_write_announces_nothing(hosts):
    one, two = hosts
    ann, bob = guest(one.url, "Ann"), guest(two.url, "Bob")
    stream = Stream(one.url, ann[1])
    try:
        stream.next()
        assert write(two.url, "POST", "/api/friends/requests", bob[1], {"player_id": ann[0]}).status_code == 201
        assert stream.next_event()[1] == "friend_request"
        # asked again: refused (409), nothing announced; a gift to a non-friend: 404, nothing
        assert write(two.url, "POST", "/api/friends/requests", bob[1], {"player_id": ann[0]}).status_code == 409
        assert write(two.url, "POST", "/api/gifts", bob[1], {"to_player_id": ann[0]}).status_code == 404
        # the next event Ann gets is the one after them: Bob withdraws his request
        rid = httpx.get(two.url + "/api/friends", headers=bob[1]).json()["outgoing_requests"][0]["request_id"]
        assert write(two.url, "DELETE", f"/api/friends/requests/{rid}", bob[1]).status_code in (200, 204)
        assert stream.next_event()[1] == "friend_request_closed"
    finally:
        stream.close()


def test_a_stream_that_reconnects_with_its_last_event_id_gets_what_it_missed(hosts):
    one, two = hosts
    ann, bob = guest(one.url, "Ann"), guest(two.url, "Bob")
    befriend(one, two, ann, bob)
    stream = Stream(one.url, ann[1])
    last = stream.next()[2]
    stream.close()
    # while Ann is away: a gift, then Bob removes her
    assert write(two.url, "POST", "/api/gifts", bob[1], {"to_player_id": ann[0]}).status_code == 201
    assert write(two.url, "DELETE", f"/api/friends/{ann[0]}", bob[1]).status_code in (200, 204)
    again = Stream(two.url, ann[1], last_event_id=last)  # the other host, even
    try:
        assert again.next()[1] == "open"
        assert [again.next_event(3)[1] for _ in range(2)] == ["gift", "friend_removed"]
    finally:
        again.close()


def test_the_stream_keeps_alive_ends_in_time_and_the_page_resumes(hosts):
    _, two = hosts  # heartbeat 0.5 s, streams of 3 s
    ann = guest(two.url, "Ann")
    stream = Stream(two.url, ann[1])
    stream.next()
    assert stream.ended.wait(6), "the stream did not end after its 3 s"
    assert stream.error is None and stream.keepalives >= 3
    stream.close()


def test_the_stream_needs_a_session_and_a_sane_event_id(hosts):
    one, _ = hosts
    assert httpx.get(one.url + "/api/events").status_code == 401
    ann = guest(one.url, "Ann")
    for bad in ("abc", "-1", "9" * 20, "1 2", ""):
        r = httpx.get(one.url + "/api/events", headers={**ann[1], "Last-Event-ID": bad})
        assert r.status_code == 422, (bad, r.status_code)
    streams = [Stream(one.url, ann[1]) for _ in range(5)]  # four per player per process
    try:
        deadline = time.monotonic() + 5
        while sum(s.status is not None for s in streams) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(s.status for s in streams) == [200, 200, 200, 200, 429]
    finally:
        for s in streams:
            s.close()


def test_signing_out_ends_the_players_streams(hosts):
    one, two = hosts
    ann = guest(one.url, "Ann")
    stream = Stream(one.url, ann[1])
    stream.next()
    assert write(two.url, "POST", "/api/auth/sign-out", ann[1]).status_code in (200, 204)
    assert stream.ended.wait(3), "a signed-out session's stream stayed open"
    assert httpx.get(one.url + "/api/events", headers=ann[1]).status_code == 401
    stream.close()


def test_the_listener_comes_back_after_its_connection_is_killed(hosts, live_db):
    one, two = hosts
    ann, bob = guest(one.url, "Ann"), guest(two.url, "Bob")
    stream = Stream(one.url, ann[1])
    try:
        stream.next()
        with psycopg.connect(live_db, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s", (LISTENER_NAME,)).fetchall()
        assert len(killed) == 2, killed  # one listener per server process
        # at once: the listeners are reconnecting; the request is seen all the same
        assert write(two.url, "POST", "/api/friends/requests", bob[1], {"player_id": ann[0]}).status_code == 201
        assert stream.next_event(5)[1] == "friend_request"
    finally:
        stream.close()


def test_sigterm_ends_the_streams_at_once(live_db, tmp_path):
    host = server(live_db, tmp_path)
    try:
        ann = guest(host.url, "Ann")
        stream = Stream(host.url, ann[1])
        stream.next()
        t0 = time.monotonic()
        host.proc.send_signal(signal.SIGTERM)
        assert stream.ended.wait(5), "the stream held the server's stop"
        host.proc.wait(10)
        stopped = time.monotonic() - t0
        assert stopped < 5, f"the server took {stopped:.1f} s to stop (a stream held it up)"
        stream.close()
    finally:
        host.stop()


@pytest.mark.timeout(30)  # without the fix it hangs: fail instead
def test_the_listener_stops_even_when_a_library_swallows_its_cancellation(make_settings):
    """A server's shutdown waits for the listener's tasks; a cancellation that a driver turns
    into an ordinary error (seen in CI: a test client's shutdown hung on it) must not hold it."""
    import asyncio

    from game_service.core.db import make_engine
    from game_service.core.live import STOP_SECONDS, Hub

    connects = []

    async def connect_that_swallows_cancellation():
        connects.append(time.monotonic())
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise OSError("connection attempt interrupted") from None  # the cancel is gone

    async def run() -> float:
        settings = make_settings()
        engine = make_engine(settings)
        hub = Hub(settings, engine, connect_that_swallows_cancellation)
        await hub.start()
        await asyncio.sleep(0.1)
        t0 = time.monotonic()
        await hub.stop()
        took = time.monotonic() - t0
        await engine.dispose()
        return took

    took = asyncio.run(run())
    assert took < STOP_SECONDS / 2, f"stop() took {took:.1f} s"
    assert len(connects) == 1, "the listener tried to connect again after it was stopped"
