"""The Facebook friends import through the job queue: with ``GAME_JOB_QUEUE_URL`` set,
``POST /api/friends/facebook-import`` checks the token, records a job with the token sealed
in its row, sends the job's id and answers 202; a worker reads the friend list page by page
and makes the friendships; ``GET /api/jobs/{id}`` says how many it added, or why it could not.

The API and the worker run in-process (as in test_avatar_jobs.py); SQS is moto's server,
Facebook's Graph API the local fake (conftest.FakeGraph), PostgreSQL real. Without a queue
the import stays in the request (test_facebook.py).
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

from game_service.core import clock, sealing
from game_service.jobs.handlers import IMPORT_EXPIRED, IMPORT_REJECTED
from tests.game_service.test_avatar_jobs import jobs_of
from tests.game_service.test_facebook import fb_sign_in, signed
from tests.game_service.test_jobs import _drain, _visible


def ask(player, token: str):
    return player.post("/api/friends/facebook-import", json={"access_token": token},
                       headers={"Idempotency-Key": uuid.uuid4().hex})


def friend_ids(player) -> set[int]:
    return {f["id"] for f in player.get("/api/friends").json()["friends"]}


def players_on_facebook(client, fake_graph, me: str, friends: list[str]):
    """``me`` and ``friends`` signed in with Facebook, Facebook's friend list of ``me`` set."""
    p = fb_sign_in(client, signed_request=signed(me))
    others = [fb_sign_in(client, signed_request=signed(f)) for f in friends]
    fake_graph.friends[me] = friends + [f"{me}-not-playing-{i}" for i in range(3)]
    return p, others


def test_an_import_is_a_job_the_worker_does_reading_every_page(queued, fake_graph, db, monkeypatch):
    client, settings, storage, sqs, url = queued
    me_fb = f"fb-{uuid.uuid4().hex[:8]}"
    p, others = players_on_facebook(client, fake_graph, me_fb, [f"{me_fb}-f{i}" for i in range(30)])
    token = fake_graph.user_token(me_fb)
    # a double click (three at once): one job, the answer at once
    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: ask(p, token), range(3)))
    job = answers[0].json()
    assert [a.status_code for a in answers] == [202] * 3 and {a.json()["id"] for a in answers} == {job["id"]}
    assert (job["kind"], job["state"], job["added"]) == ("friends_import", "processing", None)
    assert job["href"] == answers[0].headers["Location"]
    assert friend_ids(p) == set(), "the request made no friendship: the worker does"
    # the token rides in the row sealed, not in plaintext, and the message is the job's id only
    (sealed,) = db.execute("SELECT sealed FROM jobs WHERE id = %s", (job["id"],)).fetchone()
    assert sealed and token not in sealed and sealing.unseal(settings.session_secret, sealed) == token
    (body,) = {m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                       VisibilityTimeout=0)["Messages"]}
    assert token not in body
    # every request sent the job again (its first send might have been lost): one runs it,
    # reading the list in pages of 7 (Facebook may hand out fewer than the 500 asked for)
    monkeypatch.setattr(fake_graph, "max_page", 7)
    assert sorted(asyncio.run(_drain(settings, storage))) == ["done", "duplicate", "duplicate"]
    done = p.get(job["href"]).json()
    assert (done["state"], done["added"], done["reason"]) == ("done", 30, None)
    assert friend_ids(p) == {o.id for o in others}
    assert p.id in friend_ids(others[0]), "a friendship goes both ways"
    (sealed,) = db.execute("SELECT sealed FROM jobs WHERE id = %s", (job["id"],)).fetchone()
    assert sealed is None, "a finished job keeps no token"
    assert _visible(sqs, url) == 0
    # a later import is a new job, and finds nothing new
    again = ask(p, token).json()
    assert again["id"] != job["id"]
    assert asyncio.run(_drain(settings, storage)) == ["done"]
    assert p.get(again["href"]).json()["added"] == 0


def test_facebook_failing_is_retried_and_a_revoked_token_is_refused_in_plain_words(queued, fake_graph, db):
    client, settings, storage, _, _ = queued
    me_fb = f"fb-{uuid.uuid4().hex[:8]}"
    p, (friend,) = players_on_facebook(client, fake_graph, me_fb, [f"{me_fb}-f"])
    token = fake_graph.user_token(me_fb)
    job = ask(p, token).json()
    fake_graph.friends_failures = 1  # Facebook answers 500 once: a retry, then it works
    assert asyncio.run(_drain(settings, storage, rounds=2)) == ["retry", "done"]
    assert p.get(job["href"]).json()["added"] == 1 and friend_ids(p) == {friend.id}
    # a token revoked between the request and the worker: an answer, not a retry
    token = fake_graph.user_token(me_fb)
    job = ask(p, token).json()
    del fake_graph.tokens[token]
    assert asyncio.run(_drain(settings, storage)) == ["refused"]
    got = p.get(job["href"]).json()
    assert (got["state"], got["reason"], got["added"]) == ("refused", IMPORT_REJECTED, None)
    assert db.execute("SELECT sealed FROM jobs WHERE id = %s", (job["id"],)).fetchone() == (None,)


def test_a_token_that_waited_too_long_is_refused_and_asks_for_a_new_import(queued, fake_graph):
    client, settings, storage, _, _ = queued
    me_fb = f"fb-{uuid.uuid4().hex[:8]}"
    p, _ = players_on_facebook(client, fake_graph, me_fb, [f"{me_fb}-f"])
    job = ask(p, fake_graph.user_token(me_fb)).json()
    clock.advance(sealing.TTL_SECONDS + 1)  # the queue was backed up for over an hour
    assert asyncio.run(_drain(settings, storage)) == ["refused"]
    assert p.get(job["href"]).json()["reason"] == IMPORT_EXPIRED
    assert friend_ids(p) == set()


def test_an_import_for_a_player_deleted_meanwhile_changes_nothing(queued, fake_graph, db):
    client, settings, storage, _, _ = queued
    me_fb = f"fb-{uuid.uuid4().hex[:8]}"
    p, (friend,) = players_on_facebook(client, fake_graph, me_fb, [f"{me_fb}-f"])
    job = ask(p, fake_graph.user_token(me_fb)).json()
    db.execute("DELETE FROM players WHERE id = %s", (p.id,))
    assert asyncio.run(_drain(settings, storage)) == ["done"]
    assert friend_ids(friend) == set() and jobs_of(db, p.id) == [(job["id"], "done")]


def test_someone_else_s_token_is_refused_before_any_job(queued, fake_graph, db):
    client, *_ = queued
    me_fb, other_fb = (f"fb-{uuid.uuid4().hex[:8]}" for _ in range(2))
    p, _ = players_on_facebook(client, fake_graph, me_fb, [])
    fb_sign_in(client, signed_request=signed(other_fb))
    r = ask(p, fake_graph.user_token(other_fb))
    assert r.status_code == 403 and r.json()["error"] == "facebook_mismatch"
    assert ask(p, "not-a-token").status_code == 401
    assert jobs_of(db, p.id) == []
