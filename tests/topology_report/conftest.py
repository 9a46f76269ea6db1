import textwrap
from pathlib import Path

import pytest

from topology_report.analyze import analyze
from topology_report.capacity import Params
from topology_report.cost import load_prices
from topology_report.loader import load
from topology_report.model import Model
from topology_report.report import build

FIXTURES = Path(__file__).parent / "fixtures"
ASSEMBLY = FIXTURES / "assembly"
REPO = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO / "tests" / "snapshots"

# A hand-written two-AZ network in YAML with short-form tags: public subnets routed to an
# internet gateway, private subnets whose default route each test adds.
NETWORK_YAML = """\
AWSTemplateFormatVersion: 2010-09-09
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.0.0.0/16}
  Igw:
    Type: AWS::EC2::InternetGateway
  PubA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.0.0/24, AvailabilityZone: !Select [0, !GetAZs '']}
  PubB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.1.0/24, AvailabilityZone: !Select [1, !GetAZs '']}
  PubRt:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PubRoute:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref PubRt, DestinationCidrBlock: 0.0.0.0/0, GatewayId: !Ref Igw}
  PubAssocA:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PubA, RouteTableId: !Ref PubRt}
  PubAssocB:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PubB, RouteTableId: !Ref PubRt}
  PrivA:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.2.0/24, AvailabilityZone: eu-west-1a}
  PrivB:
    Type: AWS::EC2::Subnet
    Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.3.0/24, AvailabilityZone: eu-west-1b}
  PrivRtA:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PrivRtB:
    Type: AWS::EC2::RouteTable
    Properties: {VpcId: !Ref Vpc}
  PrivAssocA:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PrivA, RouteTableId: !Ref PrivRtA}
  PrivAssocB:
    Type: AWS::EC2::SubnetRouteTableAssociation
    Properties: {SubnetId: !Ref PrivB, RouteTableId: !Ref PrivRtB}
"""


@pytest.fixture(scope="session")
def prices():
    return load_prices()


@pytest.fixture
def template(tmp_path):
    """Write hand-written YAML (appended to NETWORK_YAML unless standalone) and load it."""

    def make(resources_yaml: str, standalone: bool = False, name: str = "t.yaml") -> Path:
        body = textwrap.dedent(resources_yaml)
        if standalone:
            text = body
        else:
            text = NETWORK_YAML + textwrap.indent(body, "  ")
        path = tmp_path / name
        path.write_text(text)
        return path

    return make


def analysis_of(path, accept=None):
    (stage,) = load(str(path))
    return analyze(Model(stage), accept)


def report_of(stage, prices, params=None, accept=None):
    return build(stage, prices, params or Params(), accept)


def spof_ids(analysis_or_report, open_only=True):
    """{(logical_id, rule)} of the single points of failure."""
    if isinstance(analysis_or_report, dict):
        items = analysis_or_report["single_points_of_failure"]
        return {(s["logical_id"], s["rule"]) for s in items if not (open_only and s["accepted"])}
    items = analysis_or_report.open_spofs if open_only else analysis_or_report.spofs
    return {(s.logical_id, s.rule) for s in items}
