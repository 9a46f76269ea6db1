"""Storage: the media bucket is private, encrypted, versioned, TLS-only, logged, with
CORS for browser uploads and lifecycle rules; CloudFront may read only media/."""

from __future__ import annotations

import pytest

from stacks.config import STAGES
from tests.stacks.helpers import props, resources


def _bucket(template, prefix):
    (found,) = [r["Properties"] for lid, r in resources(template, "AWS::S3::Bucket").items() if lid.startswith(prefix)]
    return found


def _policy_of(template, prefix):
    (found,) = [
        p["PolicyDocument"]["Statement"] for p in props(template, "AWS::S3::BucketPolicy")
        if str(p["Bucket"]).find(prefix) != -1
    ]
    return found


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
@pytest.mark.parametrize("bucket", ["MediaBucket", "StaticBucket", "LogsBucket"])
def test_every_bucket_private_encrypted_tls_only(templates, stage, bucket):
    storage = templates[stage]["storage"]
    b = _bucket(storage, bucket)
    assert b["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True
    }
    assert b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    statements = _policy_of(storage, bucket)
    assert any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )
    stateful = resources(storage, "AWS::S3::Bucket")
    assert all(r["DeletionPolicy"] == "Retain" for r in stateful.values())


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_media_bucket_versioned_logged_with_cors_and_lifecycle(templates, stage):
    media = _bucket(templates[stage]["storage"], "MediaBucket")
    assert media["VersioningConfiguration"]["Status"] == "Enabled"
    assert media["LoggingConfiguration"]["LogFilePrefix"] == "s3/media/"
    (cors,) = media["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    assert cors["AllowedOrigins"] == ["https://*.cloudfront.net"]
    rules = {r["Id"]: r for r in media["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    expected_days = STAGES[stage].media_noncurrent_version_expiry_days
    assert rules["expire-old-versions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == expected_days
    assert rules["expire-incoming"]["Prefix"] == "incoming/" and rules["expire-incoming"]["ExpirationInDays"] == 1


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_cloudfront_reads_only_verified_media(templates, stage):
    statements = _policy_of(templates[stage]["storage"], "MediaBucket")
    (grant,) = [s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert grant["Action"] == "s3:GetObject"
    assert "/media/*" in str(grant["Resource"])
    assert "incoming" not in str(grant["Resource"])
    assert grant["Condition"]["StringEquals"]["AWS:SourceAccount"] == STAGES[stage].account


def test_custom_domain_narrows_cors(synth_config):
    variant = synth_config(
        "starter",
        domain_name="play.example.com",
        certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666",
    )
    media = _bucket(variant["storage"], "MediaBucket")
    assert media["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"] == ["https://play.example.com"]
    distribution = props(variant["app"], "AWS::CloudFront::Distribution")[0]["DistributionConfig"]
    assert distribution["Aliases"] == ["play.example.com"]
    assert distribution["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert distribution["ViewerCertificate"]["SslSupportMethod"] == "sni-only"


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_outputs_name_the_buckets(templates, stage):
    assert {"MediaBucketName", "StaticBucketName", "LogsBucketName"} <= set(templates[stage]["storage"]["Outputs"])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_the_job_queue_dead_letters_after_as_many_receives_as_the_worker_counts(templates, stage):
    """The redrive count and the visibility timeout are the ones the hosts' worker is given:
    the attempt the worker counts as the last is the one after which SQS moves the message."""
    from game_service.contract import JOB_MAX_RECEIVES, JOB_VISIBILITY_SECONDS
    from tests.stacks.test_app import _user_data

    storage = templates[stage]["storage"]["Resources"]
    queue, dead = storage["JobQueue"]["Properties"], storage["JobDeadLetterQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["JobDeadLetterQueue", "Arn"]},
                                      "maxReceiveCount": JOB_MAX_RECEIVES}
    assert queue["VisibilityTimeout"] == JOB_VISIBILITY_SECONDS and queue["SqsManagedSseEnabled"] is True
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600, "a failed job waits two weeks for a person"
    script = _user_data(templates, stage)
    assert f"GAME_JOB_MAX_RECEIVES={JOB_MAX_RECEIVES}" in script
    assert f"GAME_JOB_VISIBILITY_SECONDS={JOB_VISIBILITY_SECONDS}" in script and "GAME_JOB_QUEUE_URL=" in script
    policies = [r["Properties"]["PolicyDocument"] for r in storage.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert len(policies) == 2 and all(
        any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in p["Statement"])
        for p in policies), "TLS only, on both queues"
