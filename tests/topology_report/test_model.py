"""Parameters, Conditions, Fn::If, mappings and nested stacks as the model resolves them."""

import textwrap

from topology_report.loader import load
from topology_report.model import Model

TEMPLATE = """\
Parameters:
  Env: {Type: String, Default: prod}
  Size: {Type: Number}
  Zones: {Type: CommaDelimitedList, Default: "us-east-1a, us-east-1b"}
Mappings:
  Sizes: {prod: {min: 3}, dev: {min: 1}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Big: !Equals [!Ref Size, 10]
  ProdOrBig: !Or [!Condition IsProd, !Condition Big]
  ProdAndBig: !And [!Condition IsProd, !Condition Big]
Resources:
  Always:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !If [IsProd, prod-topic, !Ref AWS::NoValue]
      Min: !FindInMap [Sizes, !Ref Env, min]
      First: !Select [1, !Ref Zones]
  OnlyDev: {Type: AWS::SNS::Topic, Condition: IsDev}
  MaybeBig: {Type: AWS::SNS::Topic, Condition: ProdAndBig}
"""


def _model(tmp_path, parameters=None, text=TEMPLATE):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    (stage,) = load(str(path))
    return Model(stage, parameters)


def test_conditions_parameters_and_mappings(tmp_path):
    m = _model(tmp_path)
    stack = m.stage.stacks[0]
    assert m.condition(stack, "IsProd") is True
    assert m.condition(stack, "IsDev") is False
    assert m.condition(stack, "Big") is None  # Size has no default
    assert m.condition(stack, "ProdOrBig") is True  # true whatever Size is
    assert m.condition(stack, "ProdAndBig") is None
    ids = {r.logical_id for r in m.resources}
    assert ids == {"Always", "MaybeBig"}  # OnlyDev's condition is false
    assert m.conditional == {f"{stack.name}/MaybeBig": "ProdAndBig"}
    always = m.get(stack, "Always")
    assert always.props["TopicName"] == "prod-topic"
    assert m.literal(stack, always.props["Min"]) == 3
    assert m.literal(stack, always.props["First"]) == "us-east-1b"
    assert "parameter Size has no default" in m.why_unknown(stack, {"Ref": "Size"})


def test_parameter_overrides(tmp_path):
    m = _model(tmp_path, {"Env": "dev", "Size": "10"})
    stack = m.stage.stacks[0]
    assert {r.logical_id for r in m.resources} == {"Always", "OnlyDev"}
    assert "TopicName" not in m.get(stack, "Always").props  # AWS::NoValue dropped
    assert m.literal(stack, m.get(stack, "Always").props["Min"]) == 1


def test_a_local_nested_stack_is_followed_with_its_parameters_bound(tmp_path):
    (tmp_path / "child.yaml").write_text(textwrap.dedent("""\
        Parameters:
          Subnet: {Type: String}
        Resources:
          Box: {Type: AWS::EC2::Instance, Properties: {SubnetId: !Ref Subnet}}
        """))
    parent = textwrap.dedent("""\
        Resources:
          Sub: {Type: AWS::EC2::Subnet, Properties: {AvailabilityZone: eu-west-1a}}
          Child:
            Type: AWS::CloudFormation::Stack
            Properties: {TemplateURL: child.yaml, Parameters: {Subnet: !Ref Sub}}
        """)
    m = _model(tmp_path, text=parent)
    child = m.stage.stacks[1]
    assert child.parent is m.stage.stacks[0] and child.logical_id == "Child"
    box = m.get(child, "Box")
    assert [r.logical_id for r in m.refs(child, box.props["SubnetId"])] == ["Sub"]


def test_a_child_that_is_also_a_template_of_the_folder_is_read_once(tmp_path):
    (tmp_path / "child.yaml").write_text(textwrap.dedent("""\
        Parameters:
          Size: {Type: String}
        Resources:
          Box: {Type: AWS::EC2::Instance, Properties: {InstanceType: !Ref Size}}
        """))
    (tmp_path / "parent.yaml").write_text(textwrap.dedent("""\
        Resources:
          Child:
            Type: AWS::CloudFormation::Stack
            Properties: {TemplateURL: child.yaml, Parameters: {Size: t3.small}}
        """))
    (stage,) = load(str(tmp_path))
    m = Model(stage)
    boxes = [r for r in m.resources if r.type == "AWS::EC2::Instance"]
    assert len(boxes) == 1
    assert m.literal(boxes[0].stack, boxes[0].props["InstanceType"]) == "t3.small"
