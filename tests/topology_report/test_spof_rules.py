"""Every single-point-of-failure rule, present and absent, on hand-written YAML templates."""

import textwrap

import pytest

from .conftest import analysis_of, spof_ids

NAT_PER_AZ = """
NatEipA: {Type: AWS::EC2::EIP}
NatEipB: {Type: AWS::EC2::EIP}
NatA:
  Type: AWS::EC2::NatGateway
  Properties: {SubnetId: !Ref PubA, AllocationId: !GetAtt NatEipA.AllocationId}
NatB:
  Type: AWS::EC2::NatGateway
  Properties: {SubnetId: !Ref PubB, AllocationId: !GetAtt NatEipB.AllocationId}
RouteA:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtA, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatA}
RouteB:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtB, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatB}
"""

ONE_NAT_FOR_TWO_AZS = """
NatEipA: {Type: AWS::EC2::EIP}
NatA:
  Type: AWS::EC2::NatGateway
  Properties: {SubnetId: !Ref PubA, AllocationId: !GetAtt NatEipA.AllocationId}
RouteA:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtA, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatA}
RouteB:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtB, DestinationCidrBlock: 0.0.0.0/0, NatGatewayId: !Ref NatA}
"""

NAT_INSTANCE = """
NatBox:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.nano, ImageId: ami-1, SubnetId: !Ref PubA, SourceDestCheck: false}
RouteA:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtA, DestinationCidrBlock: 0.0.0.0/0, InstanceId: !Ref NatBox}
RouteB:
  Type: AWS::EC2::Route
  Properties: {RouteTableId: !Ref PrivRtB, DestinationCidrBlock: 0.0.0.0/0, InstanceId: !Ref NatBox}
"""


def asg(min_size, subnets, max_size=4):
    return f"""
Lt:
  Type: AWS::EC2::LaunchTemplate
  Properties: {{LaunchTemplateData: {{InstanceType: t4g.small, ImageId: ami-1}}}}
Group:
  Type: AWS::AutoScaling::AutoScalingGroup
  Properties:
    MinSize: '{min_size}'
    MaxSize: '{max_size}'
    VPCZoneIdentifier: [{', '.join('!Ref ' + s for s in subnets)}]
    LaunchTemplate: {{LaunchTemplateId: !Ref Lt, Version: !GetAtt Lt.LatestVersionNumber}}
"""


def test_one_nat_gateway_for_private_subnets_in_two_azs_is_named(template):
    a = analysis_of(template(ONE_NAT_FOR_TWO_AZS))
    assert spof_ids(a) == {("NatA", "nat-gateway-shared")}
    (spof,) = a.open_spofs
    assert "eu-west-1b" in spof.reason and "lose internet egress" in spof.reason


def test_a_nat_gateway_per_az_is_no_single_point_of_failure(template):
    a = analysis_of(template(NAT_PER_AZ))
    assert spof_ids(a) == set()
    assert "one per AZ" in " ".join(a.tiers["network egress"].lines)


def test_a_nat_instance_is_named(template):
    a = analysis_of(template(NAT_INSTANCE))
    assert spof_ids(a) == {("NatBox", "nat-instance")}
    # The NAT instance is egress, not the app tier.
    assert not a.tiers["compute"].present


def test_lone_instance_is_named(template):
    a = analysis_of(template(NAT_PER_AZ + """
App:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.small, ImageId: ami-1, SubnetId: !Ref PrivA}
"""))
    assert spof_ids(a) == {("App", "lone-instance")}
    assert a.verdict["kind"] == "single machine"


def test_two_load_balanced_instances_in_two_azs_are_not_lone(template):
    a = analysis_of(template(NAT_PER_AZ + """
AppA:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.small, ImageId: ami-1, SubnetId: !Ref PrivA}
AppB:
  Type: AWS::EC2::Instance
  Properties: {InstanceType: t4g.small, ImageId: ami-1, SubnetId: !Ref PrivB}
Tg:
  Type: AWS::ElasticLoadBalancingV2::TargetGroup
  Properties: {Port: 80, Protocol: HTTP, Targets: [{Id: !Ref AppA}, {Id: !Ref AppB}]}
"""))
    assert spof_ids(a) == set()


def test_auto_scaling_group_with_a_minimum_of_one_is_named(template):
    a = analysis_of(template(NAT_PER_AZ + asg(1, ["PrivA", "PrivB"])))
    assert spof_ids(a) == {("Group", "asg-min-one")}


def test_auto_scaling_group_in_one_az_is_named(template):
    a = analysis_of(template(NAT_PER_AZ + asg(2, ["PrivA"])))
    assert spof_ids(a) == {("Group", "asg-one-az")}


def test_auto_scaling_group_min_two_over_two_azs_has_no_single_point_of_failure(template):
    a = analysis_of(template(NAT_PER_AZ + asg(2, ["PrivA", "PrivB"])))
    assert spof_ids(a) == set()
    (line,) = a.tiers["compute"].lines
    assert "min 2 / desired - / max 4" in line and "2 AZs" in line


@pytest.mark.parametrize("subnets,expected", [
    (["PubA"], {("Nlb", "lb-one-az")}),
    (["PubA", "PubB"], set()),
])
def test_load_balancer_with_one_subnet(template, subnets, expected):
    a = analysis_of(template(NAT_PER_AZ + f"""
Nlb:
  Type: AWS::ElasticLoadBalancingV2::LoadBalancer
  Properties: {{Type: network, Subnets: [{', '.join('!Ref ' + s for s in subnets)}]}}
"""))
    assert spof_ids(a) == expected


@pytest.mark.parametrize("multi_az,expected", [
    ("false", {("Db", "db-single-az")}),
    (None, {("Db", "db-single-az")}),  # MultiAZ left out defaults to Single-AZ
    ("true", set()),
    ("'true'", set()),  # a string, as CDK sometimes writes it
])
def test_single_az_database(template, multi_az, expected):
    prop = f", MultiAZ: {multi_az}" if multi_az else ""
    a = analysis_of(template(NAT_PER_AZ + f"""
Db:
  Type: AWS::RDS::DBInstance
  Properties: {{Engine: postgres, DBInstanceClass: db.t4g.micro, AllocatedStorage: '20'{prop}}}
"""))
    assert spof_ids(a) == expected


@pytest.mark.parametrize("members,expected", [
    (1, {("Cluster", "db-cluster-one-instance")}),
    (2, set()),
])
def test_database_cluster_with_a_single_instance(template, members, expected):
    instances = "".join(f"""
Member{i}:
  Type: AWS::RDS::DBInstance
  Properties: {{Engine: aurora-postgresql, DBInstanceClass: db.r7g.large, DBClusterIdentifier: !Ref Cluster}}
""" for i in range(members))
    a = analysis_of(template(NAT_PER_AZ + """
Cluster:
  Type: AWS::RDS::DBCluster
  Properties: {Engine: aurora-postgresql}
""" + instances))
    assert spof_ids(a) == expected


def test_cache_without_replica_and_one_zone_file_system(template):
    a = analysis_of(template("""
Cache:
  Type: AWS::ElastiCache::CacheCluster
  Properties: {Engine: redis, CacheNodeType: cache.t4g.micro, NumCacheNodes: 1}
Group:
  Type: AWS::ElastiCache::ReplicationGroup
  Properties: {ReplicationGroupDescription: g, NumCacheClusters: 2, AutomaticFailoverEnabled: true}
OneZone:
  Type: AWS::EFS::FileSystem
  Properties: {AvailabilityZoneName: eu-west-1a}
Regional:
  Type: AWS::EFS::FileSystem
"""))
    assert spof_ids(a) == {("Cache", "cache-single-node"), ("OneZone", "efs-one-zone")}


def test_managed_services_are_distributed_by_nature_and_missing_tiers_are_said(template):
    a = analysis_of(template("""
Resources:
  Media:
    Type: AWS::S3::Bucket
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - {Id: media, DomainName: !GetAtt Media.RegionalDomainName, S3OriginConfig: {}}
""", standalone=True))
    assert a.spofs == []
    assert "distributed by nature" in a.tiers["storage"].lines[0]
    assert "S3 origin -> Media" in a.tiers["edge"].lines[0]
    assert a.tiers["compute"].lines == [
        "none: no Auto Scaling group, EC2 instance, ECS service, Lambda function or App "
        "Runner service in these templates"]
    assert not a.tiers["data"].present and not a.tiers["load balancing"].present
    assert a.verdict["kind"] == "no app tier"


def test_a_single_point_of_failure_can_be_accepted_in_metadata_or_on_the_command_line(template):
    path = template(NAT_PER_AZ + """
Bastion:
  Type: AWS::EC2::Instance
  Metadata:
    TopologyReport: {AcceptedSinglePointOfFailure: admin access only, not on the serving path}
  Properties: {InstanceType: t4g.nano, ImageId: ami-1, SubnetId: !Ref PubA}
Db:
  Type: AWS::RDS::DBInstance
  Properties: {Engine: postgres, DBInstanceClass: db.t4g.micro}
""")
    a = analysis_of(path)
    assert spof_ids(a) == {("Db", "db-single-az")}
    assert spof_ids(a, open_only=False) == {("Db", "db-single-az"), ("Bastion", "lone-instance")}
    a = analysis_of(path, accept={"Db": "dev database"})
    assert spof_ids(a) == set()


def test_cluster_members_that_cannot_be_matched_are_unknown_not_a_single_point_of_failure(
        template):
    a = analysis_of(template("""
Db:
  Type: AWS::RDS::DBCluster
  Properties: {Engine: aurora-postgresql, MasterUsername: app, ManageMasterUserPassword: true}
Writer:
  Type: AWS::RDS::DBInstance
  Properties: {Engine: aurora-postgresql, DBClusterIdentifier: game-cluster, DBInstanceClass: db.r7g.large}
""", standalone=False))
    assert spof_ids(a) == set()
    assert {(u.logical_id, u.what) for u in a.unknowns} == {("Db", "instances"),
                                                             ("Writer", "cluster")}


def test_an_ecs_service_that_binpacks_may_be_in_one_az(template):
    a = analysis_of(template("""
Cluster: {Type: AWS::ECS::Cluster}
Service:
  Type: AWS::ECS::Service
  Properties:
    Cluster: !Ref Cluster
    LaunchType: EC2
    DesiredCount: 3
    TaskDefinition: task-def-arn
    NetworkConfiguration: {AwsvpcConfiguration: {Subnets: [!Ref PrivA, !Ref PrivB]}}
    PlacementStrategies: [{Type: binpack, Field: memory}]
"""))
    assert spof_ids(a) == set()
    (u,) = a.unknowns
    assert (u.logical_id, u.what) == ("Service", "AZs") and "binpack" in u.reason


APP_RUNNER = """
Service:
  Type: AWS::AppRunner::Service
  Properties:
    AutoScalingConfigurationArn: {arn}
    SourceConfiguration:
      ImageRepository:
        ImageRepositoryType: ECR_PUBLIC
        ImageIdentifier: public.ecr.aws/aws-containers/hello-app-runner:latest
"""


@pytest.mark.parametrize("min_size, spofs", [(None, {("Service", "app-runner-min-one")}),
                                             (1, {("Service", "app-runner-min-one")}), (2, set())])
def test_an_app_runner_service_is_one_instance_below_a_provisioned_minimum_of_two(template, min_size, spofs):
    """App Runner keeps its auto scaling configuration's MinSize instances provisioned (its
    default configuration's is 1, also when MinSize is left out) and spreads them over AZs."""
    config = "" if min_size is None else f", MinSize: {min_size}"
    a = analysis_of(template(APP_RUNNER.format(arn="!GetAtt Scaling.AutoScalingConfigurationArn") + f"""
Scaling: {{Type: AWS::AppRunner::AutoScalingConfiguration, Properties: {{MaxSize: 10{config}}}}}
"""))
    assert spof_ids(a) == spofs and not a.unknowns
    (unit,) = a.app_units
    assert (unit.kind, unit.min, unit.max, unit.replicated) == ("app-runner", min_size or 1, 10, bool(not spofs))


def test_an_app_runner_service_on_a_configuration_from_elsewhere_is_unknown_not_a_spof(template):
    a = analysis_of(template("Parameters:\n  ScalingArn: {Type: String}\nResources:"
                             + textwrap.indent(APP_RUNNER.format(arn="!Ref ScalingArn"), "  "), standalone=True))
    assert spof_ids(a) == set()
    (u,) = a.unknowns
    assert (u.logical_id, u.what) == ("Service", "provisioned instances (MinSize)") and "ScalingArn" in u.reason


def test_an_app_runner_minimum_from_a_parameter_is_unknown_with_its_reason(template):
    a = analysis_of(template("Parameters:\n  Floor: {Type: Number}\nResources:" + textwrap.indent(
        APP_RUNNER.format(arn="!GetAtt Scaling.AutoScalingConfigurationArn")
        + "Scaling: {Type: AWS::AppRunner::AutoScalingConfiguration, Properties: {MinSize: !Ref Floor}}\n",
        "  "), standalone=True))
    assert spof_ids(a) == set()
    (u,) = a.unknowns
    assert (u.logical_id, u.what) == ("Service", "provisioned instances (MinSize)") and "Floor" in u.reason


@pytest.mark.parametrize("topic, data_tier", [
    # the operators' inbox: alarms and Auto Scaling publish, people read
    ("Topic: {Type: AWS::SNS::Topic, Properties: {Subscription: [{Protocol: email, Endpoint: ops@example.com}]}}",
     False),
    ("Topic: {Type: AWS::SNS::Topic}\n"
     "Alarm: {Type: AWS::CloudWatch::Alarm, Properties: {AlarmActions: [!Ref Topic], MetricName: CPUUtilization,"
     " Namespace: AWS/EC2, Statistic: Average, Period: 60, EvaluationPeriods: 1, Threshold: 90,"
     " ComparisonOperator: GreaterThanThreshold}}", False),
    # a program subscribes, or the app's role publishes: the app's own messaging
    ("Topic: {Type: AWS::SNS::Topic, Properties: {Subscription: [{Protocol: sqs, Endpoint: arn:aws:sqs:us-east-1:1:q}]}}",
     True),
    ("Topic: {Type: AWS::SNS::Topic, Properties: {Subscription: [{Protocol: email, Endpoint: ops@example.com}]}}\n"
     "Publish: {Type: AWS::IAM::Policy, Properties: {PolicyName: p, Roles: [app], PolicyDocument: {Statement: ["
     "{Effect: Allow, Action: 'sns:Publish', Resource: !Ref Topic}]}}}", True),
])
def test_a_topic_that_only_notifies_the_operators_is_no_data_tier(template, topic, data_tier):
    a = analysis_of(template(asg(2, ["PrivA", "PrivB"]) + topic + "\n"))
    assert a.tiers["data"].present is data_tier
    if not data_tier:
        assert "notifies the operators" in a.tiers["data"].lines[0]
        assert "delegat" not in a.verdict["headline"].lower()


@pytest.mark.parametrize("cluster, expected", [
    # v1: no instances of its own; its capacity sits in one AZ and is recreated elsewhere
    ("{Engine: aurora-mysql, EngineMode: serverless, ScalingConfiguration: {MinCapacity: 1, MaxCapacity: 4}}",
     {("Cluster", "db-cluster-one-instance")}),
    ("{Engine: aurora-mysql, EngineMode: provisioned, ServerlessV2ScalingConfiguration: {MinCapacity: 0.5, MaxCapacity: 4}}",
     set()),
])
def test_aurora_serverless_v1_is_a_cluster_of_one_and_v2_is_judged_by_its_instances(template, cluster, expected):
    members = "" if "EngineMode: serverless" in cluster else "".join(f"""
Member{i}:
  Type: AWS::RDS::DBInstance
  Properties: {{Engine: aurora-mysql, DBInstanceClass: db.serverless, DBClusterIdentifier: !Ref Cluster}}
""" for i in range(2))
    a = analysis_of(template(NAT_PER_AZ + f"""
Cluster:
  Type: AWS::RDS::DBCluster
  Properties: {cluster}
""" + members))
    assert spof_ids(a) == expected
    if expected:
        (s,) = a.spofs
        assert "Serverless v1" in s.reason and "one AZ" in s.reason
