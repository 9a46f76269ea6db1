"""Edge: one distribution, static by default, /media/* and /api/* behaviours, HTTPS
only, security headers, logs."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.stacks.helpers import only, props

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def _config(templates, stage):
    return only(templates[stage]["app"], "AWS::CloudFront::Distribution")["DistributionConfig"]


def _origin(config, origin_id):
    (origin,) = [o for o in config["Origins"] if o["Id"] == origin_id]
    return origin


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_static_default_media_and_api_paths(templates, stage):
    config = _config(templates, stage)
    default = config["DefaultCacheBehavior"]
    assert config["DefaultRootObject"] == "index.html"
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    static_origin = _origin(config, default["TargetOriginId"])
    assert f"{stage}-static-bucket-arn" in json.dumps(static_origin["DomainName"]) and static_origin["OriginAccessControlId"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {"/media/*", "/api/*"}
    media_origin = _origin(config, behaviours["/media/*"]["TargetOriginId"])
    assert f"{stage}-media-bucket-arn" in json.dumps(media_origin["DomainName"]) and media_origin["OriginAccessControlId"]
    api = behaviours["/api/*"]
    assert api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER, "cookies, query strings, headers reach the API"
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert "VpcOriginConfig" in _origin(config, api["TargetOriginId"])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_https_only_http2_and_3_logged(templates, stage):
    config = _config(templates, stage)
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert all(b["ViewerProtocolPolicy"] == "redirect-to-https" for b in behaviours)
    assert config["HttpVersion"] == "http2and3"
    assert config["Logging"]["Prefix"] == "cloudfront/" and "LogsBucket" in json.dumps(config["Logging"]["Bucket"])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_security_headers_on_every_behaviour(templates, stage):
    app = templates[stage]["app"]
    headers = only(app, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ContentTypeOptions"]["Override"] is True
    assert "frame-ancestors 'none'" in headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    config = _config(templates, stage)
    assert all("ResponseHeadersPolicyId" in b for b in [config["DefaultCacheBehavior"], *config["CacheBehaviors"]])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_web_page_published_from_the_service_folder_and_cache_invalidated(templates, stage):
    (deployment,) = props(templates[stage]["app"], "Custom::CDKBucketDeployment")
    assert deployment["DistributionPaths"] == ["/*"]
    assert deployment["Prune"] is True
    assert f"{stage}-static-bucket-arn" in json.dumps(deployment["DestinationBucketName"])


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_site_url_output(templates, stage):
    assert "SiteUrl" in templates[stage]["app"]["Outputs"]


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_api_behaviour_with_assertions_api(template, stage):
    template(stage, "app").has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "CacheBehaviors": Match.array_with(
                        [Match.object_like({"PathPattern": "/api/*", "CachePolicyId": CACHING_DISABLED,
                                            "ViewerProtocolPolicy": "redirect-to-https"})]
                    ),
                    "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"}),
                }
            )
        },
    )
