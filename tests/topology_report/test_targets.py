"""Targets a template registers in a target group itself: what serves behind the load
balancer is those targets, whatever AZs the load balancer spans."""

import json
import textwrap

from topology_report.cli import main

HEAD = """\
AWSTemplateFormatVersion: 2010-09-09
Resources:
  SubnetA: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.0.0/24, AvailabilityZone: us-east-1a}}
  SubnetB: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1b}}
  Alb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Subnets: [!Ref SubnetA, !Ref SubnetB]}
  Servers:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      Port: 80
      Protocol: HTTP
      VpcId: vpc-1
"""


def _report(tmp_path, capsys, tail: str) -> dict:
    path = tmp_path / "t.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(tail), "      "))
    assert main([str(path), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    return r


def test_two_ip_targets_in_one_az_behind_a_two_az_load_balancer(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        TargetType: ip
        Targets:
          - {Id: 10.0.0.10, AvailabilityZone: us-east-1a}
          - {Id: 10.0.0.11, AvailabilityZone: us-east-1a}
        """)
    (spof,) = r["single_points_of_failure"]
    assert (spof["logical_id"], spof["rule"]) == ("Servers", "targets-one-az")
    assert "10.0.0.10, 10.0.0.11" in spof["reason"]
    assert r["verdict"]["kind"] != "distributed"


def test_ip_targets_without_their_az_are_unknown_and_instance_ids_count_too(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        TargetType: ip
        Targets: [{Id: 10.0.0.10}, {Id: 10.0.1.10}]
        """)
    assert r["single_points_of_failure"] == []
    (u,) = r["unknowns"]
    assert u["logical_id"] == "Servers" and "give no AvailabilityZone" in u["reason"]
    r = _report(tmp_path, capsys, """\
        Targets: [{Id: i-0123456789abcdef0}]
        """)
    assert [s["rule"] for s in r["single_points_of_failure"]] == ["target-group-one-target"]


def test_groups_filled_at_run_time_and_lambda_targets_are_left_alone(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        TargetType: lambda
        Targets: [{Id: arn:aws:lambda:us-east-1:123456789012:function:f}]
        """)
    assert r["single_points_of_failure"] == [] and r["unknowns"] == []
