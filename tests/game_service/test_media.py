"""Avatar upload: presigned POST, verification by size and magic bytes, serving at /media.

S3 is emulated by moto running as a local HTTP server; the local-directory backend is
the embedded default. Note: moto does not enforce a presigned POST's content-length-range
or expiry, so these tests show the service's own verification refusing bad uploads."""

from __future__ import annotations

import httpx
import pytest

from game_service.core import clock
from tests.game_service.conftest import FB_APP_SECRET, make_signed_request, sign_in_guest

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def upload_local(client, player, content=PNG, ctype="image/png"):
    up = player.post("/api/me/avatar/upload-url", json={"content_type": ctype})
    assert up.status_code == 200, up.text
    up = up.json()
    r = client.post(up["url"], data=up["fields"], files={"file": ("f", content, ctype)})
    return up, r


def test_local_avatar_upload_is_verified_then_served_under_media(client):
    p = sign_in_guest(client)
    up, r = upload_local(client, p)
    assert up["url"] == "/api/media/local-upload" and up["key"].startswith(f"incoming/{p.id}/")
    assert r.status_code == 204
    # unverified uploads are never served
    assert client.get("/" + up["key"]).status_code == 404
    assert client.get("/media/../" + up["key"]).status_code == 404
    r = p.post("/api/me/avatar", json={"key": up["key"]})
    assert r.status_code == 200
    url = r.json()["avatar_url"]
    assert url.startswith(f"/media/avatars/{p.id}/") and url.endswith(".png")
    got = client.get(url)
    assert got.status_code == 200 and got.content == PNG
    assert p.state()["avatar_url"] == url
    # a second avatar replaces the first one, which is deleted
    up2, _ = upload_local(client, p, JPEG, "image/jpeg")
    url2 = p.post("/api/me/avatar", json={"key": up2["key"]}).json()["avatar_url"]
    assert url2.endswith(".jpg") and client.get(url2).content == JPEG
    assert client.get(url).status_code == 404


def test_a_file_that_is_not_an_image_is_refused_and_removed(client):
    p = sign_in_guest(client)
    up, r = upload_local(client, p, b"<html>not an image</html>", "image/png")
    assert r.status_code == 204
    r = p.post("/api/me/avatar", json={"key": up["key"]})
    assert r.status_code == 422 and "PNG" in r.json()["detail"]
    assert p.post("/api/me/avatar", json={"key": up["key"]}).status_code == 404  # deleted
    assert p.state()["avatar_url"] is None


def test_someone_elses_upload_is_a_404(client):
    a, b = sign_in_guest(client), sign_in_guest(client)
    up, _ = upload_local(client, a)
    assert b.post("/api/me/avatar", json={"key": up["key"]}).status_code == 404
    assert b.post("/api/me/avatar", json={"key": f"incoming/{b.id}/../{a.id}/x.png"}).status_code == 404


def test_a_local_upload_form_expires_on_the_game_clock(client):
    p = sign_in_guest(client)
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    clock.advance(301)  # upload URLs last 300 s by default
    r = client.post(up["url"], data=up["fields"], files={"file": ("f", PNG, "image/png")})
    assert r.status_code == 403 and "expired" in r.json()["detail"]


def test_local_upload_form_enforces_its_policy(make_client):
    c = make_client(avatar_max_bytes=1024)
    p = sign_in_guest(c)
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    too_big = PNG + b"\0" * 2000
    r = c.post(up["url"], data=up["fields"], files={"file": ("f", too_big, "image/png")})
    # like S3 answers a form outside its content-length-range: 400 EntityTooLarge
    assert r.status_code == 400 and r.json()["error"] == "entity_too_large"
    forged = {**up["fields"], "key": f"incoming/{p.id + 1}/x.png"}
    r = c.post(up["url"], data=forged, files={"file": ("f", PNG, "image/png")})
    assert r.status_code == 403 and r.json()["error"] == "upload_denied"
    other_type = {**up["fields"], "Content-Type": "text/html"}
    assert c.post(up["url"], data=other_type, files={"file": ("f", PNG, "text/html")}).status_code == 403
    r = p.post("/api/me/avatar/upload-url", json={"content_type": "text/html"})
    assert r.status_code == 422


@pytest.fixture
def s3_client(aws, make_client):
    s3 = aws.client("s3")
    bucket = "media-test-bucket"
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    return make_client(media_bucket=bucket), s3, bucket


@pytest.mark.slow  # the emulated S3 (moto) and its retries take seconds
def test_s3_avatar_upload_via_presigned_post(s3_client):
    client, s3, bucket = s3_client
    p = sign_in_guest(client)
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    assert up["key"].startswith(f"incoming/{p.id}/")
    assert up["fields"]["Content-Type"] == "image/png" and "policy" in up["fields"]
    import base64
    import json

    policy = json.loads(base64.b64decode(up["fields"]["policy"]))
    conds = policy["conditions"]
    assert ["content-length-range", 1, 2 * 1024 * 1024] in conds
    assert ["starts-with", "$key", f"incoming/{p.id}/"] in conds
    assert {"Content-Type": "image/png"} in conds
    # the browser's upload: a real multipart POST to the (emulated) S3 endpoint
    r = httpx.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")})
    assert r.status_code == 204, r.text  # S3's answer to a POST upload without success_action_status
    r = p.post("/api/me/avatar", json={"key": up["key"]})
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    key = url.lstrip("/")
    assert key.startswith(f"media/avatars/{p.id}/")
    obj = s3.get_object(Bucket=bucket, Key=key)
    assert obj["Body"].read() == PNG and obj["ContentType"] == "image/png"
    # the incoming object is gone
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"incoming/{p.id}/").get("KeyCount", 0) == 0


@pytest.mark.slow  # the emulated S3 (moto) and its retries take seconds
def test_s3_upload_that_is_too_large_or_not_an_image_is_refused(s3_client):
    client, s3, bucket = s3_client
    p = sign_in_guest(client)
    # moto ignores content-length-range, so the service's own check must catch it
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    r = httpx.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG + b"\0" * (2 * 1024 * 1024), "image/png")})
    assert r.status_code == 204
    r = p.post("/api/me/avatar", json={"key": up["key"]})
    assert r.status_code == 422 and "bytes" in r.json()["detail"]
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    httpx.post(up["url"], data=up["fields"], files={"file": ("a.png", b"GIF8 not really", "image/png")})
    r = p.post("/api/me/avatar", json={"key": up["key"]})
    assert r.status_code == 422
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"incoming/{p.id}/").get("KeyCount", 0) == 0
    assert p.state()["avatar_url"] is None


@pytest.mark.slow  # the emulated S3 (moto) and its retries take seconds
def test_readiness_reports_storage_failure(aws, make_client):
    c = make_client(media_bucket="no-such-bucket-here")
    r = c.get("/api/health/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok" and r.json()["checks"]["storage"].startswith("error")


@pytest.mark.slow  # the emulated S3 (moto) and its retries take seconds
def test_s3_readiness_and_data_deletion_remove_the_players_objects(s3_client):
    import time

    from tests.game_service.conftest import FB_APP_SECRET, Player

    client, s3, bucket = s3_client
    assert client.get("/api/health/ready").json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}
    fb_user = f"fb-s3-{time.time_ns()}"
    sr = make_signed_request({"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": fb_user}, FB_APP_SECRET)
    r = client.post("/api/auth/facebook", json={"signed_request": sr})
    p = Player(client, r.json())
    up = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    httpx.post(up["url"], data=up["fields"], files={"file": ("a.png", PNG, "image/png")})
    key = p.post("/api/me/avatar", json={"key": up["key"]}).json()["avatar_url"].lstrip("/")
    # a second, never-confirmed upload is waiting under incoming/
    up2 = p.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
    httpx.post(up2["url"], data=up2["fields"], files={"file": ("b.png", PNG, "image/png")})
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"incoming/{p.id}/")["KeyCount"] == 1
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(PNG)

    r = client.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert r.status_code == 200
    for prefix in (f"media/avatars/{p.id}/", f"incoming/{p.id}/"):
        assert s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) == 0, prefix
    status = client.get(r.json()["url"].removeprefix("https://game.example.test")).json()
    assert status["status"] == "completed"


@pytest.mark.slow  # the emulated S3 (moto) and its retries take seconds
def test_data_deletion_stays_pending_while_storage_fails_and_the_status_url_completes_it(aws, make_client):
    import time



    s3 = aws.client("s3")
    broken = make_client(media_bucket="bucket-that-does-not-exist")
    fb_user = f"fb-pending-{time.time_ns()}"
    sr = make_signed_request({"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": fb_user}, FB_APP_SECRET)
    assert broken.post("/api/auth/facebook", json={"signed_request": sr}).status_code == 200
    r = broken.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert r.status_code == 200
    path = r.json()["url"].removeprefix("https://game.example.test")
    s = broken.get(path)
    assert s.status_code == 200 and s.json()["status"] == "pending" and s.json()["completed_at"] is None
    # storage is back (here: another replica with a working bucket): the status URL completes it
    s3.create_bucket(Bucket="bucket-now-working")
    healthy = make_client(media_bucket="bucket-now-working")
    s = healthy.get(path)
    assert s.json()["status"] == "completed" and s.json()["completed_at"]


@pytest.mark.slow  # the emulated S3 and CloudFront (moto)
def test_data_deletion_deletes_every_version_and_drops_the_cdns_copies(aws, make_client):
    """The media bucket is versioned (as in AWS): deleting a player's media removes every
    version and delete marker, not only the current objects, and CloudFront is told to drop
    its cached copies of the player's media paths."""
    import time

    from tests.game_service.conftest import FB_APP_SECRET, Player, versioned_media_behind_a_distribution

    s3, cloudfront = aws.client("s3"), aws.client("cloudfront")
    bucket, distribution, parameter = versioned_media_behind_a_distribution(aws, "media-versioned")
    client = make_client(media_bucket=bucket, cdn_distribution_parameter=parameter)

    fb_user = f"fb-versions-{time.time_ns()}"
    sr = make_signed_request({"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": fb_user}, FB_APP_SECRET)
    player = Player(client, client.post("/api/auth/facebook", json={"signed_request": sr}).json())
    for name in ("a.png", "b.png"):  # two avatars in turn: each promoted upload leaves versions behind
        up = player.post("/api/me/avatar/upload-url", json={"content_type": "image/png"}).json()
        httpx.post(up["url"], data=up["fields"], files={"file": (name, PNG, "image/png")})
        assert player.post("/api/me/avatar", json={"key": up["key"]}).status_code == 200

    def versions(prefix: str) -> int:
        listed = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
        return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))

    assert versions(f"incoming/{player.id}/") >= 2 and versions(f"media/avatars/{player.id}/") >= 2
    r = client.post("/api/facebook/data-deletion", data={"signed_request": sr})
    assert r.status_code == 200
    assert versions(f"incoming/{player.id}/") == 0 and versions(f"media/avatars/{player.id}/") == 0
    (invalidation,) = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation["Id"])["Invalidation"]["InvalidationBatch"]
    assert batch["Paths"]["Items"] == [f"/media/avatars/{player.id}/*"]
    assert client.get(r.json()["url"].removeprefix("https://game.example.test")).json()["status"] == "completed"
