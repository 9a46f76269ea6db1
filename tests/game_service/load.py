"""A steady load of game requests from threads, for the database resilience tests.

Every request is recorded with its start time, duration and status, so a test can assert
what happened before, during and after an event (a rotation, a restart). Bounded in time
and count; traffic goes only to the 127.0.0.1 server under test.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class Result:
    start: float
    seconds: float
    method: str
    path: str
    status: int  # 0: no HTTP answer (connection error or client timeout)
    retry_after: str | None
    error: str | None
    idem_key: str | None
    player_id: int
    attempts: int = 1  # 2: the first try got no HTTP answer and was sent again with the same key


@dataclass
class Load:
    url: str
    players: list[tuple[int, dict]]  # (player id, auth headers)
    threads: int = 3
    max_seconds: float = 60
    max_requests: int = 50_000
    client_timeout: float = 15
    # As the page does (app.js `api`): a request that got no HTTP answer at all (refused, reset,
    # a body cut off by a host dying mid-response) is sent once more, 0.5 s later, with the same
    # Idempotency-Key. A client timeout is not retried.
    retry_network_errors: bool = True
    # What each thread waits between requests: at 0.05 s, four threads send about 65 requests
    # a second through the local topology's front door. The windows the tests watch (a dead
    # host until the load balancer notices, a drain, a database restart or silent failover, a
    # rotation's new connections) each still see dozens of requests. Unpaced (5 ms: about 250
    # a second) the load took the CPU that what a test watches runs on: a replaced host booted
    # in 13-17 s instead of 9-10, and the database tests used a core of the two for 2 minutes.
    pause: float = 0.05
    results: list[Result] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.threads)]

    def start(self) -> "Load":
        self.started = time.monotonic()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> list[Result]:
        self._stop.set()
        for t in self._threads:
            t.join(self.client_timeout + 5)
        return sorted(self.results, key=lambda r: r.start)

    def _run(self, n: int) -> None:
        deadline = self.started + self.max_seconds
        i = n
        with httpx.Client(base_url=self.url, timeout=self.client_timeout) as c:
            while not self._stop.is_set() and time.monotonic() < deadline and len(self.results) < self.max_requests:
                pid, h = self.players[i % len(self.players)]
                i += self.threads
                if i % 3 == 0:
                    method, path, key = "GET", "/api/me", None
                else:  # a write, with an Idempotency-Key: a 2xx means it is committed
                    method, path, key = "POST", "/api/actions", uuid.uuid4().hex
                headers = {**h, **({"Idempotency-Key": key} if key else {})}
                t0 = time.monotonic()
                attempts = 0
                while True:
                    attempts += 1
                    try:
                        r = c.request(method, path, headers=headers)
                        status, ra, err = r.status_code, r.headers.get("retry-after"), None
                        if status >= 400:
                            err = r.text[:300]
                    except httpx.HTTPError as exc:
                        status, ra, err = 0, None, f"{type(exc).__name__}: {exc}"
                        retry = isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TimeoutException)
                        if retry and self.retry_network_errors and attempts == 1:
                            time.sleep(0.5)
                            continue
                    break
                with self._lock:
                    self.results.append(Result(t0, time.monotonic() - t0, method, path, status, ra, err, key, pid, attempts))
                time.sleep(self.pause)


def ok(r: Result) -> bool:
    """Answered by the database: 2xx, or a game rule's 409 (out of energy)."""
    return 200 <= r.status < 300 or r.status == 409


def guest(url: str) -> tuple[int, dict]:
    r = httpx.post(url + "/api/auth/guest", timeout=15)
    assert r.status_code == 201, r.text
    return r.json()["player"]["id"], {"Authorization": f"Bearer {r.json()['token']}"}
