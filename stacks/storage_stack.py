"""Storage (stateful): the media bucket (player uploads), the static-assets bucket,
the access-logs bucket and the job queue. Logical IDs are pinned by a test."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from game_service.contract import JOB_MAX_RECEIVES, JOB_VISIBILITY_SECONDS, MEDIA_PREFIX, UPLOAD_PREFIX
from patterns.job_queue import JobQueue
from patterns.nag import acknowledge
from patterns.secure_bucket import SecureBucket
from stacks.config import StageConfig

class StorageStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)

        # CloudFront standard logs need ACLs on their bucket, so this bucket keeps
        # object ownership "bucket owner preferred"; the other buckets enforce it.
        self.logs_bucket = s3.Bucket(
            self,
            "LogsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(config.log_retention_days)),
                s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.logs_bucket,
            "AwsSolutions-S1",
            "This is the access-log destination of the other buckets, the load balancer and "
            "CloudFront; logging its own access into itself would loop.",
        )

        allowed_origins = (
            [f"https://{config.domain_name}"] if config.domain_name else ["https://*.cloudfront.net"]
        )
        self.media_bucket = SecureBucket(
            self,
            "MediaBucket",
            access_logs_bucket=self.logs_bucket,
            access_logs_prefix="s3/media/",
            versioned=True,
            noncurrent_version_expiry_days=config.media_noncurrent_version_expiry_days,
            expire_prefixes={UPLOAD_PREFIX: 1},
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=allowed_origins,
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
            cloudfront_read_prefix=MEDIA_PREFIX,
        ).bucket
        self.static_bucket = SecureBucket(
            self,
            "StaticBucket",
            access_logs_bucket=self.logs_bucket,
            access_logs_prefix="s3/static/",
            cloudfront_read_prefix="",
        ).bucket

        # Fixed logical IDs: a refactor must never replace a bucket (and orphan its
        # content); tests/stacks/test_stateful_ids.py pins them.
        for bucket, logical_id in (
            (self.media_bucket, "MediaBucket"), (self.static_bucket, "StaticBucket"), (self.logs_bucket, "LogsBucket")
        ):
            bucket.node.default_child.override_logical_id(logical_id)

        # Named exports (instead of CDK's generated ones) for the ARNs the app stack
        # scopes IAM policies to: stable names that reviewers and cdk-nag
        # acknowledgements can refer to, and that `export_value` can keep alive
        # during a two-step removal.
        self.media_bucket_arn = self.export_value(self.media_bucket.bucket_arn, name=f"{config.name}-media-bucket-arn")
        self.static_bucket_arn = self.export_value(self.static_bucket.bucket_arn, name=f"{config.name}-static-bucket-arn")

        # The job queue (patterns.job_queue): its messages are state (acknowledged work not yet
        # done), so it lives with the other stateful resources. Its visibility timeout and
        # redrive count are the worker's own settings (game_service.contract).
        self.job_queue = JobQueue(self, "Jobs", visibility_seconds=JOB_VISIBILITY_SECONDS,
                                  max_receives=JOB_MAX_RECEIVES)
        # Fixed logical IDs, as for the buckets: a replaced queue loses the jobs on it.
        for queue, logical_id in ((self.job_queue.queue, "JobQueue"), (self.job_queue.dead_letters, "JobDeadLetterQueue")):
            queue.node.default_child.override_logical_id(logical_id)
        CfnOutput(self, "JobDeadLetterQueueUrl", value=self.job_queue.dead_letters.queue_url,
                  description="Jobs that failed every attempt (their reason is in the jobs table); redrive when fixed")

        CfnOutput(self, "MediaBucketName", value=self.media_bucket.bucket_name,
                  description="Player uploads (incoming/) and verified media (media/)")
        CfnOutput(self, "StaticBucketName", value=self.static_bucket.bucket_name,
                  description="The game's web page, served by CloudFront at /")
        CfnOutput(self, "LogsBucketName", value=self.logs_bucket.bucket_name,
                  description="Access logs of the buckets, the load balancer and CloudFront")
