"""The CloudFront distribution in front of everything players reach.

``/`` static page from the static bucket, ``/media/*`` verified uploads from the media
bucket (both through origin access control), ``/api/*`` to the app tier's VPC origin,
uncached. HTTPS only, TLS 1.2+ with a custom domain, security headers on every answer.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from constructs import Construct

from patterns.nag import acknowledge

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' https://connect.facebook.net",
        "connect-src 'self' https://*.amazonaws.com https://*.facebook.com https://graph.facebook.com",
        "img-src 'self' data: https://*.fbcdn.net https://platform-lookaside.fbsbx.com",
        "style-src 'self'",
        "frame-src https://*.facebook.com",
        "form-action 'self' https://*.amazonaws.com",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    )
)


class GameDistribution(Construct):
    """``static_bucket`` and ``media_bucket`` should be imported references to buckets
    whose own policy already lets this account's distributions read them
    (``SecureBucket(cloudfront_read_prefix=...)``): CloudFront then writes no policy
    back into the stateful stack, which would tie the two stacks in a cycle."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        api_origin: cloudfront.IVpcOrigin,
        static_bucket: s3.IBucket,
        media_bucket: s3.IBucket,
        logs_bucket: s3.IBucket,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
        comment: str,
    ) -> None:
        super().__init__(scope, id_)
        if (domain_name is None) != (certificate_arn is None):
            raise ValueError(f"{id_}: domain_name and certificate_arn go together")

        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Security headers on every response",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=CONTENT_SECURITY_POLICY, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                xss_protection=cloudfront.ResponseHeadersXSSProtection(protection=True, mode_block=True, override=True),
            ),
        )
        static_origin = origins.S3BucketOrigin.with_origin_access_control(static_bucket)
        media_origin = origins.S3BucketOrigin.with_origin_access_control(media_bucket)
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="@aws-cdk/aws-cloudfront-origins:updateImportedBucketPolicyOac",
                reason="The buckets' own stack grants this account's distributions read access (SecureBucket).",
            )
        )
        # read_timeout: a silent response is given up after 30 s; the live stream (GET
        # /api/events) writes a keep-alive line every 15 s (the service's events_heartbeat_seconds)
        api = origins.VpcOrigin.with_vpc_origin(
            api_origin, read_timeout=Duration.seconds(30), keepalive_timeout=Duration.seconds(5)
        )

        cached = dict(
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            response_headers_policy=headers,
            compress=True,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=comment,
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(origin=static_origin, **cached),
            additional_behaviors={
                "/media/*": cloudfront.BehaviorOptions(origin=media_origin, **cached),
                "/api/*": cloudfront.BehaviorOptions(
                    origin=api,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # never compressed at the edge: a compressed live stream would be held back
                    # until a block filled (CachingDisabled compresses nothing either; said here)
                    compress=False,
                    # Cookies, query strings and every header but Host reach the API.
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                ),
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate_arn else None,
            domain_names=[domain_name] if domain_name else None,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn) if certificate_arn else None
            ),
            enable_logging=True,
            log_bucket=logs_bucket,
            log_file_prefix="cloudfront/",
        )
        self.site_url = f"https://{domain_name}" if domain_name else f"https://{self.distribution.distribution_domain_name}"

        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The game is open to players everywhere; there is no country it must be kept from.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF web ACL yet: the API limits each player's write rate itself (shared in "
            "PostgreSQL), and a web ACL costs more than this stage's whole edge; add one for "
            "a large public launch.",
        )
        if domain_name is None:
            acknowledge(
                self.distribution,
                "AwsSolutions-CFR4",
                "Without a custom domain CloudFront serves its default *.cloudfront.net certificate, "
                "whose minimum protocol it fixes itself; setting domain_name and certificate_arn "
                "enforces TLSv1.2_2021.",
            )
