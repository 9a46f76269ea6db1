"""Media storage: S3 in AWS, a local directory for the embedded default.

Both backends offer the same interface. The browser uploads with an S3-style POST form
(``url`` + ``fields`` + ``file``): to S3 through a presigned POST, or locally to the
service's own ``/api/media/local-upload`` with an equivalent signed policy. Uploads land
under ``incoming/<player_id>/`` and are never served from there; the service verifies an
upload (size, magic bytes) and only then copies it to ``media/avatars/<player_id>/``.
"""

from __future__ import annotations

import glob
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.staticfiles import StaticFiles

from game_service.core import clock
from game_service.contract import MEDIA_PREFIX, UPLOAD_PREFIX

ALLOWED_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
SNIFF_BYTES = 16


def sniff_image_type(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def incoming_prefix(player_id: int) -> str:
    return f"{UPLOAD_PREFIX}{player_id}/"


def avatars_prefix(player_id: int) -> str:
    """Where every avatar of the player lives (served at ``/media/avatars/<id>/...``)."""
    return f"{MEDIA_PREFIX}avatars/{player_id}/"


def new_incoming_key(player_id: int, content_type: str) -> str:
    return f"{incoming_prefix(player_id)}{uuid.uuid4().hex}.{ALLOWED_TYPES[content_type]}"


def avatar_prefix_for(player_id: int, upload_key: str | None = None) -> str:
    """Where the avatar made of upload ``upload_key`` goes, without its extension: named
    after the upload, so two confirms of one upload (a double click) make the same avatar."""
    stem = uuid.uuid4().hex if upload_key is None else upload_key.rsplit("/", 1)[-1].split(".", 1)[0]
    return f"{avatars_prefix(player_id)}{stem}."


def avatar_key_for(player_id: int, content_type: str, upload_key: str | None = None) -> str:
    return avatar_prefix_for(player_id, upload_key) + ALLOWED_TYPES[content_type]


def public_url(key: str) -> str:
    """The CDN (and the local server) serve key ``media/x`` at ``/media/x``."""
    return "/" + key


@dataclass
class ObjectHead:
    size: int
    head: bytes


def _missing(exc: Exception) -> bool:
    """An S3 error that says the object is not there."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3Storage:
    def __init__(self, bucket: str, max_bytes: int, expiry: int):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.max_bytes = max_bytes
        self.expiry = expiry
        # Signature Version 4 everywhere, presigned POST forms included (x-amz-algorithm,
        # x-amz-credential, x-amz-date, x-amz-signature): buckets created since June 2020
        # refuse the older SigV2 forms (AWSAccessKeyId, signature).
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.s3 = boto3.client(
            "s3", region_name=region,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}),
        )

    def presign_upload(self, player_id: int, content_type: str) -> dict:
        key = new_incoming_key(player_id, content_type)
        post = self.s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["starts-with", "$key", incoming_prefix(player_id)],
                ["content-length-range", 1, self.max_bytes],
            ],
            ExpiresIn=self.expiry,
        )
        return {"url": post["url"], "fields": post["fields"], "key": key}

    def head(self, key: str) -> ObjectHead | None:
        from botocore.exceptions import ClientError

        try:  # None also when a concurrent request moves it away between the two calls
            meta = self.s3.head_object(Bucket=self.bucket, Key=key)
            size = int(meta["ContentLength"])
            if size == 0:
                return ObjectHead(0, b"")
            body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
            return ObjectHead(size, body["Body"].read())
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def promote(self, src: str, dst: str, content_type: str) -> bool:
        """Copy ``src`` to ``dst`` and delete ``src``; True when ``dst`` holds it then (a
        concurrent confirm of the same upload may have moved it there first)."""
        from botocore.exceptions import ClientError

        try:
            self.s3.copy_object(
                Bucket=self.bucket,
                Key=dst,
                CopySource={"Bucket": self.bucket, "Key": src},
                ContentType=content_type,
                CacheControl="public, max-age=31536000, immutable",
                MetadataDirective="REPLACE",
            )
        except ClientError as exc:
            if _missing(exc):
                return self.first_key(dst) == dst
            raise
        self.s3.delete_object(Bucket=self.bucket, Key=src)
        return True

    def first_key(self, prefix: str) -> str | None:
        """The first key under ``prefix``, if any."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return listing["Contents"][0]["Key"] if listing.get("Contents") else None

    def read(self, key: str, limit: int) -> bytes | None:
        """The object's first ``limit`` bytes (None: no such object)."""
        from botocore.exceptions import ClientError

        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{limit - 1}")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return body["Body"].read()

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """A media object, served as-is and cached for good (its key never holds other bytes)."""
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                           CacheControl="public, max-age=31536000, immutable")

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        """Every version of every object under ``prefix``, and the delete markers: the media
        bucket is versioned, so a plain delete would only hide the objects (their noncurrent
        versions would stay for the bucket's noncurrent-version lifetime)."""
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            versions = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
            if versions:
                result = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": versions, "Quiet": True})
                if result.get("Errors"):
                    first = result["Errors"][0]
                    raise RuntimeError(f"S3 refused to delete {len(result['Errors'])} object version(s), e.g. "
                                       f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}")

    def check(self) -> None:
        self.s3.head_bucket(Bucket=self.bucket)


class LocalStorage:
    """The same interface on a local directory (embedded default for local play).

    Like the bucket's lifecycle rule, unconfirmed uploads under ``incoming/`` expire
    (``incoming_expiry`` seconds after they were written; swept when an upload arrives), and
    a player keeps at most ``incoming_per_player`` of them (the oldest go first): upload
    forms cannot fill the disk."""

    UPLOAD_URL = "/api/media/local-upload"

    def __init__(self, root: str, max_bytes: int, expiry: int, secret: str,
                 incoming_expiry: int = 24 * 3600, incoming_per_player: int = 3):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "media").mkdir(exist_ok=True)
        self.max_bytes = max_bytes
        self.expiry = expiry
        self.incoming_expiry = incoming_expiry
        self.incoming_per_player = incoming_per_player
        self._signer = URLSafeSerializer(secret, salt="local-upload-policy")

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root not in p.parents:
            raise ValueError("key outside the media root")
        return p

    def presign_upload(self, player_id: int, content_type: str) -> dict:
        key = new_incoming_key(player_id, content_type)
        policy = self._signer.dumps(
            {"key": key, "ct": content_type, "max": self.max_bytes, "exp": clock.now_ms() // 1000 + self.expiry}
        )
        return {"url": self.UPLOAD_URL, "fields": {"key": key, "Content-Type": content_type, "policy": policy}, "key": key}

    def check_policy(self, policy: str, key: str, content_type: str) -> int:
        """Verify a local upload form like S3 would; return the size limit."""
        try:
            data = self._signer.loads(policy)
        except BadSignature as exc:
            raise PermissionError("invalid upload policy") from exc
        if data.get("exp", 0) < clock.now_ms() / 1000:
            raise PermissionError("upload policy expired")
        if data.get("key") != key or data.get("ct") != content_type:
            raise PermissionError("upload form does not match its policy")
        return int(data["max"])

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.expire_incoming()
        # room for this one: the player's oldest pending uploads go
        pending = sorted((p for p in path.parent.iterdir() if p.is_file()), key=lambda p: p.stat().st_mtime)
        for old in pending[: max(0, len(pending) - self.incoming_per_player + 1)]:
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def expire_incoming(self) -> int:
        """Delete unconfirmed uploads older than ``incoming_expiry`` (on the game clock);
        return how many went."""
        incoming = self.root / "incoming"
        if not incoming.is_dir():
            return 0
        cutoff = clock.now_ms() / 1000 - self.incoming_expiry
        gone = 0
        for f in incoming.glob("*/*"):
            try:
                if f.is_file() and f.stat().st_mtime < cutoff:
                    f.unlink()
                    gone += 1
            except FileNotFoundError:
                pass
        return gone

    def head(self, key: str) -> ObjectHead | None:
        """None also when a concurrent request moves the file away while it is read."""
        try:
            with self._path(key).open("rb") as f:
                return ObjectHead(os.fstat(f.fileno()).st_size, f.read(SNIFF_BYTES))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def promote(self, src: str, dst: str, content_type: str) -> bool:
        """Move ``src`` to ``dst``; True when ``dst`` holds it then (a concurrent confirm of
        the same upload may have moved it there first)."""
        d = self._path(dst)
        d.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self._path(src), d)
        except FileNotFoundError:
            return d.is_file()
        return True

    def first_key(self, prefix: str) -> str | None:
        """The first key under ``prefix``, if any."""
        p = self._path(prefix)
        first = next((f for f in p.parent.glob(glob.escape(p.name) + "*") if f.is_file()), None) \
            if p.parent.is_dir() else None
        return None if first is None else first.relative_to(self.root).as_posix()

    def read(self, key: str, limit: int) -> bytes | None:
        try:
            with self._path(key).open("rb") as f:
                return f.read(limit)
        except (FileNotFoundError, IsADirectoryError):
            return None

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            pass

    def delete_prefix(self, prefix: str) -> None:
        p = self._path(prefix.rstrip("/"))
        if p.is_dir():
            shutil.rmtree(p)

    def check(self) -> None:
        """The directory takes a write: a probe file of this check's own (checks run at once)."""
        probe = self.root / f".ready-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()


class NoSniffStaticFiles(StaticFiles):
    """Served media say ``X-Content-Type-Options: nosniff``: a browser keeps to the declared
    image type (a GIF that is also HTML stays a GIF). CloudFront adds it in AWS."""

    async def get_response(self, path: str, scope):
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def make_storage(settings) -> S3Storage | LocalStorage:
    if settings.media_bucket:
        return S3Storage(settings.media_bucket, settings.avatar_max_bytes, settings.upload_url_expiry_seconds)
    return LocalStorage(
        settings.media_dir, settings.avatar_max_bytes, settings.upload_url_expiry_seconds, settings.session_secret,
        settings.local_incoming_expiry_seconds, settings.local_incoming_per_player,
    )
