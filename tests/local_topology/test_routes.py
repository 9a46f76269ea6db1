"""The local front door routes like the scale-out stage's CloudFront distribution.

The distribution is read from the synthesized app template (the session's in-process synth,
tests/conftest.py): each behaviour's path pattern, the kind of its origin (the static
bucket, the media bucket, the load balancer's VPC origin), its allowed methods, the default
root object and the API origin's read timeout. The front door's own routes
(local_topology/frontdoor.py) must say the same, and its generated nginx config must send
each path where they say. A new behaviour in the distribution fails here until the front door
has it too.
"""

from __future__ import annotations

import json
import re

import pytest

from local_topology import frontdoor

pytestmark = pytest.mark.slow  # needs the synthesized assembly

ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}


def _distribution(app_template: dict) -> dict:
    (dist,) = [r for r in app_template["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution"]
    return dist["Properties"]["DistributionConfig"]


def _origin_kind(origin: dict, resources: dict) -> str:
    if "VpcOriginConfig" in origin:
        target = origin["DomainName"]["Fn::GetAtt"][0]
        assert resources[target]["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer", target
        return "api"
    assert "S3OriginConfig" in origin and origin.get("OriginAccessControlId"), origin
    imported = re.search(r'"Fn::ImportValue": "[a-z-]*?-(static|media)-bucket-arn"',
                         json.dumps(origin["DomainName"]))
    assert imported, origin["DomainName"]
    return imported.group(1)


def distribution_routes(app_template: dict) -> dict:
    config = _distribution(app_template)
    resources = app_template["Resources"]
    origins = {o["Id"]: o for o in config["Origins"]}

    def methods(behaviour: dict) -> set[str]:
        return set(behaviour.get("AllowedMethods", ["GET", "HEAD"]))

    routes = {b["PathPattern"]: _origin_kind(origins[b["TargetOriginId"]], resources) for b in config["CacheBehaviors"]}
    allowed = {b["PathPattern"]: methods(b) for b in config["CacheBehaviors"]}
    (api_origin,) = [o for o in config["Origins"] if "VpcOriginConfig" in o]
    return {
        "routes": routes,
        "allowed": allowed,
        "default": _origin_kind(origins[config["DefaultCacheBehavior"]["TargetOriginId"]], resources),
        "default_allowed": methods(config["DefaultCacheBehavior"]),
        "root": config.get("DefaultRootObject"),
        "api_read_timeout": api_origin["VpcOriginConfig"]["OriginReadTimeout"],
    }


def test_the_front_door_has_the_distributions_routes(templates):
    cdn = distribution_routes(templates["scale-out"]["app"])
    assert cdn["routes"] == frontdoor.ROUTES  # same patterns, same origins, same order
    assert list(cdn["routes"]) == list(frontdoor.ROUTES)
    assert cdn["default"] == frontdoor.DEFAULT_ORIGIN
    assert cdn["root"] == frontdoor.DEFAULT_ROOT_OBJECT
    assert cdn["api_read_timeout"] == frontdoor.API_READ_TIMEOUT_S
    for pattern, kind in cdn["routes"].items():
        assert cdn["allowed"][pattern] == (ALL_METHODS if kind == "api" else set(frontdoor.BUCKET_METHODS)), pattern
    assert cdn["default_allowed"] == set(frontdoor.BUCKET_METHODS)


def _locations(conf: str) -> dict[str, str]:
    return dict(re.findall(r"location (= /|/\S*) \{\n(.*?)\n  \}", conf, re.S))


def test_the_nginx_config_sends_each_path_where_the_distribution_does():
    origins = frontdoor.Origins(s3="10.77.0.1:9000", static_bucket="st", media_bucket="me", load_balancer="127.0.0.1:1")
    conf = frontdoor.nginx_config(listen="127.0.0.1:8080", origins=origins, state_dir="/x", user=None)
    locations = _locations(conf)
    assert set(locations) == {"= /", "/media/", "/api/", "/"}
    assert "rewrite ^(.*)$ /st/index.html break;" in locations["= /"]  # the default root object
    assert "rewrite ^(.*)$ /me$1 break;" in locations["/media/"] and "proxy_pass http://s3;" in locations["/media/"]
    assert "rewrite ^(.*)$ /st$1 break;" in locations["/"]
    assert "proxy_pass http://load_balancer;" in locations["/api/"] and "proxy_read_timeout 30s;" in locations["/api/"]
    assert "proxy_set_header CloudFront-Viewer-Address $remote_addr:$remote_port;" in locations["/api/"]
    for bucket_route in ("= /", "/media/", "/"):
        assert "limit_except GET HEAD { deny all; }" in locations[bucket_route]
    assert "server 127.0.0.1:1; keepalive" in conf and "server 10.77.0.1:9000;" in conf


@pytest.mark.parametrize("pattern", ["/api", "*.png", "/a/*/b/*", "api/*"])
def test_a_path_pattern_the_front_door_cannot_express_is_refused(pattern):
    with pytest.raises(ValueError, match="is not of the form /prefix/"):
        frontdoor.nginx_prefix(pattern)


def _alb_idle_timeout(app_template: dict) -> int:
    (alb,) = [r for r in app_template["Resources"].values() if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"]
    attrs = {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}
    return int(attrs["idle_timeout.timeout_seconds"])


@pytest.mark.parametrize("stage", ["small", "scale-out"])
def test_the_live_streams_keep_alive_beats_every_idle_timeout_on_its_way(templates, stage):
    """A page's live stream (GET /api/events) is quiet for minutes; the service writes a
    comment line every ``events_heartbeat_seconds``, which must come before any hop on the
    way gives up on a silent response: CloudFront's origin read timeout, the ALB's idle
    timeout, and locally nginx's and HAProxy's. And the API behaviour neither caches nor
    compresses, which would hold the events back."""
    from game_service.core.config import Settings
    from local_topology import haproxy

    heartbeat = Settings().events_heartbeat_seconds
    app = templates[stage]["app"]
    assert heartbeat < distribution_routes(app)["api_read_timeout"]
    assert heartbeat < _alb_idle_timeout(app)
    assert heartbeat < frontdoor.API_READ_TIMEOUT_S  # nginx's proxy_read_timeout and HAProxy's timeout server
    assert f"timeout server {frontdoor.API_READ_TIMEOUT_S}s" in haproxy.config(
        listen="127.0.0.1:1", servers={"h1": "127.0.0.1:2"}, socket_path="/s", pid_file="/p")
    (api,) = [b for b in _distribution(app)["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # AWS's managed CachingDisabled
    assert not api.get("Compress", False)
