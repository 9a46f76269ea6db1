"""Network: AZ spread, NAT per stage (or none), S3 gateway endpoint, flow logs, no public ingress."""

from __future__ import annotations

import json

import pytest

from stacks.config import CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS, STAGES
from tests.stacks.helpers import props, resources


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_public_private_isolated_subnets_in_every_zone(templates, stage):
    zones = STAGES[stage].availability_zones
    subnets = resources(templates[stage]["network"], "AWS::EC2::Subnet")
    assert len(subnets) == 3 * len(zones)
    for tier in ("public", "balancer" if STAGES[stage].nat == "none" else "app", "data"):
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


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_s3_gateway_endpoint_and_flow_logs(templates, stage):
    network = templates[stage]["network"]
    endpoints = props(network, "AWS::EC2::VPCEndpoint")
    assert any(e.get("VpcEndpointType", "Gateway") == "Gateway" and "s3" in str(e["ServiceName"]) for e in endpoints)
    flow_logs = props(network, "AWS::EC2::FlowLog")
    assert len(flow_logs) == 1 and flow_logs[0]["TrafficType"] == "REJECT" and flow_logs[0]["ResourceType"] == "VPC"
    assert all(p.get("RetentionInDays") for p in props(network, "AWS::Logs::LogGroup"))


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
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


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_the_app_origin_accepts_only_cloudfronts_origin_facing_servers(templates, stage):
    """Not the whole VPC: only CloudFront's managed prefix list (the VPC origin's source),
    and in scale-out the app instances only from their load balancer."""
    prefix_list = CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS[STAGES[stage].region]
    network = templates[stage]["network"]
    front = "Internal load balancer of the app tier" if STAGES[stage].is_distributed else "Game service instances"
    (front_id,) = [lid for lid, r in resources(network, "AWS::EC2::SecurityGroup").items()
                   if r["Properties"]["GroupDescription"] == front]
    rules = resources(network, "AWS::EC2::SecurityGroup")[front_id]["Properties"].get("SecurityGroupIngress", [])
    rules += [r for r in props(network, "AWS::EC2::SecurityGroupIngress") if front_id in json.dumps(r["GroupId"])]
    (rule,) = rules
    assert rule["SourcePrefixListId"] == prefix_list and "CidrIp" not in rule
    every_rule = [r for sg in props(network, "AWS::EC2::SecurityGroup") for r in sg.get("SecurityGroupIngress", [])]
    every_rule += props(network, "AWS::EC2::SecurityGroupIngress")
    assert not [r for r in every_rule if r.get("FromPort") in (80, 8000) and "CidrIp" in r], "no VPC-wide access"
    if STAGES[stage].is_distributed:
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


def test_small_has_no_nat_its_hosts_egress_through_the_internet_gateway(templates):
    """No NAT gateway, no NAT instance: the hosts' public subnets route to the internet gateway
    (regional, no single point of failure); the load balancer's and the database's subnets have
    no route out at all."""
    network = templates["small"]["network"]
    assert resources(network, "AWS::EC2::NatGateway") == {}
    assert resources(network, "AWS::EC2::Instance") == {}
    routes = resources(network, "AWS::EC2::Route")
    assert routes and all("GatewayId" in r["Properties"] and lid.startswith("Vpcpublic") for lid, r in routes.items())
    assert {r["Properties"]["GatewayId"]["Ref"] for r in routes.values()} == set(resources(network, "AWS::EC2::InternetGateway"))
    public = [lid for lid in resources(network, "AWS::EC2::Subnet") if lid.startswith("Vpcpublic")]
    assert len(public) == len(STAGES["small"].availability_zones)
    # S3 (bundle, wheelhouse, dnf repositories, media) through the free gateway endpoint, from the hosts' subnets too
    (endpoint,) = props(network, "AWS::EC2::VPCEndpoint")
    tables = json.dumps(endpoint["RouteTableIds"])
    assert all(f"Vpcpublic{lid.removeprefix('Vpcpublic').split('Subnet')[0]}Subnet" in tables for lid in public)
    assert "Vpcpublic" in tables and "Vpcdata" in tables


def test_small_hosts_admit_only_the_load_balancer(templates):
    """A public address each, for egress only: the hosts' security group has one way in, the
    load balancer's group on the service port; the load balancer only CloudFront's servers."""
    network = templates["small"]["network"]
    groups = resources(network, "AWS::EC2::SecurityGroup")
    (hosts,) = [lid for lid, r in groups.items() if r["Properties"]["GroupDescription"] == "Game service instances"]
    (balancer,) = [lid for lid, r in groups.items()
                   if r["Properties"]["GroupDescription"] == "Internal load balancer of the app tier"]
    assert not groups[hosts]["Properties"].get("SecurityGroupIngress")
    into_hosts = [r for r in props(network, "AWS::EC2::SecurityGroupIngress") if r["GroupId"] == {"Fn::GetAtt": [hosts, "GroupId"]}]
    assert into_hosts == [{**into_hosts[0], "SourceSecurityGroupId": {"Fn::GetAtt": [balancer, "GroupId"]}}]
    assert (into_hosts[0]["FromPort"], into_hosts[0]["ToPort"]) == (8000, 8000)
    (into_balancer,) = groups[balancer]["Properties"].get("SecurityGroupIngress", []) + [
        r for r in props(network, "AWS::EC2::SecurityGroupIngress") if r["GroupId"] == {"Fn::GetAtt": [balancer, "GroupId"]}]
    assert into_balancer["SourcePrefixListId"] == CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS["us-east-1"]
