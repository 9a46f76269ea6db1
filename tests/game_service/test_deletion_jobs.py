"""The Facebook data deletion through the job queue: with ``GAME_JOB_QUEUE_URL`` set, the
callback deletes the player's rows at once, records the job that removes their media and
sends it; the status URL says ``pending`` until the worker has removed every version of every
upload and avatar of the player and invalidated their CDN paths, then ``completed``. The same
callback again makes no second job; a message delivered twice changes nothing twice; with
the queue down the request does it itself.

The API and the worker run in-process; S3 (versioned, as the media bucket is), CloudFront,
SSM and SQS are emulated by moto's server; PostgreSQL is real.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from game_service.jobs.queue import QueueUnavailable, SqsQueue
from tests.game_service.conftest import FB_APP_SECRET, Player, make_signed_request, versioned_media_behind_a_distribution
from tests.game_service.test_jobs import _drain, _visible

pytestmark = pytest.mark.slow(seconds=6)  # the emulated AWS services


@pytest.fixture
def world(aws, queues, make_client):
    """A versioned media bucket, a distribution in front of it (its id in SSM, as the app
    stack writes it), a job queue, and the app configured with all three."""
    sqs, url, _ = queues
    s3, cloudfront = aws.client("s3"), aws.client("cloudfront")
    bucket, distribution, parameter = versioned_media_behind_a_distribution(aws, "media-deletion")
    client = make_client(media_bucket=bucket, cdn_distribution_parameter=parameter, job_queue_url=url,
                         job_visibility_seconds=5, job_max_receives=3, job_backoff_base_seconds=0, job_wait_seconds=0)
    return client, s3, bucket, cloudfront, distribution, sqs, url


def facebook_player_with_media(client, s3, bucket) -> tuple[Player, str]:
    """A Facebook player with two versions of an avatar and of an upload; the signed request."""
    sr = make_signed_request({"algorithm": "HMAC-SHA256", "issued_at": int(time.time()),
                              "user_id": f"fb-del-{time.time_ns()}"}, FB_APP_SECRET)
    player = Player(client, client.post("/api/auth/facebook", json={"signed_request": sr}).json())
    for key in (f"media/avatars/{player.id}/1.webp", f"incoming/{player.id}/upload"):
        for version in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key=key, Body=version)
    return player, sr


def versions(s3, bucket, player_id: int) -> int:
    n = 0
    for prefix in (f"media/avatars/{player_id}/", f"incoming/{player_id}/"):
        listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        n += len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))
    return n


def invalidations(cloudfront, distribution) -> list:
    return cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items", [])


def test_the_deletion_s_media_are_the_worker_s_job_and_the_status_follows_it(world, db):
    client, s3, bucket, cloudfront, distribution, sqs, url = world
    player, sr = facebook_player_with_media(client, s3, bucket)
    assert versions(s3, bucket, player.id) == 4

    r = client.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert r.status_code == 200, r.text
    code, status_path = r.json()["confirmation_code"], r.json()["url"].removeprefix("https://game.example.test")
    # the rows went in the request; the media wait for the worker, and the status says so
    assert player.get("/api/me").status_code == 401
    assert db.execute("SELECT count(*) FROM players WHERE id = %s", (player.id,)).fetchone()[0] == 0
    assert versions(s3, bucket, player.id) == 4 and invalidations(cloudfront, distribution) == []
    assert client.get(status_path).json()["status"] == "pending"
    # Facebook calls again with the same request: the same code and job; its message is sent
    # again, since the job has not started (the first send's answer may have been lost), and
    # the worker does the job once however many messages carry it
    again = client.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert again.json()["confirmation_code"] == code
    jobs = db.execute("SELECT id, state FROM jobs WHERE kind = 'data_deletion' AND subject = %s", (code,)).fetchall()
    assert [state for _, state in jobs] == ["queued"] and _visible(sqs, url) == 2

    svc = client.app.state.services
    assert sorted(asyncio.run(_drain(svc.settings, svc.storage))) == ["done", "duplicate"]
    assert versions(s3, bucket, player.id) == 0
    (inv,) = invalidations(cloudfront, distribution)
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=inv["Id"])["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"]["Items"] == [f"/media/avatars/{player.id}/*"]
    status = client.get(status_path).json()
    assert status["status"] == "completed" and status["completed_at"]

    # delivered once more, later (SQS delivers at least once): nothing happens twice
    SqsQueue(url).send(jobs[0][0])
    assert asyncio.run(_drain(svc.settings, svc.storage)) == ["duplicate"]
    assert len(invalidations(cloudfront, distribution)) == 1 and client.get(status_path).json() == status


def test_with_the_queue_down_the_request_deletes_the_media_itself(world, db, monkeypatch):
    client, s3, bucket, cloudfront, distribution, sqs, url = world
    player, sr = facebook_player_with_media(client, s3, bucket)

    def down(job_id):
        raise QueueUnavailable("emulated: SQS unreachable")

    monkeypatch.setattr(client.app.state.services.queue, "send", down)
    r = client.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert r.status_code == 200
    assert versions(s3, bucket, player.id) == 0 and len(invalidations(cloudfront, distribution)) == 1
    assert client.get(r.json()["url"].removeprefix("https://game.example.test")).json()["status"] == "completed"
    (state, reason), = db.execute("SELECT state, reason FROM jobs WHERE kind = 'data_deletion' AND subject = %s",
                                  (r.json()["confirmation_code"],)).fetchall()
    assert state == "failed" and "queue was unavailable" in reason and _visible(sqs, url) == 0
