"""A burst of 300 avatar uploads through the queue, drained by worker processes (`python -m
game_service worker`, each a stand-in for a worker host) that a simulated scaling policy adds
and removes: the scale-out stage's own, target tracking on backlog per instance (visible
messages / in-service workers; its target is `worker_backlog_per_instance`), between its
`worker_min_instances` and `worker_max_instances`. Every job is done exactly once; the policy
scales out while the backlog is deep and back in once it is drained.

It prints what the note and the stage's assumptions need: jobs per second, jobs per worker
CPU-second (the CPU of the worker processes only), the average job's CPU time against the
config's `job_average_seconds`, and the upload-to-ready latency (p50, p99) under the burst.

SQS is moto's server; PostgreSQL is real; media are a local directory the workers share.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from game_service.jobs import AVATAR
from game_service.jobs.handlers import avatar_keys
from game_service.jobs.queue import SqsQueue
from game_service.core.db import make_engine
from game_service.repository import jobs as job_rows
from stacks.config import STAGES
from tests.game_service.conftest import REPO
from tests.game_service.test_jobs import _visible, picture, setup  # noqa: F401 - setup: the fixture

pytestmark = pytest.mark.slow(seconds=40)

# twice the backlog that asks for the stage's max at the target below (12 workers' worth, 6 at
# most); one upload per player: local media keep at most a few unconfirmed uploads per player
UPLOADS = 300
TICK_S = 1.0  # how often the simulated policy looks at the backlog (CloudWatch: every minute)


def desired(visible: int, in_service: int, *, target: int, low: int, high: int) -> int:
    """Target tracking on backlog per instance, as the worker group's policy does it: the
    instances that bring visible / instances down to the target, within the group's bounds."""
    return max(low, min(high, math.ceil(visible / target))) if visible else low


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_a_burst_of_300_uploads_drains_once_each_as_the_backlog_scales_the_workers(setup, pg_url, db, tmp_path):
    settings, storage, sqs, url, dlq = setup
    cfg = STAGES["scale-out"]
    # the policy's target, scaled to this test's size: the stage's 30 jobs per host would keep
    # one worker for 300 jobs at most 10 hosts deep; the bounds are the stage's
    target, low, high = 25, cfg.worker_min_instances, cfg.worker_max_instances
    assert desired(UPLOADS, low, target=target, low=low, high=high) == high  # a burst this deep asks for all

    ids = [r[0] for r in db.execute(
        "INSERT INTO players (name, coins, energy, energy_at) SELECT 'Burst ' || g, 0, 0, 0 "
        "FROM generate_series(1, %s) g RETURNING id", (UPLOADS,)).fetchall()]
    image = picture((640, 480))
    uploads = []
    for n, pid in enumerate(ids):
        key = f"incoming/{pid}/burst-{n}.jpg"
        storage.write(key, image)
        uploads.append((pid, key))

    async def enqueue() -> list[int]:
        engine = make_engine(settings)
        try:
            return [await job_rows.create(engine, AVATAR, pid, key) for pid, key in uploads]
        finally:
            await engine.dispose()

    job_ids = asyncio.run(enqueue())
    queue = SqsQueue(url)
    for job_id in job_ids:  # the server sends each job as its upload is confirmed
        queue.send(job_id)
    assert _visible(sqs, url) == UPLOADS

    env = {k: v for k, v in os.environ.items() if not k.startswith("GAME_")}
    # the workers' visibility timeout is the queue's (5 s, the fixture's), as the stacks set both
    # from one value: a heartbeat every third of it keeps a job in hand from a second worker
    env.update(PYTHONPATH=str(REPO), GAME_DATABASE_URL=pg_url, GAME_SESSION_SECRET="s", GAME_JOB_QUEUE_URL=url,
               GAME_MEDIA_DIR=str(tmp_path / "media"), GAME_JOB_VISIBILITY_SECONDS="5", GAME_JOB_WAIT_SECONDS="1",
               GAME_DB_POOL_SIZE="2", GAME_LOG_LEVEL="WARNING")
    workers: list[subprocess.Popen] = []
    cpu: dict[int, float] = {}

    def start():
        workers.append(subprocess.Popen([sys.executable, "-m", "game_service", "worker"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))

    def stop_one():
        w = workers.pop()
        cpu[w.pid] = cpu_seconds(w.pid)
        w.send_signal(signal.SIGTERM)  # graceful: finishes or releases its message
        assert w.wait(30) == 0, w.stderr.read().decode()[-2000:]

    decisions = []  # (seconds since the start, visible, workers, desired)
    t0 = time.monotonic()
    for _ in range(low):
        start()
    try:
        deadline = t0 + 120
        while True:
            visible = _visible(sqs, url)
            want = desired(visible, len(workers), target=target, low=low, high=high)
            decisions.append((round(time.monotonic() - t0, 1), visible, len(workers), want))
            while len(workers) < want:
                start()
            left = db.execute("SELECT count(*) FROM jobs WHERE id = ANY(%s) AND state IN ('queued', 'running')",
                              (job_ids,)).fetchone()[0]
            if left == 0:
                break
            assert time.monotonic() < deadline, f"{left} of {UPLOADS} left after 120 s: {decisions[-5:]}"
            for w in workers:
                assert w.poll() is None, w.stderr.read().decode()[-2000:]
            time.sleep(TICK_S)
        drained = time.monotonic() - t0
        # drained: the policy scales back in to the group's minimum
        want = desired(_visible(sqs, url), len(workers), target=target, low=low, high=high)
        decisions.append((round(time.monotonic() - t0, 1), 0, len(workers), want))
        assert want == low
        while len(workers) > want:
            stop_one()
    finally:
        while workers:
            stop_one()

    # every job done, and made once: each player shows the avatar of their own job, the media
    # hold those two images per player and nothing else, no upload is left, no message is left
    # and none was dead-lettered. SQS delivers at least once: a job can be attempted a second
    # time (on this busy machine about one in 500 is, handed to a second worker while the first
    # still has it), which the handler's design makes harmless; more than 1% would be a defect.
    states = dict(db.execute("SELECT state, count(*) FROM jobs WHERE id = ANY(%s) GROUP BY 1", (job_ids,)).fetchall())
    assert states == {"done": UPLOADS}, states
    again, most = db.execute("SELECT count(*), max(attempts) FROM jobs WHERE id = ANY(%s) AND attempts > 1",
                             (job_ids,)).fetchone()
    assert again <= UPLOADS // 100 and most in (None, 2), (again, most)  # None: no job attempted twice
    shown = dict(db.execute("SELECT id, avatar_key FROM players WHERE id = ANY(%s)", (ids,)).fetchall())
    made = {pid: avatar_keys(pid, job_id)[0] for (pid, _), job_id in zip(uploads, job_ids)}
    assert shown == made
    files = sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file())
    assert files == sorted(k for (pid, _), job_id in zip(uploads, job_ids)
                           for k in avatar_keys(pid, job_id)), files[:10]
    assert _visible(sqs, url) == 0 and _visible(sqs, dlq) == 0
    assert max(d[3] for d in decisions) == high and max(d[2] for d in decisions) == high, decisions
    latency = sorted(r[0] for r in db.execute(
        "SELECT EXTRACT(EPOCH FROM updated_at - created_at) FROM jobs WHERE id = ANY(%s)", (job_ids,)).fetchall())
    total_cpu = sum(cpu.values())
    p50, p99 = float(statistics.median(latency)), float(latency[int(0.99 * len(latency)) - 1])
    print(f"\nburst of {UPLOADS} avatar jobs (640x480 JPEG) on {os.cpu_count()} CPUs: drained in {drained:.1f} s "
          f"({UPLOADS / drained:.0f} jobs/s); workers {low} -> {high} -> {low} as the backlog asked "
          f"(target {target} per worker); {UPLOADS / total_cpu:.0f} jobs per worker CPU-second "
          f"({total_cpu / UPLOADS * 1000:.0f} ms of CPU per job, against the config's job_average_seconds "
          f"{cfg.job_average_seconds} s); upload to ready p50 {p50:.1f} s, p99 {p99:.1f} s")
    print("policy: " + "; ".join(f"{t} s: {v} visible, {n} -> {w}" for t, v, n, w in decisions[:: max(1, len(decisions) // 8)]))
