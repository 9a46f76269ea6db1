"""moto's server standing in for S3, Secrets Manager and SQS: the media and static buckets
(readable by the front door as CloudFront's origin access control reads them, the web page
published to the static bucket), the secrets (the database's shaped like RDS's, the app's
session secret) and the job queue with its dead-letter queue (the storage stack's)."""

from __future__ import annotations

import json
import mimetypes
import secrets
import subprocess
import sys
from pathlib import Path

from game_service.contract import JOB_MAX_RECEIVES, JOB_VISIBILITY_SECONDS, MEDIA_PREFIX
from host.bundle import SERVICE_DIR
from local_topology.processes import wait_http

STATIC_DIR = SERVICE_DIR / "static"
REGION = "us-east-1"
MEDIA_BUCKET = "local-media"
STATIC_BUCKET = "local-static"
SECRET_DB_MASTER = "local/db-master"
SECRET_DB_APP = "local/db-app"
SECRET_APP = "local/app"
JOB_QUEUE = "local-jobs"
JOB_DEAD_LETTER_QUEUE = "local-jobs-dead"


def start(address: str, port: int, log_path: Path) -> int:
    """moto's server on ``address:port`` (a process group of its own); its pid (``wait`` for it)."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", address, "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc.pid


def wait(url: str) -> None:
    """Until moto's server at ``url`` answers."""
    wait_http(url + "/moto-api/", "moto", 30)


def client(url: str, service: str):
    """A boto3 client of ``service`` at moto's ``url``."""
    import boto3

    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed_buckets(url: str, front: str) -> None:
    """The buckets, their policies and CORS, and the web page in the static bucket;
    ``front``: the front door's origin (where browsers post uploads from)."""
    s3 = client(url, "s3")
    for bucket in (MEDIA_BUCKET, STATIC_BUCKET):
        s3.create_bucket(Bucket=bucket)
    # The buckets let the front door read what CloudFront's origin access control reads:
    # the whole static bucket, only media/ of the media bucket (uploads under incoming/ stay private).
    for bucket, prefix in ((STATIC_BUCKET, ""), (MEDIA_BUCKET, MEDIA_PREFIX)):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "FrontDoorRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/{prefix}*"}]}))
    # browsers post uploads straight to the bucket (presigned POST), as in the storage stack
    s3.put_bucket_cors(Bucket=MEDIA_BUCKET, CORSConfiguration={"CORSRules": [{
        "AllowedMethods": ["POST"], "AllowedOrigins": [front], "AllowedHeaders": ["*"], "MaxAgeSeconds": 3000}]})
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            s3.put_object(Bucket=STATIC_BUCKET, Key=str(path.relative_to(STATIC_DIR)), Body=path.read_bytes(),
                          ContentType=ctype)


def seed_secrets(url: str, *, database: dict, master: tuple[str, str], app: tuple[str, str]) -> None:
    """The database secrets, shaped like RDS's (``database``: engine, host, port, dbname;
    ``master`` and ``app``: user and password), and the app secret."""
    sm = client(url, "secretsmanager")
    for name, (username, password) in ((SECRET_DB_MASTER, master), (SECRET_DB_APP, app)):
        sm.create_secret(Name=name, SecretString=json.dumps({"username": username, "password": password, **database}))
    sm.create_secret(Name=SECRET_APP, SecretString=json.dumps({"session_secret": secrets.token_urlsafe(32)}))


def seed_queue(url: str) -> str:
    """The job queue and its dead-letter queue, as the storage stack makes them (the
    visibility timeout and the redrive's receive count from the service contract); the job
    queue's URL."""
    sqs = client(url, "sqs")
    dead = sqs.create_queue(QueueName=JOB_DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs.create_queue(QueueName=JOB_QUEUE, Attributes={
        "VisibilityTimeout": str(JOB_VISIBILITY_SECONDS),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": str(JOB_MAX_RECEIVES)}),
    })["QueueUrl"]
