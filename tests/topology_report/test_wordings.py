"""Wordings a reader would find odd or wrong, each pinned by the template that showed it."""

from .conftest import analysis_of, spof_ids

SUBNETS = """
SubA: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.4.0/24, AvailabilityZone: us-east-1a}}
SubA2: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.5.0/24, AvailabilityZone: us-east-1a}}
SubB: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpc, CidrBlock: 10.0.6.0/24, AvailabilityZone: us-east-1b}}
"""


def db_in(subnets):
    return SUBNETS + f"""
Group: {{Type: AWS::RDS::DBSubnetGroup, Properties: {{DBSubnetGroupDescription: db, SubnetIds: [{', '.join('!Ref ' + s for s in subnets)}]}}}}
Db: {{Type: AWS::RDS::DBInstance, Properties: {{Engine: postgres, DBInstanceClass: db.t4g.micro, AllocatedStorage: '20', MultiAZ: true, DBSubnetGroupName: !Ref Group}}}}
"""


def test_a_multi_az_database_whose_subnet_group_is_in_one_az_says_the_deploy_would_fail(template):
    a = analysis_of(template(db_in(["SubA", "SubA2"])))
    text = " ".join(a.tiers["data"].lines)
    assert "a deploy would fail" in text and "1 AZs" not in text
    assert "synchronous standby in another AZ" not in text
    assert ("Db", "db-subnet-group-one-az") in spof_ids(a)
    assert "redundant" not in a.verdict["headline"]
    assert a.verdict["lacks"] and "subnet group" in " ".join(s.reason for s in a.open_spofs)
    ok = analysis_of(template(db_in(["SubA", "SubB"]), name="ok.yaml"))
    assert "synchronous standby in another AZ" in " ".join(ok.tiers["data"].lines)
    assert spof_ids(ok) == set()


def test_a_group_scaled_to_zero_is_not_called_a_lone_instance(template):
    a = analysis_of(template(SUBNETS + """
Lt: {Type: AWS::EC2::LaunchTemplate, Properties: {LaunchTemplateData: {InstanceType: t4g.small, ImageId: ami-1}}}
Group:
  Type: AWS::AutoScaling::AutoScalingGroup
  Properties:
    MinSize: '0'
    MaxSize: '4'
    VPCZoneIdentifier: [!Ref SubA, !Ref SubB]
    LaunchTemplate: {LaunchTemplateId: !Ref Lt, Version: !GetAtt Lt.LatestVersionNumber}
"""))
    (spof,) = [s for s in a.open_spofs if s.rule == "asg-min-one"]
    assert "minimum is 0" in spof.reason and "lone instance" not in spof.reason
    assert "no instance" in spof.reason


def test_a_topic_alone_is_not_called_a_redundant_data_tier(template):
    a = analysis_of(template("""
Topic: {Type: AWS::SNS::Topic}
Fn:
  Type: AWS::Lambda::Function
  Properties: {Runtime: python3.12, Handler: index.handler, Role: arn:aws:iam::1:role/r, Code: {ZipFile: x}}
Url: {Type: AWS::Lambda::Url, Properties: {AuthType: NONE, TargetFunctionArn: !GetAtt Fn.Arn}}
"""))
    assert a.verdict["kind"] == "distributed"
    assert "the data tier is redundant" not in a.verdict["headline"]
    assert "SNS topic" in a.verdict["headline"]


def test_the_fix_for_a_one_subnet_lambda_is_subnets_not_an_auto_scaling_group(template):
    a = analysis_of(template(SUBNETS + """
Fn:
  Type: AWS::Lambda::Function
  Properties:
    Runtime: python3.12
    Handler: index.handler
    Role: arn:aws:iam::1:role/r
    Code: {ZipFile: x}
    VpcConfig: {SubnetIds: [!Ref SubA], SecurityGroupIds: [sg-1]}
Url: {Type: AWS::Lambda::Url, Properties: {AuthType: NONE, TargetFunctionArn: !GetAtt Fn.Arn}}
"""))
    assert "edge is delegated" in a.verdict["headline"]
    lacks = " ".join(a.verdict["lacks"])
    assert "Auto Scaling group" not in lacks and "ECS" not in lacks
    assert "subnets in >= 2 AZs" in lacks


def test_an_ecs_service_of_zero_tasks_is_not_said_to_stop(template):
    a = analysis_of(template(SUBNETS + """
Cluster: {Type: AWS::ECS::Cluster}
Task: {Type: AWS::ECS::TaskDefinition, Properties: {RequiresCompatibilities: [FARGATE], NetworkMode: awsvpc, Cpu: '256', Memory: '512', ContainerDefinitions: [{Name: app, Image: app}]}}
Service:
  Type: AWS::ECS::Service
  Properties:
    Cluster: !Ref Cluster
    LaunchType: FARGATE
    DesiredCount: 0
    TaskDefinition: !Ref Task
    NetworkConfiguration: {AwsvpcConfiguration: {Subnets: [!Ref SubA, !Ref SubB]}}
"""))
    (spof,) = [s for s in a.open_spofs if s.rule == "ecs-desired-one"]
    assert "0 tasks" in spof.reason and "when it stops" not in spof.reason
