"""The generic layer: every resource type of the CloudFormation resource schemas has a kind
(runs work, holds state, routes traffic, supports), and a resource of a type with no specific
rule that runs work or holds state is judged by its placement and count."""

import json
import textwrap

import pytest

from topology_report import resource_kinds
from topology_report.cli import main


def test_every_schema_type_is_classified_and_the_committed_table_is_current():
    pytest.importorskip("cfnlint")
    text, unclassified = resource_kinds.generate()
    assert unclassified == []
    assert resource_kinds.TABLE.read_text() == text, \
        "run python -m topology_report.resource_kinds"
    rows = [line.split() for line in text.splitlines() if not line.startswith("#")]
    assert len(rows) > 1500
    kinds = {rtype: kind for rtype, kind, _ in rows}
    assert set(kinds.values()) == set(resource_kinds.KINDS)
    # what a reader would expect of a few well-known types
    assert kinds["AWS::EMR::Cluster"] == kinds["AWS::EKS::Nodegroup"] == "compute"
    assert kinds["AWS::Redshift::Cluster"] == kinds["AWS::FSx::FileSystem"] == "data"
    assert kinds["AWS::GlobalAccelerator::Accelerator"] == "network"
    assert kinds["AWS::Backup::BackupPlan"] == kinds["AWS::IAM::Role"] == "support"


def _report(tmp_path, capsys, body: str, *args: str) -> dict:
    path = tmp_path / "t.yaml"
    path.write_text("AWSTemplateFormatVersion: 2010-09-09\n" + textwrap.dedent(body))
    assert main([str(path), "--json", *args]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    return r


def test_one_subnet_is_a_single_point_of_failure_said_as_judged_generically(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        Parameters:
          Subnet: {Type: AWS::EC2::Subnet::Id}
        Resources:
          Spark:
            Type: AWS::EMR::Cluster
            Properties:
              Name: spark
              ReleaseLabel: emr-7.0.0
              JobFlowRole: jobs
              ServiceRole: emr
              Instances:
                Ec2SubnetId: !Ref Subnet
                MasterInstanceGroup: {InstanceCount: 1, InstanceType: m5.xlarge}
                CoreInstanceGroup: {InstanceCount: 2, InstanceType: m5.xlarge}
        """)
    (spof,) = r["single_points_of_failure"]
    assert (spof["logical_id"], spof["rule"], spof["tier"]) == ("Spark", "generic-compute-one",
                                                                 "compute")
    assert "judged by its placement and count" in spof["reason"]
    assert "Instances.Ec2SubnetId: one subnet" in spof["reason"]
    assert "MasterInstanceGroup.InstanceCount is 1" in spof["reason"]
    assert r["unanalysed"] == []


def test_what_the_template_does_not_fix_is_unknown_not_a_verdict(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        Parameters:
          Nodes: {Type: Number}
        Resources:
          Warehouse:
            Type: AWS::Redshift::Cluster
            Properties: {NodeType: ra3.large, NumberOfNodes: !Ref Nodes, DBName: dw,
                         MasterUsername: admin, ManageMasterPassword: true}
        """)
    assert r["single_points_of_failure"] == []
    (u,) = r["unknowns"]
    assert u["logical_id"] == "Warehouse" and "parameter Nodes has no default" in u["reason"]
    assert r["verdict"]["kind"] == "unknown"
    r = _report(tmp_path, capsys, """\
        Parameters:
          Nodes: {Type: Number}
        Resources:
          Warehouse:
            Type: AWS::Redshift::Cluster
            Properties: {NodeType: ra3.large, NumberOfNodes: !Ref Nodes, DBName: dw,
                         MasterUsername: admin, ManageMasterPassword: true}
        """, "--parameter", "Nodes=1")
    assert [s["rule"] for s in r["single_points_of_failure"]] == ["generic-data-one"]


def test_a_type_its_schema_cannot_place_is_managed_and_support_types_are_not_listed(
        tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        Resources:
          Service:
            Type: AWS::StepFunctions::StateMachine
            Properties: {DefinitionString: '{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}', RoleArn: arn:aws:iam::123456789012:role/sfn}
          Plan:
            Type: AWS::Backup::BackupPlan
            Properties: {BackupPlan: {BackupPlanName: daily, BackupPlanRule: []}}
          Accelerator:
            Type: AWS::GlobalAccelerator::Accelerator
            Properties: {Name: games}
        """)
    assert r["single_points_of_failure"] == [] and r["unknowns"] == []
    assert "managed" in " ".join(r["tiers"]["compute"]["summary"])
    # routes traffic, no rule: still listed as not analysed; a backup plan only supports
    assert [x["logical_id"] for x in r["unanalysed"]] == ["Accelerator"]


def test_an_elastic_beanstalk_environment_is_judged_by_its_option_settings(tmp_path, capsys):
    body = """\
        Resources:
          Subnet1: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.0.0/24, AvailabilityZone: us-east-1a}}
          Subnet2: {Type: AWS::EC2::Subnet, Properties: {VpcId: vpc-1, CidrBlock: 10.0.1.0/24, AvailabilityZone: us-east-1b}}
          Env:
            Type: AWS::ElasticBeanstalk::Environment
            Properties:
              ApplicationName: game
              SolutionStackName: 64bit Amazon Linux 2023 v6.1.0 running Node.js 20
              OptionSettings:
                - {Namespace: "aws:elasticbeanstalk:environment", OptionName: EnvironmentType, Value: %s}
                - {Namespace: "aws:autoscaling:asg", OptionName: MinSize, Value: "%s"}
                - {Namespace: "aws:ec2:vpc", OptionName: Subnets, Value: !Join [",", [!Ref Subnet1, !Ref Subnet2]]}
        """
    r = _report(tmp_path, capsys, body % ("SingleInstance", "1"))
    (spof,) = r["single_points_of_failure"]
    assert spof["rule"] == "generic-compute-one"
    assert "EnvironmentType is SingleInstance" in spof["reason"]
    r = _report(tmp_path, capsys, body % ("LoadBalanced", "2"))
    assert r["single_points_of_failure"] == [] and r["unknowns"] == []
    assert "2 AZs" in " ".join(r["tiers"]["compute"]["summary"])


def test_a_list_named_like_a_count_is_not_read_as_one(tmp_path, capsys):
    r = _report(tmp_path, capsys, """\
        Resources:
          Nodes:
            Type: AWS::EKS::Nodegroup
            Properties:
              ClusterName: games
              NodeRole: arn:aws:iam::123456789012:role/nodes
              ScalingConfig: {MinSize: 3, DesiredSize: 3, MaxSize: 6}
              Replicas: [{Region: us-west-2}]
              Subnets: [subnet-0a, subnet-0b]
        """)
    assert r["single_points_of_failure"] == []
    assert [u["what"] for u in r["unknowns"]] == ["placement and count"]
    assert "literal subnet IDs" in r["unknowns"][0]["reason"]
    assert "Replicas" not in r["unknowns"][0]["reason"]
