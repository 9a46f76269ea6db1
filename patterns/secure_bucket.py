"""A private, encrypted, TLS-only S3 bucket with access logs and lifecycle rules."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct


class SecureBucket(Construct):
    """An S3 bucket that is secure by default.

    Always: block all public access, SSE-S3 encryption, TLS-only bucket policy,
    server access logs to ``access_logs_bucket``, incomplete multipart uploads
    aborted after a day, retained on stack deletion (its content outlives the stack).
    Optional: versioning with expiry of old versions, CORS, expiring prefixes,
    and read access for CloudFront distributions of this account (origin access control).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        access_logs_bucket: s3.IBucket,
        access_logs_prefix: str,
        versioned: bool = False,
        noncurrent_version_expiry_days: int | None = None,
        cors: Sequence[s3.CorsRule] = (),
        expire_prefixes: dict[str, int] | None = None,
        cloudfront_read_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if noncurrent_version_expiry_days is not None and not versioned:
            raise ValueError(f"{id_}: noncurrent_version_expiry_days needs versioned=True")
        if not access_logs_prefix.endswith("/"):
            raise ValueError(f"{id_}: access_logs_prefix must end with '/', got {access_logs_prefix!r}")

        rules = [s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1))]
        if noncurrent_version_expiry_days is not None:
            rules.append(
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_expiry_days),
                    expired_object_delete_marker=True,
                )
            )
        for prefix, days in sorted((expire_prefixes or {}).items()):
            rules.append(s3.LifecycleRule(id=f"expire-{prefix.strip('/')}", prefix=prefix, expiration=Duration.days(days)))

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=versioned,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs_bucket,
            server_access_logs_prefix=access_logs_prefix,
            lifecycle_rules=rules,
            cors=list(cors) or None,
            removal_policy=RemovalPolicy.RETAIN,
        )

        if cloudfront_read_prefix is not None:
            # Origin access control: CloudFront signs its requests; the bucket lets any
            # distribution of this account read the prefix. Scoping to the one
            # distribution would make the bucket's stack depend on the edge stack,
            # which depends on the bucket: a cycle across the stateful boundary.
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowCloudFrontOriginAccessControlRead",
                    principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
                    actions=["s3:GetObject"],
                    resources=[self.bucket.arn_for_objects(f"{cloudfront_read_prefix}*")],
                    conditions={
                        "StringEquals": {"AWS:SourceAccount": self.bucket.stack.account},
                        "ArnLike": {
                            "AWS:SourceArn": f"arn:{self.bucket.stack.partition}:cloudfront::{self.bucket.stack.account}:distribution/*"
                        },
                    },
                )
            )
