"""The avatar through the job queue: with ``GAME_JOB_QUEUE_URL`` set, ``POST /api/me/avatar``
records a job, sends it and answers 202 at once; a worker makes the avatar; ``GET /api/jobs/{id}``
says how it went (done with the avatar, refused with the reason, or failed).

The API runs in-process (Starlette's test client); the worker runs in-process as in
test_jobs.py. SQS is emulated by moto running as a local HTTP server (its SQS keeps visibility
timeouts and the redrive policy, as SQS does); PostgreSQL is real. Without a queue the
confirm stays synchronous (test_media.py).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from game_service.core.db import make_engine
from game_service.jobs.handlers import avatar_keys
from game_service.jobs.queue import QueueUnavailable, SqsQueue
from game_service.repository import jobs as job_rows
from local_topology.processes import free_port
from tests.game_service.conftest import JOB_SETTINGS, sign_in_guest
from tests.game_service.test_jobs import _drain, _visible, picture

def upload(client, player, data: bytes, ctype: str = "image/jpeg") -> str:
    """Upload through the page's form (the local stand-in for S3's presigned POST); the key."""
    up = player.post("/api/me/avatar/upload-url", json={"content_type": ctype}).json()
    r = client.post(up["url"], data=up["fields"], files={"file": ("f", data, ctype)})
    assert r.status_code == 204, r.text
    return up["key"]


def confirm(player, key: str):
    # every click carries a new Idempotency-Key, as the page's does
    return player.post("/api/me/avatar", json={"key": key}, headers={"Idempotency-Key": uuid.uuid4().hex})


def _run(coro):
    return asyncio.run(coro)


def jobs_of(db, player_id: int) -> list:
    return db.execute("SELECT id, state FROM jobs WHERE player_id = %s ORDER BY id", (player_id,)).fetchall()


def test_a_confirmed_upload_becomes_a_job_the_worker_makes_into_the_avatar(queued, db):
    client, settings, storage, sqs, url = queued
    p = sign_in_guest(client)
    key = upload(client, p, picture((800, 600)))
    # a double click (four at once here), or a retry with a new Idempotency-Key: one job
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: confirm(p, key), range(4)))
    r = answers[0]
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["kind"], job["state"], job["avatar_url"], job["reason"]) == ("avatar", "processing", None, None)
    assert job["href"] == f"/api/jobs/{job['id']}" == r.headers["Location"]
    assert [(a.status_code, a.json()) for a in answers] == [(202, job)] * 4
    assert confirm(p, key).json() == job
    assert jobs_of(db, p.id) == [(job["id"], "queued")]
    assert storage.read(key, 10**7) is not None and p.state()["avatar_url"] is None, "the request left the image alone"
    assert p.get(job["href"]).json()["state"] == "processing"
    # a player reads only their own jobs
    other = sign_in_guest(client)
    assert other.get(job["href"]).status_code == 404 and other.get(job["href"]).json()["error"] == "not_found"
    assert other.get("/api/jobs/999999999").status_code == 404 and other.get("/api/jobs/0").status_code == 422
    assert client.get(job["href"]).status_code == 401
    # each confirm sent the job again (its first send might have been lost): the worker makes
    # the avatar once, and the other deliveries find the job done
    assert sorted(_run(_drain(settings, storage))) == ["done"] + ["duplicate"] * 4
    done = p.get(job["href"])
    assert done.status_code == 200
    assert done.json() == {**job, "state": "done", "avatar_url": "/" + avatar_keys(p.id, job["id"])[0]}
    assert p.state()["avatar_url"] == done.json()["avatar_url"]
    image = client.get(done.json()["avatar_url"])
    assert image.status_code == 200 and image.content[8:12] == b"WEBP"
    # confirming it once more answers the finished job, and sends nothing
    assert confirm(p, key).json()["state"] == "done" and _visible(sqs, url) == 0


def test_confirms_of_one_upload_at_once_make_one_job(queued, db):
    """The look for the upload's job and the insert are one transaction under the player's row
    lock: without the lock, confirms at once each found no job and each made one."""
    client, settings, *_ = queued
    p = sign_in_guest(client)
    key = f"incoming/{p.id}/{uuid.uuid4().hex}.png"

    async def at_once():
        engine = make_engine(settings)
        try:
            return await asyncio.gather(*(job_rows.create_once(engine, "avatar", p.id, key) for _ in range(6)))
        finally:
            await engine.dispose()

    made = _run(at_once())
    assert len({job.id for job, _ in made}) == 1 and sorted(new for _, new in made) == [False] * 5 + [True]
    assert len(jobs_of(db, p.id)) == 1


def test_a_refused_upload_is_answered_with_its_reason(queued, db):
    client, settings, storage, _, _ = queued
    p = sign_in_guest(client)
    refusals = {  # what the player uploads: the reason the worker gives
        upload(client, p, b"<html><script>alert(1)</script></html>", "image/png"):
            "The file is not a picture in a format we take (PNG, JPEG, GIF, WebP).",
        upload(client, p, picture((5000, 20), "PNG"), "image/png"):
            "The picture is 5000 x 20 pixels; the limit is 4096 on a side.",
    }
    jobs = {key: confirm(p, key).json() for key in refusals}
    assert {job["state"] for job in jobs.values()} == {"processing"}, "the request does not look at the picture"
    assert _run(_drain(settings, storage)) == ["refused", "refused"]
    for key, reason in refusals.items():
        got = p.get(jobs[key]["href"]).json()
        assert (got["state"], got["reason"], got["avatar_url"]) == ("refused", reason, None)
        assert storage.read(key, 10**7) is None, "a refused upload is removed"
    assert p.state()["avatar_url"] is None


def test_a_job_that_keeps_failing_says_so_in_plain_words(queued, db, monkeypatch):
    client, settings, storage, _, _ = queued
    p = sign_in_guest(client)
    job = confirm(p, upload(client, p, picture())).json()

    async def broken(ctx, job):
        raise RuntimeError("boto3: connection reset by peer")

    assert _run(_drain(settings, storage, {"avatar": broken}, rounds=3)) == ["retry", "retry", "failed"]
    got = p.get(job["href"]).json()
    assert got["state"] == "failed" and got["reason"] == "We could not process the picture this time. Please upload it again."
    assert "boto3" not in str(got), "the exception is for the operators (the job's row, the log), not the player"


def test_when_the_queue_is_down_the_confirm_is_a_503_and_leaves_no_job(make_client, queues, db, monkeypatch):
    sqs, url, _ = queues
    moto = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    down = make_client(job_queue_url=url, **JOB_SETTINGS)
    p = sign_in_guest(down)
    key = upload(down, p, picture())
    r = confirm(p, key)
    assert r.status_code == 503 and r.json()["error"] == "queue_unavailable" and int(r.headers["Retry-After"]) > 0
    assert jobs_of(db, p.id) == [], "no job is left saying 'processing' with nothing on the queue behind it"
    # the player's retry, once the queue is back, makes the job
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    up = make_client(job_queue_url=url, **JOB_SETTINGS)
    p.client = up
    job = confirm(p, key).json()
    assert job["state"] == "processing" and jobs_of(db, p.id) == [(job["id"], "queued")]
    svc = up.app.state.services
    assert _run(_drain(svc.settings, svc.storage)) == ["done"]
    assert p.get(job["href"]).json()["state"] == "done"


def test_a_send_whose_answer_is_lost_leaves_a_message_the_worker_drops(queued, db, monkeypatch):
    client, settings, storage, sqs, url = queued
    p = sign_in_guest(client)
    key = upload(client, p, picture())
    queue = client.app.state.services.queue

    def sent_but_no_answer(job_id):
        SqsQueue.send(queue, job_id)
        raise QueueUnavailable("ReadTimeoutError: the answer never came")

    monkeypatch.setattr(queue, "send", sent_but_no_answer)
    assert confirm(p, key).status_code == 503 and jobs_of(db, p.id) == []
    # its message went out for a job no longer there: the worker deletes it and changes nothing
    assert _run(_drain(settings, storage)) == ["duplicate"] and _visible(sqs, url) == 0
    assert p.state()["avatar_url"] is None and storage.read(key, 10**7) is not None, "the upload waits for a retry"

