#!/usr/bin/env python3
"""CPU time per request of the service's Python side vs the bare app (a script, not a test).

On a shared machine wrk's req/s swing with the neighbours' load; the CPU time a process
spends per request does much less. This drives the ASGI apps in-process (no HTTP server,
no wrk): a fresh seeded database, then for each endpoint a process that runs the app's
lifespan, sends REQUESTS requests through it from 16 concurrent tasks (3 times, after a
warm-up) and reports ``time.process_time()`` per request (median). The bare app
(bench/bare_app.py) and the service alternate, ROUNDS times.

  .venv/bin/python bench/cpu_per_request.py            # this checkout
  BENCH_REPO=/path/to/other/checkout .venv/bin/python bench/cpu_per_request.py   # another one's service

It measures the Python side only: the database's work and the HTTP server's are the same
for both apps and left out. The service writes access lines as a host does (1% of ordinary
requests, ``game_service.contract.ACCESS_LOG_SAMPLE_RATE``; BENCH_ACCESS_LOG_SAMPLE_RATE=1 for
every line, as local play does; the lines go to /dev/null).
Env: BENCH_REQUESTS (default 3000), BENCH_ROUNDS (default 2), BENCH_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = 16
ENDPOINTS = {"floor": ("GET", "/api/health/db"), "state": ("GET", "/api/me"), "action": ("POST", "/api/actions"),
             "keyed": ("POST", "/api/actions")}
# "keyed": the action as the page sends it, with an Idempotency-Key of its own (every write of
# the page carries one; "action" is the unkeyed one-statement path)


async def _drive(app, method: str, path: str, headers: list, keyed: bool = False) -> float:
    """CPU microseconds per request of REQUESTS requests from CONCURRENCY tasks (``keyed``: each
    with an Idempotency-Key of its own)."""

    async def one() -> None:
        sent = headers + [(b"idempotency-key", uuid.uuid4().hex.encode())] if keyed else headers
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": sent, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        status: list[int] = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        if status[0] >= 300:
            raise RuntimeError(f"{method} {path}: {status[0]}")

    async def task(k: int) -> None:
        for _ in range(k, REQUESTS, CONCURRENCY):
            await one()

    t0 = time.process_time()
    await asyncio.gather(*(task(k) for k in range(CONCURRENCY)))
    return (time.process_time() - t0) / REQUESTS * 1e6


async def _worker(which: str, url: str, repo: str) -> None:
    sys.path[:0] = [repo, str(HERE)]
    queue_in: asyncio.Queue = asyncio.Queue()
    queue_out: asyncio.Queue = asyncio.Queue()
    if which == "bare":
        os.environ["BARE_DATABASE_URL"] = url
        import bare_app

        app, (method, path), headers = bare_app.app, ("GET", "/bare/select1"), []
    else:
        secret = "cpu-" + uuid.uuid4().hex
        os.environ.update(GAME_ENV="production", GAME_DATABASE_URL=url, GAME_SESSION_SECRET=secret,
                          GAME_SERVE_STATIC="false", GAME_DB_POOL_SIZE="10", GAME_DB_MAX_OVERFLOW="0",
                          GAME_RATE_LIMIT_WRITES="1000000000", GAME_MEDIA_DIR=f"/tmp/{secret}",
                          GAME_ACCESS_LOG_SAMPLE_RATE=os.environ["BENCH_ACCESS_LOG_SAMPLE_RATE"])
        import logging

        from game_service.core import logs
        from game_service.core.config import get_settings
        from game_service.main import create_app
        from game_service.core.security import Sessions

        logs.configure("INFO")
        logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # the lines are made, not kept
        app = create_app(get_settings())
        try:  # a token of generation 0 (older checkouts, BENCH_REPO, had no generations)
            token = Sessions(secret, 3600).issue(1, 0)
        except TypeError:
            token = Sessions(secret, 3600).issue(1)
        method, path = ENDPOINTS[which]
        headers = [(b"authorization", b"Bearer " + token.encode())]
    await queue_in.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       queue_in.get, queue_out.put))
    assert (await queue_out.get())["type"] == "lifespan.startup.complete"
    keyed = which == "keyed"
    await _drive(app, method, path, headers, keyed)  # warm-up
    print(statistics.median([await _drive(app, method, path, headers, keyed) for _ in range(3)]))
    await queue_in.put({"type": "lifespan.shutdown"})
    await lifespan


def main() -> int:
    import psycopg

    sys.path.insert(0, str(HERE))
    os.environ.setdefault("BENCH_GIFTS", "1000")
    import service_bench as sb
    from game_service.contract import ACCESS_LOG_SAMPLE_RATE

    os.environ.setdefault("BENCH_ACCESS_LOG_SAMPLE_RATE", str(ACCESS_LOG_SAMPLE_RATE))  # the workers' (as deployed)

    repo = os.environ.get("BENCH_REPO", str(HERE.parent))
    base = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    dbname = f"gs_cpu_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{dbname}"')
    url = urlparse(base)._replace(path="/" + dbname).geturl()
    try:
        env = {**os.environ, "GAME_DATABASE_URL": url, "GAME_SESSION_SECRET": "x", "PYTHONPATH": repo}
        subprocess.run([sys.executable, "-m", "game_service", "migrate"], env=env, check=True, capture_output=True,
                       cwd=repo, timeout=120)
        sb.seed(url)
        runs: dict[str, list[float]] = {"bare": [], **{n: [] for n in ENDPOINTS}}
        for _ in range(ROUNDS):
            for which in runs:
                out = subprocess.run([sys.executable, __file__, "--worker", which, url, repo], capture_output=True,
                                     text=True, timeout=600)
                if out.returncode:
                    raise RuntimeError(f"{which}: {out.stderr[-2000:]}")
                runs[which].append(float(out.stdout.split()[-1]))
        bare = statistics.median(runs["bare"])
        print(f"CPU time per request, in-process (no HTTP server), {REQUESTS} requests x 3, {ROUNDS} rounds; "
              f"service from {repo}, access lines for {float(os.environ['BENCH_ACCESS_LOG_SAMPLE_RATE']):.0%} of requests; "
              f"load average {sb.loadavg()}")
        for which, values in runs.items():
            m = statistics.median(values)
            print(f"{which:<6} {m:7.0f} us  ({'/'.join(f'{v:.0f}' for v in values)})  bare/this {bare / m:.2f}")
        return 0
    finally:
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        import uvloop

        uvloop.run(_worker(*sys.argv[2:]))
        sys.exit(0)
    sys.exit(main())
