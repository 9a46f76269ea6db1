"""Jobs through the queue to the worker: avatar processing, at least once, never twice, and
never lost (duplicate deliveries, a failing job's retries and its dead-letter queue, a worker
stopped mid-job, a worker killed mid-job).

SQS is emulated by moto running as a local HTTP server (the same server the other service
tests use for S3); its SQS keeps visibility timeouts and moves a message to the dead-letter
queue by the redrive policy, as SQS does. PostgreSQL is real.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

from game_service.core.db import make_engine
from game_service.core.facebook import make_http
from game_service.core.storage import LocalStorage
from game_service.jobs import avatar as avatar_mod
from game_service.jobs.avatar import Processed, Refused, process_avatar
from game_service.jobs.handlers import HANDLERS, avatar_keys
from game_service.jobs.queue import SqsQueue
from game_service.jobs.worker import Context, Worker
from game_service.repository import jobs as job_rows
from tests.game_service.conftest import REPO, sign_in_guest

MAX = 2 * 1024 * 1024


def picture(size=(640, 480), fmt="JPEG", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt, **save)
    return out.getvalue()


# ---------------------------------------------------------------- the avatar itself
def test_an_avatar_is_redrawn_from_its_pixels_without_the_camera_s_metadata():
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude: where the photo was taken
    original = picture((1200, 900), exif=exif.tobytes(), comment=b"secret note")
    assert b"PhoneMaker" in original
    made = process_avatar(original, MAX)
    assert isinstance(made, Processed)
    full, thumb = Image.open(io.BytesIO(made.full)), Image.open(io.BytesIO(made.thumb))
    assert (full.format, full.size) == ("WEBP", (512, 384)) and (thumb.format, thumb.size) == ("WEBP", (96, 96))
    for image in (made.full, made.thumb):
        assert b"PhoneMaker" not in image and b"secret note" not in image and b"Exif" not in image


@pytest.mark.parametrize(("data", "reason"), [
    (b"<html><script>alert(1)</script></html>", "not a picture in a format we take (PNG, JPEG, GIF, WebP)"),
    (picture()[:3000], "The JPEG file is damaged or incomplete"),
    (picture((5000, 20), "PNG"), "5000 x 20 pixels; the limit is 4096 on a side"),
    (picture((8, 8), "PNG"), "8 x 8 pixels; it needs at least 16 on a side"),
    (picture((64, 64), "BMP"), "not a picture in a format we take"),
    (b"", "The file is empty."),
], ids=["html", "truncated", "too-wide", "too-small", "bmp", "empty"])
def test_a_file_that_is_not_a_usable_picture_is_refused_in_plain_words(data, reason):
    made = process_avatar(data, MAX)
    assert isinstance(made, Refused) and reason in made.reason


def test_a_decompression_bomb_is_refused_before_it_is_decoded(monkeypatch):
    bomb = picture((4000, 4000), "PNG")  # a few KB on disk, 16 million pixels in memory
    monkeypatch.setattr(avatar_mod, "MAX_PIXELS", 1_000_000)
    made = process_avatar(bomb, MAX)
    assert isinstance(made, Refused) and "4000 x 4000" in made.reason


# ---------------------------------------------------------------- the worker
@pytest.fixture
def setup(make_settings, client, queues, tmp_path):
    sqs, url, dlq = queues
    settings = make_settings(job_queue_url=url, job_visibility_seconds=5, job_max_receives=3,
                             job_backoff_base_seconds=0, job_wait_seconds=0, worker_shutdown_grace_seconds=0.5)
    storage = LocalStorage(str(tmp_path / "media"), MAX, 300, "s")
    return settings, storage, sqs, url, dlq


def run(coro):
    return asyncio.run(coro)


async def _drain(settings, storage, handlers=HANDLERS, rounds=1) -> list[str]:
    """Receive and handle what is on the queue, ``rounds`` times; what happened to each."""
    engine = make_engine(settings)
    try:
        async with make_http() as http:
            worker = Worker(Context(settings, engine, storage, SqsQueue(settings.job_queue_url), http), handlers)
            outcomes = []
            for _ in range(rounds):
                for delivery in worker.ctx.queue.receive(10, 0):
                    outcomes.append(await worker.handle(delivery))
            return outcomes
    finally:
        await engine.dispose()


async def _new_job(settings, kind, player_id, subject) -> int:
    engine = make_engine(settings)
    try:
        job_id = await job_rows.create(engine, kind, player_id, subject)
    finally:
        await engine.dispose()
    SqsQueue(settings.job_queue_url).send(job_id)
    return job_id


def _row(db, job_id):
    return db.execute("SELECT state, attempts, reason, result FROM jobs WHERE id = %s", (job_id,)).fetchone()


def _avatar_of(db, player_id):
    return db.execute("SELECT avatar_key FROM players WHERE id = %s", (player_id,)).fetchone()[0]


def _visible(sqs, url) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                  "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_an_avatar_job_delivered_twice_changes_the_player_once(setup, client, db):
    settings, storage, sqs, url, _ = setup
    player = sign_in_guest(client)
    upload = f"incoming/{player.id}/a.jpg"
    storage.write(upload, picture())
    job_id = run(_new_job(settings, "avatar", player.id, upload))
    SqsQueue(url).send(job_id)  # SQS delivers at least once: the same message twice
    assert sorted(run(_drain(settings, storage))) == ["done", "duplicate"]
    full, thumb = avatar_keys(player.id, job_id)
    assert _avatar_of(db, player.id) == full and _row(db, job_id)[:2] == ("done", 1)
    assert storage.read(full, MAX)[8:12] == b"WEBP" and storage.read(thumb, MAX)[8:12] == b"WEBP"
    assert storage.read(upload, MAX) is None, "the upload is removed once its avatar is made"
    assert _visible(sqs, url) == 0


def test_a_refused_upload_is_an_answer_with_its_reason_not_a_retry(setup, client, db):
    settings, storage, sqs, url, dlq = setup
    player = sign_in_guest(client)
    upload = f"incoming/{player.id}/b.png"
    storage.write(upload, picture((64, 64), "PNG")[:60])  # a PNG cut short
    job_id = run(_new_job(settings, "avatar", player.id, upload))
    assert run(_drain(settings, storage)) == ["refused"]
    state, attempts, reason, _ = _row(db, job_id)
    assert (state, attempts) == ("refused", 1) and "damaged or incomplete" in reason
    assert _avatar_of(db, player.id) is None and _visible(sqs, url) == 0 and _visible(sqs, dlq) == 0


def test_a_job_that_keeps_failing_lands_in_the_dead_letter_queue_with_its_reason(setup, client, db):
    settings, storage, sqs, url, dlq = setup

    async def explode(ctx, job):
        raise RuntimeError("the image service is down")

    player = sign_in_guest(client)
    job_id = run(_new_job(settings, "explode", player.id, "x"))
    outcomes = run(_drain(settings, storage, {"explode": explode}, rounds=4))
    assert outcomes == ["retry", "retry", "failed"]  # then SQS moved it aside on the 4th receive
    state, attempts, reason, _ = _row(db, job_id)
    assert (state, attempts) == ("failed", 3)
    assert reason == "failed 3 times; last: RuntimeError: the image service is down"
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in dead] == [{"job": job_id}] and _visible(sqs, url) == 0


def test_a_worker_told_to_stop_mid_job_releases_its_message_at_once(setup, client, db):
    settings, storage, sqs, url, _ = setup

    async def slow(ctx, job):
        await asyncio.sleep(30)
        return "done"

    player = sign_in_guest(client)
    job_id = run(_new_job(settings, "slow", player.id, "x"))

    async def stop_soon():
        engine = make_engine(settings)
        worker = Worker(Context(settings, engine, storage, SqsQueue(url), make_http()), {"slow": slow})
        (delivery,) = worker.ctx.queue.receive(1, 0)
        asyncio.get_running_loop().call_later(0.2, worker.stop.set)
        try:
            return await worker.handle(delivery)
        finally:
            await worker.ctx.http.aclose()
            await engine.dispose()

    started = time.monotonic()
    assert run(stop_soon()) == "released" and time.monotonic() - started < 3
    again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert json.loads(again[0]["Body"]) == {"job": job_id}, "visible again at once, not after the visibility timeout"
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert _row(db, job_id)[0] == "queued"


def test_a_long_job_s_heartbeat_keeps_it_from_a_second_worker(setup, client, db):
    settings, storage, sqs, url, _ = setup
    settings = settings.model_copy(update={"job_visibility_seconds": 1})
    seen = []

    async def long(ctx, job):
        await asyncio.sleep(2.5)  # more than twice the visibility timeout
        seen.append(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
        return "done"

    player = sign_in_guest(client)
    job_id = run(_new_job(settings, "long", player.id, "x"))
    assert run(_drain(settings, storage, {"long": long})) == ["done"]
    assert seen == [[]], "another worker got the message while the job was running"
    assert _row(db, job_id)[:2] == ("done", 1) and _visible(sqs, url) == 0


@pytest.mark.slow(seconds=10)
def test_a_worker_killed_mid_job_leaves_it_to_another_which_finishes_it_once(setup, client, pg_url, db, moto_server, tmp_path):
    settings, storage, sqs, url, dlq = setup
    player = sign_in_guest(client)
    upload = f"incoming/{player.id}/big.png"
    noise = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG", compress_level=1)
    storage.write(upload, out.getvalue())  # about a second of work: time to kill the worker in it
    job_id = run(_new_job(settings, "avatar", player.id, upload))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAME_")}
    env.update(PYTHONPATH=str(REPO), GAME_DATABASE_URL=pg_url, GAME_SESSION_SECRET="s", GAME_JOB_QUEUE_URL=url,
               GAME_MEDIA_DIR=str(tmp_path / "media"), GAME_AVATAR_MAX_BYTES=str(64 * 1024 * 1024),
               GAME_JOB_VISIBILITY_SECONDS="3", GAME_JOB_WAIT_SECONDS="1", GAME_LOG_LEVEL="WARNING")

    def worker():
        return subprocess.Popen([sys.executable, "-m", "game_service", "worker"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    first = worker()
    deadline = time.monotonic() + 20
    while _row(db, job_id)[0] != "running":
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read().decode()[-2000:]
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    assert _row(db, job_id)[0] == "running" and _avatar_of(db, player.id) is None
    second = worker()
    try:
        deadline = time.monotonic() + 30
        while _row(db, job_id)[0] == "running":
            assert time.monotonic() < deadline and second.poll() is None, second.stderr.read().decode()[-2000:]
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
    state, attempts, _, result = _row(db, job_id)
    assert (state, attempts) == ("done", 2) and _avatar_of(db, player.id) == result == avatar_keys(player.id, job_id)[0]
    assert _visible(sqs, url) == 0 and _visible(sqs, dlq) == 0
