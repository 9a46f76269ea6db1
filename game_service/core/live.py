"""Live updates: each server process listens for player events and wakes its open streams.

A write that concerns a player records an event in its own transaction and, on PostgreSQL,
sends ``NOTIFY player_events, '<player id>'`` (``repository/events.py``). Every server
process, on every host, holds one connection that ``LISTEN``s on that channel (one more
database connection per process than its pool: ``contract.DB_LISTENERS_PER_WORKER``). A notification wakes the streams this
process holds for that player (``api/events.py``); each stream then reads the player's
events after the last one it sent. A notification carries no data: the table is the truth,
so a lost notification costs at most a wait for the next wake.

The listener reconnects on its own (a failover, a restart, a rotated password: it connects
as the pool does), and after each (re)connect wakes every stream, which then reads what it
missed. A connection that died without a word is found by a ``SELECT 1`` every
``PROBE_SECONDS`` of silence.

Without PostgreSQL (SQLite, local play: one machine) the listener reads the table's new
rows every half second instead.

On SIGTERM (a rollout, a scale-in) the streams end at once, so that the graceful stop is
not held up by them: each page opens its next stream on another host.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy.ext.asyncio import AsyncEngine

from game_service.core.config import Settings
from game_service.errors import GameError
from game_service.repository import events

log = logging.getLogger("game_service.live")

PROBE_SECONDS = 30.0
POLL_SECONDS = 0.5  # SQLite: how often the table is read
PRUNE_SECONDS = 3600.0
FIRST_PRUNE_SECONDS = 60.0  # not at start-up: a process that lives for seconds (a test, a crash loop) prunes nothing
STOP_SECONDS = 5.0  # how long stop() waits for the listener's tasks
BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)
LISTENER_NAME = "game_service live listener"


class Subscriber:
    """One open stream: woken when its player has news; ``ended`` once the process stops."""

    def __init__(self, player_id: int):
        self.player_id = player_id
        self.wake = asyncio.Event()
        self.ended = False


class Hub:
    def __init__(self, settings: Settings, engine: AsyncEngine,
                 connect: Callable[[], Awaitable[psycopg.AsyncConnection]] | None):
        self.settings = settings
        self.engine = engine
        self._connect = connect  # None: no NOTIFY (SQLite), the table is read instead
        self._subs: dict[int, set[Subscriber]] = {}
        self._tasks: list[asyncio.Task] = []
        self._ending = False
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------ streams
    def subscribe(self, player_id: int) -> Subscriber:
        mine = self._subs.setdefault(player_id, set())
        cap = self.settings.events_streams_per_player
        if len(mine) >= cap:
            raise GameError(429, "too_many_streams", f"this player already has {cap} live streams open here",
                            headers={"Retry-After": "30"})
        if self._ending:
            raise GameError(503, "shutting_down", "this server is stopping; try again", headers={"Retry-After": "1"})
        sub = Subscriber(player_id)
        mine.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        mine = self._subs.get(sub.player_id)
        if mine is not None:
            mine.discard(sub)
            if not mine:
                del self._subs[sub.player_id]

    def wake(self, player_id: int) -> None:
        for sub in self._subs.get(player_id, ()):
            sub.wake.set()

    def wake_all(self) -> None:
        for mine in self._subs.values():
            for sub in mine:
                sub.wake.set()

    def end_streams(self) -> None:
        """Every stream ends (the process is stopping); no new one opens."""
        self._ending = True
        for mine in self._subs.values():
            for sub in mine:
                sub.ended = True
        self.wake_all()

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        listen = self._listen_loop() if self._connect is not None else self._poll_loop()
        self._tasks = [asyncio.create_task(listen, name="live-listener"),
                       asyncio.create_task(self._prune_loop(), name="live-prune")]

    async def stop(self) -> None:
        """End the streams and the listener's tasks; never waits more than STOP_SECONDS (a
        cancellation that a library swallowed must not hold the server's shutdown: the loops
        also end at their next turn once ``_stopping`` is set)."""
        self.end_streams()
        self._stopping.set()
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
            if pending:
                log.warning("live updates: %d task(s) did not stop in %.0f s; left behind", len(pending), STOP_SECONDS)
        self._tasks = []

    async def _pause(self, seconds: float) -> None:
        """Sleep, or return at once when the hub stops."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def end_streams_on_exit(self) -> None:
        """Chain SIGTERM and SIGINT: end the streams, then whatever handled them before (the
        server's graceful stop). Only the main thread can (a test client runs its app elsewhere)."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            before = signal.getsignal(sig)

            def handler(signum, frame, before=before):
                loop.call_soon_threadsafe(self.end_streams)
                if callable(before):
                    before(signum, frame)

            signal.signal(sig, handler)

    # ------------------------------------------------------------ listeners
    async def _listen_loop(self) -> None:
        failures = 0  # attempts failed in a row
        connected_before = False
        while not self._stopping.is_set():
            conn = None
            try:
                conn = await self._connect()
                await conn.set_autocommit(True)
                # named, so that an operator sees it for what it is in pg_stat_activity
                await conn.execute(f"SET application_name = '{LISTENER_NAME}'")
                await conn.execute(f"LISTEN {events.CHANNEL}")
                if connected_before:
                    log.info("listening for player events again")
                connected_before = True
                failures = 0
                self.wake_all()  # what was announced while nobody listened is read now
                while not self._stopping.is_set():
                    async for note in conn.notifies(timeout=PROBE_SECONDS):
                        self._on_note(note.payload)
                    await asyncio.wait_for(conn.execute("SELECT 1"), 5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect after a pause
                if failures == 0:  # said once per outage, not at every attempt
                    log.warning("player events listener lost its connection; reconnecting",
                                extra={"fields": {"error": f"{type(exc).__name__}: {exc}"[:300]}})
                failures += 1
            finally:
                if conn is not None:
                    await conn.close()
            await self._pause(BACKOFF[min(failures, len(BACKOFF)) - 1])

    def _on_note(self, payload: str) -> None:
        try:
            player_id = int(payload)
        except ValueError:
            log.warning("a player events notification that is not a player id", extra={"fields": {"payload": payload[:100]}})
            return
        self.wake(player_id)

    async def _poll_loop(self) -> None:
        last = None
        while not self._stopping.is_set():
            try:
                if last is None:
                    last = await events.last_id(self.engine)
                last, players = await events.newer_than(self.engine, last)
                for player_id in players:
                    self.wake(player_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("player events could not be read", extra={"fields": {"error": str(exc)[:300]}})
            await self._pause(POLL_SECONDS)

    async def _prune_loop(self) -> None:
        await self._pause(FIRST_PRUNE_SECONDS)
        while not self._stopping.is_set():
            try:
                gone = await events.prune(self.engine, self.settings.events_keep_seconds)
                if gone:
                    log.info("old player events pruned", extra={"fields": {"rows": gone}})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the next hour tries again
                log.warning("player events could not be pruned", extra={"fields": {"error": str(exc)[:300]}})
            await self._pause(PRUNE_SECONDS)
