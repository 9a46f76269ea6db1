"""Reading templates: YAML short-form tags, folders of stacks joined by exports."""

import json

from topology_report.loader import load, parse_template_text

from .conftest import NETWORK_YAML, analysis_of, spof_ids

SHORT_FORMS = """\
AWSTemplateFormatVersion: 2010-09-09
Parameters:
  Env: {Type: String, Default: prod}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "media-${Env}-${AWS::Region}"
      Tags:
        - {Key: a, Value: !Join ["-", [x, !Select [0, !Split [",", "p,q"]]]]}
        - {Key: b, Value: !If [IsProd, !GetAtt Other.Arn, !Ref "AWS::NoValue"]}
        - {Key: c, Value: {"Fn::Base64": !FindInMap [M, K, V]}}
        - {Key: d, Value: !ImportValue shared-thing}
        - {Key: e, Value: !Not [!Condition IsProd]}
"""


def test_yaml_short_form_tags_become_intrinsic_functions():
    t = parse_template_text(SHORT_FORMS, "t.yaml")
    assert t["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date
    props = t["Resources"]["Bucket"]["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "media-${Env}-${AWS::Region}"}
    tags = {tag["Key"]: tag["Value"] for tag in props["Tags"]}
    assert tags["a"] == {"Fn::Join": ["-", ["x", {"Fn::Select": [
        0, {"Fn::Split": [",", "p,q"]}]}]]}
    assert tags["b"] == {"Fn::If": ["IsProd", {"Fn::GetAtt": ["Other", "Arn"]},
                                    {"Ref": "AWS::NoValue"}]}
    assert tags["c"] == {"Fn::Base64": {"Fn::FindInMap": ["M", "K", "V"]}}
    assert tags["d"] == {"Fn::ImportValue": "shared-thing"}
    assert tags["e"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    json.dumps(t)  # plain data all the way down


def test_a_folder_of_stacks_is_one_stage_joined_by_exports(tmp_path):
    (tmp_path / "net.yaml").write_text(NETWORK_YAML + """\
  NatA:
    Type: AWS::EC2::NatGateway
    Properties: {SubnetId: !Ref PubA}
  NatB:
    Type: AWS::EC2::NatGateway
    Properties: {SubnetId: !Ref PubB}
  RouteA:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref PrivRtA, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatA}
  RouteB:
    Type: AWS::EC2::Route
    Properties: {RouteTableId: !Ref PrivRtB, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatB}
Outputs:
  A:
    Value: !Ref PrivA
    Export: {Name: !Sub "${AWS::StackName}-PrivA"}
  B:
    Value: !Ref PrivB
    Export: {Name: !Join ["-", [!Ref "AWS::StackName", PrivB]]}
""")
    (tmp_path / "app.json").write_text(json.dumps({"Resources": {"Group": {
        "Type": "AWS::AutoScaling::AutoScalingGroup",
        "Properties": {"MinSize": 2, "MaxSize": 8, "VPCZoneIdentifier": [
            {"Fn::ImportValue": "net-PrivA"}, {"Fn::ImportValue": "net-PrivB"}]}}}}))
    (stage,) = load(str(tmp_path))
    assert sorted(s.name for s in stage.stacks) == ["app", "net"]
    a = analysis_of(tmp_path)
    (asg,) = a.tiers["compute"].components
    assert asg["azs"] == ["eu-west-1a", "eu-west-1b"]
    assert spof_ids(a) == set()
    assert a.region == "eu-west-1"


def test_a_folder_of_stage_folders_gives_one_stage_each(tmp_path):
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "s.template.json").write_text(
            '{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}')
    assert [s.name for s in load(str(tmp_path))] == ["one", "two"]


def test_fn_get_stack_output_joins_stacks_like_exports(tmp_path):
    (tmp_path / "net.yaml").write_text(NETWORK_YAML + """\
Outputs:
  OutA: {Value: !Ref PrivA}
  OutB: {Value: !Ref PrivB}
""")
    ref = '{{"Fn::GetStackOutput": {{"StackName": "net", "Region": "eu-west-1", ' \
          '"OutputName": "{}"}}}}'
    (tmp_path / "app.json").write_text('{"Resources": {"Lb": {"Type": '
                                       '"AWS::ElasticLoadBalancingV2::LoadBalancer", '
                                       '"Properties": {"Subnets": ['
                                       + ref.format("OutA") + ", " + ref.format("OutB")
                                       + "]}}}}")
    a = analysis_of(tmp_path)
    (lb,) = a.tiers["load balancing"].components
    assert lb["azs"] == ["eu-west-1a", "eu-west-1b"]
    assert spof_ids(a) == set()


def test_subnets_from_outside_the_templates_are_unknown_not_a_single_point_of_failure(tmp_path):
    (tmp_path / "app.yaml").write_text("""\
Parameters:
  Subnets: {Type: "List<AWS::EC2::Subnet::Id>"}
Resources:
  Lb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Type: network, Subnets: !Ref Subnets}
""")
    a = analysis_of(tmp_path / "app.yaml")
    assert spof_ids(a) == set()
    assert "AZs unknown: parameter Subnets has no default" in a.tiers["load balancing"].lines[0]
    assert [(u.logical_id, u.what) for u in a.unknowns] == [("Lb", "AZs")]
