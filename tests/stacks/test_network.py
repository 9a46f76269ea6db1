"""Network: AZ spread, NAT per stage, S3 gateway endpoint, flow logs, no public ingress."""

from __future__ import annotations

import json

import pytest

from stacks.config import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS, STAGES
from tests.stacks.helpers import props, resources


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_public_private_isolated_subnets_in_every_zone(templates, stage):
    zones = STAGES[stage].availability_zones
    subnets = resources(templates[stage]["network"], "AWS::EC2::Subnet")
    assert len(subnets) == 3 * len(zones)
    for tier in ("public", "app", "data"):
        tier_zones = sorted(r["Properties"]["AvailabilityZone"] for lid, r in subnets.items() if lid.startswith(f"Vpc{tier}"))
        assert tier_zones == sorted(zones), f"{tier} subnets must cover {zones}"


def test_scale_out_has_one_nat_gateway_per_zone_each_private_subnet_its_own(templates):
    network = templates["scale-out"]["network"]
    nat_gateways = resources(network, "AWS::EC2::NatGateway")
    assert len(nat_gateways) == 3
    default_routes = [
        (lid, r["Properties"]) for lid, r in resources(network, "AWS::EC2::Route").items()
        if lid.startswith("Vpcapp") and r["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
    ]
    targets = {p["NatGatewayId"]["Ref"] for _, p in default_routes}
    assert len(default_routes) == 3 and targets == set(nat_gateways), "each AZ's private subnet egresses via its own NAT"


def test_starter_saves_the_nat_gateway_with_one_nat_instance(templates):
    network = templates["starter"]["network"]
    assert resources(network, "AWS::EC2::NatGateway") == {}
    nat = [p for p in props(network, "AWS::EC2::Instance") if p.get("SourceDestCheck") is False]
    assert len(nat) == 1 and nat[0]["InstanceType"] == "t4g.nano"
    routes = [r["Properties"] for lid, r in resources(network, "AWS::EC2::Route").items() if lid.startswith("Vpcapp")]
    assert routes and all("InstanceId" in r for r in routes)


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_s3_gateway_endpoint_and_flow_logs(templates, stage):
    network = templates[stage]["network"]
    endpoints = props(network, "AWS::EC2::VPCEndpoint")
    assert any(e.get("VpcEndpointType", "Gateway") == "Gateway" and "s3" in str(e["ServiceName"]) for e in endpoints)
    flow_logs = props(network, "AWS::EC2::FlowLog")
    assert len(flow_logs) == 1 and flow_logs[0]["TrafficType"] == "REJECT" and flow_logs[0]["ResourceType"] == "VPC"
    assert all(p.get("RetentionInDays") for p in props(network, "AWS::Logs::LogGroup"))


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_nothing_accepts_traffic_from_the_internet_and_no_ssh(templates, stage):
    for stack in templates[stage].values():
        for sg in props(stack, "AWS::EC2::SecurityGroup"):
            for rule in sg.get("SecurityGroupIngress", []):
                assert rule.get("CidrIp") not in ("0.0.0.0/0",) and rule.get("CidrIpv6") != "::/0", rule
                assert not _opens_ssh(rule), "no port 22"
        for rule in props(stack, "AWS::EC2::SecurityGroupIngress"):
            assert rule.get("CidrIp") != "0.0.0.0/0", rule
            assert not _opens_ssh(rule), "no port 22"


def _opens_ssh(rule: dict) -> bool:
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if not isinstance(low, int) or not isinstance(high, int):
        return False  # a token: the database port, resolved at deploy time
    return low <= 22 <= high and rule.get("IpProtocol") in ("tcp", "6")


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_the_app_origin_accepts_only_cloudfronts_origin_facing_servers(templates, stage):
    """Not the whole VPC: only CloudFront's managed prefix list (the VPC origin's source),
    and in scale-out the app instances only from their load balancer."""
    prefix_list = CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS[STAGES[stage].region]
    network = templates[stage]["network"]
    front = "Internal load balancer of the app tier" if stage == "scale-out" else "Game service instances"
    (front_id,) = [lid for lid, r in resources(network, "AWS::EC2::SecurityGroup").items()
                   if r["Properties"]["GroupDescription"] == front]
    rules = resources(network, "AWS::EC2::SecurityGroup")[front_id]["Properties"].get("SecurityGroupIngress", [])
    rules += [r for r in props(network, "AWS::EC2::SecurityGroupIngress") if front_id in json.dumps(r["GroupId"])]
    (rule,) = rules
    assert rule["SourcePrefixListId"] == prefix_list and "CidrIp" not in rule
    every_rule = [r for sg in props(network, "AWS::EC2::SecurityGroup") for r in sg.get("SecurityGroupIngress", [])]
    every_rule += props(network, "AWS::EC2::SecurityGroupIngress")
    assert not [r for r in every_rule if r.get("FromPort") in (80, 8000) and "CidrIp" in r], "no VPC-wide access"
    if stage == "scale-out":
        app_rules = props(network, "AWS::EC2::SecurityGroupIngress")
        assert [r["Description"] for r in app_rules if r.get("FromPort") == 8000] == ["from the load balancer"]


def test_the_starter_nat_instance_heals_and_pages_when_it_fails(templates):
    """Every private host's egress goes through it: EC2 auto recovery on its host failing, a
    reboot on its own check failing, and a person paged while it fails its status checks
    (no data counts as failing: a NAT instance that is gone forwards nothing)."""
    network = templates["starter"]["network"]
    (nat,) = [lid for lid, r in resources(network, "AWS::EC2::Instance").items() if "NatInstance" in lid]
    watching = {}
    for alarm in props(network, "AWS::CloudWatch::Alarm"):
        if alarm["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": nat}}]:
            watching[alarm["MetricName"]] = alarm
    assert watching["StatusCheckFailed_System"]["AlarmActions"] == ["arn:aws:automate:us-east-1:ec2:recover"]
    assert watching["StatusCheckFailed_Instance"]["AlarmActions"] == ["arn:aws:automate:us-east-1:ec2:reboot"]
    paging = watching["StatusCheckFailed"]
    assert "AlarmTopic" in json.dumps(paging["AlarmActions"]) and paging["TreatMissingData"] == "breaching"
