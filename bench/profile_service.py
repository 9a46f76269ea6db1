#!/usr/bin/env python3
"""Where a game-service worker spends its time under load (py-spy; a script, not a test).

Starts the production server on a fresh, seeded database like bench/service_bench.py, drives
one endpoint at a time with wrk, samples ONE gunicorn worker with `py-spy record` meanwhile
(``--nonblocking``, idle time left out) and prints the frames with the most samples: where
the CPU goes (self) and which calls contain it (inclusive).

  .venv/bin/python bench/profile_service.py [floor|state|action|claim ...]

Env: PROFILE_SECONDS (default 15 per endpoint), PROFILE_TOP (default 20), plus the
BENCH_* variables of service_bench.py. Needs py-spy (requirements-dev.txt) and root or
ptrace permission.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("BENCH_GIFTS", "100000")

import psycopg  # noqa: E402

import service_bench as sb  # noqa: E402

SECONDS = int(os.environ.get("PROFILE_SECONDS", "15"))
TOP = int(os.environ.get("PROFILE_TOP", "20"))


def summarize(raw: Path, top: int) -> str:
    """Top frames of py-spy's collapsed stacks (``frame;frame;... count`` lines)."""
    own, incl, total = collections.Counter(), collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        total += int(n)
        if frames:
            own[frames[-1]] += int(n)
            for f in set(frames):
                incl[f] += int(n)
    out = [f"{total} samples", "  self:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    out += ["  inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top * 2)]
    return "\n".join(out)


def workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def main(names: list[str]) -> int:
    names = names or ["floor", "state", "action", "claim"]
    base = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    dbname = f"gs_prof_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{dbname}"')
    url = urlparse(base)._replace(path="/" + dbname).geturl()
    port = sb.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="game-prof-"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAME_ENV": "production", "GAME_DATABASE_URL": url,
           "GAME_SESSION_SECRET": sb.SECRET, "GAME_WORKERS": str(sb.WORKERS), "GAME_PORT": str(port),
           "GAME_BIND": "127.0.0.1", "GAME_MEDIA_DIR": str(workdir / "media"), "GAME_SERVE_STATIC": "false",
           "GAME_DB_POOL_SIZE": os.environ.get("GAME_DB_POOL_SIZE", "10"),
           "GAME_DB_MAX_OVERFLOW": os.environ.get("GAME_DB_MAX_OVERFLOW", "0")}
    server = None
    try:
        subprocess.run([sys.executable, "-m", "game_service", "migrate"], env=env, check=True, capture_output=True)
        sb.seed(url)
        tokens = [sb.Sessions(sb.SECRET, 3600).issue(pid, 0) for pid in range(1, sb.PLAYERS + 1)]
        log = open(workdir / "server.log", "w")
        server = subprocess.Popen([sys.executable, "-m", "game_service", "serve"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        target = f"http://127.0.0.1:{port}"
        sb.wait_ready(target + "/api/health/ready", server)
        for name in names:
            sb.run_wrk(target, name, tokens, 2, 50_000, workdir)  # warm-up
        pid = workers(server.pid)[0]
        for name in names:
            raw = workdir / f"{name}.txt"
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--duration", str(SECONDS), "--rate", "250",
                                    "--nonblocking", "--format", "raw", "--output", str(raw)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            r = sb.run_wrk(target, name, tokens, SECONDS, 0, workdir)
            spy.wait(60)
            print(f"== {name}: {r['rps']:.0f} req/s, p99 {r['p99']:.0f} ms, {r['errors']} errors; "
                  f"load average {sb.loadavg()}; worker {pid}")
            print(summarize(raw, TOP))
        return 0
    finally:
        sb.stop(server)
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
