"""The deploy rehearsal's emulator: each fix of checks/rehearsal/moto_fixes.py, on moto itself.

Every case deploys a small template the way the CDK CLI does (a change set, then its
execution) with all the fixes applied, and shows the result a user of the CLI would see;
then with all the fixes but the one under test, and shows the failure that fix is for. When a
moto release fixes a bug upstream, its "without" half fails here: drop the fix, bump the pin.
Nothing here talks to AWS: moto in-process (``mock_aws``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from moto import mock_aws

from checks.rehearsal import moto_fixes

REGION = "us-east-1"
ALL = [f.name for f in moto_fixes.FIXES]


class Aws:
    def __init__(self) -> None:
        self.clients: dict[str, object] = {}
        self.count = 0

    def __getattr__(self, service: str):
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION)
        return self.clients[service]

    def deploy(self, name: str, template: dict, *, update: bool = False, parameters: list | None = None) -> dict:
        """CreateChangeSet + ExecuteChangeSet, as `cdk deploy` does; the stack as described after."""
        self.count += 1
        change_set = f"cs{self.count}"
        self.cloudformation.create_change_set(
            StackName=name, ChangeSetName=change_set, TemplateBody=json.dumps(template),
            ChangeSetType="UPDATE" if update else "CREATE", Parameters=parameters or [],
        )
        self.cloudformation.execute_change_set(StackName=name, ChangeSetName=change_set)
        return self.stack(name)

    def stack(self, name: str) -> dict:
        return self.cloudformation.describe_stacks(StackName=name)["Stacks"][0]

    def outputs(self, name: str) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.stack(name).get("Outputs") or []}


@contextmanager
def aws(*, without: str | None = None) -> Iterator[Aws]:
    assert without is None or without in ALL
    with mock_aws():
        undo = moto_fixes.apply([name for name in ALL if name != without])
        try:
            yield Aws()
        finally:
            undo()


def template(resources: dict, outputs: dict | None = None, **extra) -> dict:
    return {"Resources": resources, **({"Outputs": outputs} if outputs else {}), **extra}


def vpc(**more) -> dict:
    return {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}, **more}


def group(**properties) -> dict:
    return {"Type": "AWS::EC2::SecurityGroup",
            "Properties": {"GroupDescription": "g", "VpcId": {"Ref": "Vpc"}, **properties}}


def failed(run) -> bool:
    """Did the deploy fail, as an API error or as a stack that is not complete?"""
    try:
        stack = run()
    except Exception:  # moto in-process: a handler's exception reaches the caller
        return True
    return not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]


# --- the version and the registry ---------------------------------------------------------------


def test_fixes_refuse_another_moto_version(monkeypatch):
    monkeypatch.setattr(moto_fixes, "MOTO_VERSION", "0.0.1")
    with pytest.raises(RuntimeError, match="written for moto 5.2.6, this is 0.0.1"):
        moto_fixes.apply()


def test_every_fix_undoes_itself():
    from moto.cloudformation import parsing
    from moto.kms.models import Key

    before = (parsing.clean_json, Key.__dict__["create_from_cloudformation_json"], Key.__dict__["delete"])
    moto_fixes.apply()()
    assert (parsing.clean_json, Key.__dict__["create_from_cloudformation_json"], Key.__dict__["delete"]) == before


# --- bugs in handlers moto has --------------------------------------------------------------------

KEY = {"Key": {"Type": "AWS::KMS::Key", "Properties": {
    "KeyPolicy": {"Version": "2012-10-17", "Statement": []}, "Tags": [{"Key": "stage", "Value": "x"}],
    "PendingWindowInDays": 7}}}


def test_kms_key_with_tags_and_a_policy_object():
    with aws() as cloud:
        cloud.deploy("s", template(KEY))
        key_id = cloud.cloudformation.describe_stack_resources(StackName="s")["StackResources"][0]["PhysicalResourceId"]
        assert cloud.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        assert cloud.kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "stage", "TagValue": "x"}]
    with aws(without="kms_key_properties") as cloud:
        assert failed(lambda: cloud.deploy("s", template(KEY)))


def test_kms_key_deleted_with_its_stack_is_pending_deletion():
    with aws() as cloud:
        cloud.deploy("s", template(KEY))
        key_id = cloud.cloudformation.describe_stack_resources(StackName="s")["StackResources"][0]["PhysicalResourceId"]
        cloud.cloudformation.delete_stack(StackName="s")
        assert cloud.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with aws(without="kms_key_pending_deletion") as cloud:
        cloud.deploy("s", template(KEY))
        key_id = cloud.cloudformation.describe_stack_resources(StackName="s")["StackResources"][0]["PhysicalResourceId"]
        cloud.cloudformation.delete_stack(StackName="s")
        with pytest.raises(Exception):
            cloud.kms.describe_key(KeyId=key_id)


ALL_TRAFFIC = vpc(Group=group(SecurityGroupIngress=[{"CidrIp": "10.0.0.0/16", "IpProtocol": "-1"}]))


def test_security_group_with_an_all_traffic_rule():
    with aws() as cloud:
        cloud.deploy("s", template(ALL_TRAFFIC, {"Id": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}}))
        rules = cloud.ec2.describe_security_groups(GroupIds=[cloud.outputs("s")["Id"]])["SecurityGroups"][0]["IpPermissions"]
        assert [(r["IpProtocol"], r["IpRanges"][0]["CidrIp"]) for r in rules] == [("-1", "10.0.0.0/16")]
    with aws(without="security_group_rule_ports") as cloud:
        assert failed(lambda: cloud.deploy("s", template(ALL_TRAFFIC, {"Id": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}})))


PREFIX_LIST_INGRESS = vpc(Group=group(), FromCloudFront={"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
    "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
    "SourcePrefixListId": "pl-3b927c52"}})


def test_ingress_from_a_managed_prefix_list():
    with aws() as cloud:
        cloud.deploy("s", template(PREFIX_LIST_INGRESS, {"Id": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}}))
        rules = cloud.ec2.describe_security_groups(GroupIds=[cloud.outputs("s")["Id"]])["SecurityGroups"][0]["IpPermissions"]
        assert rules[0]["PrefixListIds"][0]["PrefixListId"] == "pl-3b927c52" and rules[0]["FromPort"] == 80
    with aws(without="ingress_from_prefix_list") as cloud:
        assert failed(lambda: cloud.deploy("s", template(PREFIX_LIST_INGRESS)))


TOPIC = {"Topic": {"Type": "AWS::SNS::Topic"}}


def test_change_sets_of_the_same_name_belong_to_their_stack():
    def two_stacks(cloud: Aws) -> list[list[str]]:
        for name, resources in (("a", TOPIC), ("b", {"Queue": {"Type": "AWS::SQS::Queue"}})):
            cloud.cloudformation.create_change_set(StackName=name, ChangeSetName="same", ChangeSetType="CREATE",
                                                   TemplateBody=json.dumps(template(resources)))
        return [[c["ResourceChange"]["LogicalResourceId"]
                 for c in cloud.cloudformation.describe_change_set(StackName=n, ChangeSetName="same")["Changes"]]
                for n in ("a", "b")]

    with aws() as cloud:
        assert two_stacks(cloud) == [["Topic"], ["Queue"]]
        cloud.cloudformation.delete_change_set(StackName="a", ChangeSetName="never-made")  # CloudFormation: fine
        with pytest.raises(cloud.cloudformation.exceptions.ChangeSetNotFoundException):
            cloud.cloudformation.describe_change_set(StackName="a", ChangeSetName="never-made")
    with aws(without="change_sets_per_stack") as cloud:
        shown = two_stacks(cloud)
        assert shown[0] == shown[1]  # one stack's change set shown for both


def test_a_change_set_deploys_outputs_exports_and_fails_loudly():
    exporting = template(TOPIC, {"Arn": {"Value": {"Ref": "Topic"}, "Export": {"Name": "topic-arn"}}})
    importing = template({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": "/imported", "Type": "String", "Value": {"Fn::ImportValue": "topic-arn"}}}})
    broken = template(ALL_TRAFFIC)  # fails in moto without its own fix
    with aws() as cloud:
        cloud.deploy("exporting", exporting)
        assert cloud.outputs("exporting")["Arn"].startswith("arn:aws:sns:")
        assert cloud.deploy("importing", importing)["StackStatus"] == "CREATE_COMPLETE"
    with aws(without="security_group_rule_ports") as cloud:
        stack = cloud.deploy("broken", broken)
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
        events = cloud.cloudformation.describe_stack_events(StackName="broken")["StackEvents"]
        assert any("FromPort" in (e.get("ResourceStatusReason") or "") for e in events)
    with aws(without="change_set_execution") as cloud:
        cloud.deploy("exporting", exporting)
        assert cloud.outputs("exporting") == {}


def test_custom_resources_complete_without_their_handler(caplog):
    caplog.set_level(logging.INFO, logger="checks.rehearsal.emulator")
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}
    function = {"Type": "AWS::Lambda::Function", "Properties": {
        "Runtime": "python3.12", "Handler": "index.handler", "Code": {"ZipFile": "def handler(e, c): pass"},
        "Role": {"Fn::GetAtt": ["Role", "Arn"]}}}
    resources = {"Role": role, "Handler": function, "Custom": {"Type": "Custom::Thing", "Properties": {
        "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]}}}}
    with aws() as cloud:
        assert cloud.deploy("s", template(resources))["StackStatus"] == "CREATE_COMPLETE"
        assert "Custom (Custom::Thing): handler not run" in caplog.text
        cloud.cloudformation.create_stack(StackName="direct", TemplateBody=json.dumps(template(resources)))
        assert cloud.stack("direct")["StackStatus"] == "CREATE_COMPLETE"
    with aws(without="custom_resources_without_docker") as cloud:
        # moto runs the handler in Docker: with no Docker daemon nothing answers the response
        # URL, and a stack created directly (not through a change set) never completes
        cloud.cloudformation.create_stack(StackName="direct", TemplateBody=json.dumps(template(resources)))
        time.sleep(1)
        assert cloud.stack("direct")["StackStatus"] == "CREATE_IN_PROGRESS"


STACK_OUTPUT = template({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/read", "Type": "String", "Value": {
    "Fn::GetStackOutput": {"StackName": "exporting", "Region": REGION, "OutputName": "Arn"}}}}},
    {"Value": {"Value": {"Fn::GetAtt": ["Param", "Value"]}}})


def test_get_stack_output_reads_the_other_stacks_output():
    exporting = template(TOPIC, {"Arn": {"Value": {"Ref": "Topic"}}})
    with aws() as cloud:
        cloud.deploy("exporting", exporting)
        cloud.deploy("reading", STACK_OUTPUT)
        name = cloud.cloudformation.describe_stack_resources(StackName="reading")["StackResources"][0]["PhysicalResourceId"]
        assert cloud.ssm.get_parameter(Name=name)["Parameter"]["Value"] == cloud.outputs("exporting")["Arn"]
    with aws(without="get_stack_output") as cloud:
        cloud.deploy("exporting", exporting)
        assert failed(lambda: cloud.deploy("reading", STACK_OUTPUT))


DATABASE = vpc(
    SubnetA={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                         "AvailabilityZone": "us-east-1a"}},
    SubnetB={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                         "AvailabilityZone": "us-east-1b"}},
    Subnets={"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
        "DBSubnetGroupDescription": "d", "SubnetIds": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
    Parameters={"Type": "AWS::RDS::DBParameterGroup", "Properties": {
        "Description": "p", "Family": "postgres17", "Parameters": {"rds.force_ssl": "1"}}},
    Db={"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot", "Properties": {
        "DBInstanceIdentifier": "game", "Engine": "postgres", "EngineVersion": "17.6",
        "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": "20", "MasterUsername": "game",
        "MasterUserPassword": "password-of-the-test", "DBSubnetGroupName": {"Ref": "Subnets"},
        "DBParameterGroupName": {"Ref": "Parameters"}}},
)
DATABASE_OUTPUTS = {"Port": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}},
                    "Resource": {"Value": {"Fn::GetAtt": ["Db", "DbiResourceId"]}}}


def test_a_database_with_its_parameter_group_port_and_resource_id():
    with aws() as cloud:
        cloud.deploy("data", template(DATABASE, DATABASE_OUTPUTS))
        database = cloud.rds.describe_db_instances(DBInstanceIdentifier="game")["DBInstances"][0]
        assert database["DBParameterGroups"][0]["DBParameterGroupName"].startswith("data-parameters")
        assert cloud.outputs("data") == {"Port": "5432", "Resource": database["DbiResourceId"]}
        cloud.cloudformation.delete_stack(StackName="data")  # DeletionPolicy: Snapshot
        assert [s["SnapshotType"] for s in cloud.rds.describe_db_snapshots()["DBSnapshots"]] == ["manual"]
    with aws(without="db_parameter_group_ref") as cloud:
        assert failed(lambda: cloud.deploy("data", template(DATABASE)))
    with aws(without="db_instance_attributes") as cloud:
        assert failed(lambda: cloud.deploy("data", template(DATABASE, DATABASE_OUTPUTS)))
    with aws(without="db_instance_default_port") as cloud:
        cloud.deploy("data", template(DATABASE, {"Port": DATABASE_OUTPUTS["Port"]}))
        assert cloud.outputs("data") == {"Port": "3306"}  # MySQL's port for a PostgreSQL database
    with aws(without="db_snapshot_on_delete") as cloud:
        cloud.deploy("data", template(DATABASE))
        cloud.cloudformation.delete_stack(StackName="data")
        assert [s["SnapshotType"] for s in cloud.rds.describe_db_snapshots()["DBSnapshots"]] == []


TLS_ONLY = {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "assets"}},
            "Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::assets", "arn:aws:s3:::assets/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}}}


def test_a_bucket_policy_is_stored_and_a_conditional_deny_does_not_deny_everything():
    with aws() as cloud:
        cloud.deploy("s", template(TLS_ONLY))
        assert "SecureTransport" in cloud.s3.get_bucket_policy(Bucket="assets")["Policy"]
        cloud.s3.put_object(Bucket="assets", Key="asset.zip", Body=b"x")  # what the CLI's asset upload does
    with aws(without="bucket_policy_conditions") as cloud:
        cloud.deploy("s", template(TLS_ONLY))
        with pytest.raises(Exception, match="403|Forbidden|AccessDenied"):
            cloud.s3.put_object(Bucket="assets", Key="asset.zip", Body=b"x")
    with aws(without="extension_types") as cloud:
        cloud.deploy("s", template(TLS_ONLY))
        with pytest.raises(cloud.s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
            cloud.s3.get_bucket_policy(Bucket="assets")


SKIPPED_TYPE = template({"Origin": {"Type": "AWS::CloudFront::VpcOrigin", "Properties": {}},
                         "Param": {"Type": "AWS::SSM::Parameter", "Properties": {
                             "Name": "/origin", "Type": "String",
                             "Value": {"Fn::Join": ["", ["id:", {"Fn::GetAtt": ["Origin", "Id"]}]]}}}})


def test_get_att_of_a_type_moto_skips_is_nothing_like_a_ref():
    with aws() as cloud:
        assert cloud.deploy("s", SKIPPED_TYPE)["StackStatus"] == "CREATE_COMPLETE"
    with aws(without="get_att_of_skipped_type") as cloud:
        assert failed(lambda: cloud.deploy("s", SKIPPED_TYPE))


TAGGED_PARAMETER = template({"Param": {"Type": "AWS::SSM::Parameter", "Properties": {
    "Name": "/game/x/url", "Type": "String", "Value": "https://x", "Tags": {"stage": "x"}}}})


def test_ssm_parameter_with_tags_as_an_object():
    with aws() as cloud:
        cloud.deploy("s", TAGGED_PARAMETER)
        tags = cloud.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/game/x/url")["TagList"]
        assert tags == [{"Key": "stage", "Value": "x"}]
    with aws(without="ssm_parameter_tags") as cloud:
        assert failed(lambda: cloud.deploy("s", TAGGED_PARAMETER))


def test_termination_protection_is_set_and_refuses_deletion():
    def protect_and_delete(cloud: Aws) -> None:
        cloud.deploy("s", template(TOPIC))
        cloud.cloudformation.update_termination_protection(StackName="s", EnableTerminationProtection=True)
        cloud.cloudformation.delete_stack(StackName="s")

    with aws() as cloud:
        with pytest.raises(cloud.cloudformation.exceptions.ClientError, match="TerminationProtection is enabled"):
            protect_and_delete(cloud)
        assert cloud.stack("s")["EnableTerminationProtection"] is True
    with aws(without="termination_protection") as cloud:
        with pytest.raises(Exception, match="update_termination_protection|not been implemented|500"):
            protect_and_delete(cloud)


def _load_balanced(*, update: dict | None = None) -> dict:
    resources = vpc(
        SubnetA={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                             "AvailabilityZone": "us-east-1a"}},
        SubnetB={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.2.0/24",
                                                             "AvailabilityZone": "us-east-1b"}},
        Lb={"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Scheme": "internal", "Subnets": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}]}},
        Targets={"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {
            "Port": 8000, "Protocol": "HTTP", "VpcId": {"Ref": "Vpc"}}},
        Template={"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "ImageId": "ami-12c6146b", "InstanceType": "c7g.large", "UserData": "ZWNobyAx", **(update or {})}}},
        Group={"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "2", "MaxSize": "4", "VPCZoneIdentifier": [{"Ref": "SubnetA"}, {"Ref": "SubnetB"}],
            "TargetGroupARNs": [{"Ref": "Targets"}],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"},
                               "Version": {"Fn::GetAtt": ["Template", "LatestVersionNumber"]}}}},
        Policy={"Type": "AWS::AutoScaling::ScalingPolicy", "Properties": {
            "AutoScalingGroupName": {"Ref": "Group"}, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {"TargetValue": 60, "PredefinedMetricSpecification": {
                "PredefinedMetricType": "ASGAverageCPUUtilization"}}}},
    )
    return template(resources, {
        "Lb": {"Value": {"Fn::GetAtt": ["Lb", "LoadBalancerFullName"]}},
        "Targets": {"Value": {"Fn::GetAtt": ["Targets", "TargetGroupFullName"]}},
    })


def test_load_balancer_and_target_group_names_for_cloudwatch_dimensions():
    with aws() as cloud:
        outputs = {k: v.split("/")[0] for k, v in (cloud.deploy("s", _load_balanced()) and cloud.outputs("s")).items()}
        assert outputs == {"Lb": "app", "Targets": "targetgroup"}
    with aws(without="elbv2_attributes") as cloud:
        assert failed(lambda: cloud.deploy("s", _load_balanced()))


def test_an_updated_launch_template_reaches_its_group_which_keeps_its_policy():
    def group(cloud: Aws) -> dict:
        return cloud.autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]

    with aws() as cloud:
        cloud.deploy("s", _load_balanced())
        cloud.deploy("s", _load_balanced(update={"UserData": "ZWNobyAy"}), update=True)
        assert group(cloud)["LaunchTemplate"]["Version"] == "2"
        assert len(cloud.autoscaling.describe_policies()["ScalingPolicies"]) == 1
        changes = cloud.cloudformation.describe_change_set(StackName="s", ChangeSetName="cs2")["Changes"]
        cascaded = [c["ResourceChange"] for c in changes if c["ResourceChange"]["LogicalResourceId"] == "Group"]
        assert cascaded[0]["Details"][0]["CausingEntity"] == "Template.LatestVersionNumber"
    with aws(without="version_attribute_updates") as cloud:
        cloud.deploy("s", _load_balanced())
        cloud.deploy("s", _load_balanced(update={"UserData": "ZWNobyAy"}), update=True)
        assert group(cloud)["LaunchTemplate"]["Version"] == "1"  # the hosts would keep the old code
    bigger = _load_balanced()
    bigger["Resources"]["Group"]["Properties"]["MaxSize"] = "8"
    with aws() as cloud:
        cloud.deploy("s", _load_balanced())
        instances = [i["InstanceId"] for i in group(cloud)["Instances"]]
        cloud.deploy("s", bigger, update=True)
        assert (group(cloud)["MaxSize"], [i["InstanceId"] for i in group(cloud)["Instances"]]) == (8, instances)
    with aws(without="auto_scaling_group_update") as cloud:
        cloud.deploy("s", _load_balanced())
        instances = [i["InstanceId"] for i in group(cloud)["Instances"]]
        cloud.deploy("s", bigger, update=True)
        assert set(i["InstanceId"] for i in group(cloud)["Instances"]).isdisjoint(instances)  # a new group


def test_a_group_is_created_with_its_launch_hook():
    hooked = _load_balanced()
    hooked["Resources"]["Group"]["Properties"]["LifecycleHookSpecificationList"] = [{
        "LifecycleHookName": "host-serves", "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
        "HeartbeatTimeout": 1500, "DefaultResult": "ABANDON"}]

    def hooks(cloud: Aws) -> list[dict]:
        name = cloud.autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]["AutoScalingGroupName"]
        return cloud.autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]

    with aws() as cloud:
        cloud.deploy("s", hooked)
        (hook,) = hooks(cloud)
        assert (hook["LifecycleHookName"], hook["LifecycleTransition"], hook["HeartbeatTimeout"],
                hook["DefaultResult"]) == ("host-serves", "autoscaling:EC2_INSTANCE_LAUNCHING", 1500, "ABANDON")
    with aws(without="auto_scaling_group_lifecycle_hooks") as cloud:
        cloud.deploy("s", hooked)
        assert hooks(cloud) == []


INSTANCE = vpc(Subnet={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
               Host={"Type": "AWS::EC2::Instance", "Properties": {
                   "ImageId": "ami-12c6146b", "InstanceType": "t4g.small", "SubnetId": {"Ref": "Subnet"}}})


def test_an_instance_type_change_keeps_the_instance_in_its_stack(caplog):
    caplog.set_level(logging.INFO, logger="checks.rehearsal.emulator")
    bigger = json.loads(json.dumps(INSTANCE))
    bigger["Host"]["Properties"]["InstanceType"] = "t4g.medium"

    def listed(cloud: Aws) -> list[str]:
        cloud.deploy("s", template(INSTANCE))
        cloud.deploy("s", template(bigger), update=True)
        return [r["LogicalResourceId"] for r in cloud.cloudformation.list_stack_resources(StackName="s")["StackResourceSummaries"]]

    with aws() as cloud:
        assert "Host" in listed(cloud)
        assert "Host (AWS::EC2::Instance): update not applied" in caplog.text
        details = cloud.cloudformation.describe_change_set(StackName="s", ChangeSetName="cs2")["Changes"][0]["ResourceChange"]
        assert (details["Replacement"], details["Details"][0]["Target"]) == (
            "Conditional", {"Attribute": "Properties", "Name": "InstanceType", "RequiresRecreation": "Conditionally"})
    with aws(without="keep_resources_without_update") as cloud:
        assert "Host" not in listed(cloud)
    with aws(without="change_set_details") as cloud:
        listed(cloud)
        details = cloud.cloudformation.describe_change_set(StackName="s", ChangeSetName="cs2")["Changes"][0]["ResourceChange"]
        assert "Replacement" not in details and "Details" not in details


NETWORK = vpc(
    Subnet={"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24"}},
    Igw={"Type": "AWS::EC2::InternetGateway"},
    Attach={"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Igw"}}},
    Table={"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
    Association={"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
        "RouteTableId": {"Ref": "Table"}, "SubnetId": {"Ref": "Subnet"}}},
    Default={"Type": "AWS::EC2::Route", "DependsOn": "Attach", "Properties": {
        "RouteTableId": {"Ref": "Table"}, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": {"Ref": "Igw"}}},
    S3={"Type": "AWS::EC2::VPCEndpoint", "Properties": {
        "VpcId": {"Ref": "Vpc"}, "ServiceName": "com.amazonaws.us-east-1.s3", "RouteTableIds": [{"Ref": "Table"}]}},
)


def test_a_network_stack_deletes_down_to_its_vpc():
    with aws() as cloud:
        stack_id = cloud.deploy("network", template(NETWORK))["StackId"]
        cloud.cloudformation.delete_stack(StackName="network")
        assert cloud.cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
        assert [v for v in cloud.ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
    with aws(without="ec2_network_deletion") as cloud:
        cloud.deploy("network", template(NETWORK))
        with pytest.raises(Exception, match="has dependencies"):
            cloud.cloudformation.delete_stack(StackName="network")


BOOTSTRAP_VERSION = {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>",
                                          "Default": "/cdk-bootstrap/hnb659fds/version"}}


def test_an_update_reuses_an_ssm_typed_parameter_by_its_name():
    def update(cloud: Aws) -> dict:
        cloud.ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="33", Type="String")
        cloud.deploy("s", template(TOPIC, Parameters=BOOTSTRAP_VERSION))
        bigger = template({**TOPIC, "Other": {"Type": "AWS::SNS::Topic"}}, Parameters=BOOTSTRAP_VERSION)
        return cloud.deploy("s", bigger, update=True,
                            parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}])

    with aws() as cloud:
        assert update(cloud)["StackStatus"] == "UPDATE_COMPLETE"
    with aws(without="previous_ssm_parameter_values") as cloud:
        assert failed(lambda: update(cloud))


# --- handlers for types moto skips ---------------------------------------------------------------


def test_secrets_generated_and_attached_to_the_database():
    resources = {**DATABASE, "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {
        "GenerateSecretString": {"SecretStringTemplate": '{"username": "game"}', "GenerateStringKey": "password",
                                 "PasswordLength": 30, "ExcludeCharacters": "/@\"'"}}},
                 "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
                     "SecretId": {"Ref": "Secret"}, "TargetId": {"Ref": "Db"}, "TargetType": "AWS::RDS::DBInstance"}},
                 "Policy": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {
                     "SecretId": {"Ref": "Secret"}, "ResourcePolicy": {"Version": "2012-10-17", "Statement": []}}}}
    with aws() as cloud:
        cloud.deploy("data", template(resources, {"Secret": {"Value": {"Ref": "Attachment"}}}))
        secret = json.loads(cloud.secretsmanager.get_secret_value(SecretId=cloud.outputs("data")["Secret"])["SecretString"])
        assert secret["username"] == "game" and len(secret["password"]) == 30 and not set("/@\"'") & set(secret["password"])
        assert (secret["host"], secret["port"], secret["engine"]) == ("game.aaaaaaaaaa.us-east-1.rds.amazonaws.com", 5432, "postgres")
        assert cloud.secretsmanager.get_resource_policy(SecretId=cloud.outputs("data")["Secret"])["ResourcePolicy"]
    with aws(without="extension_types") as cloud:
        cloud.deploy("data", template(resources, {"Secret": {"Value": {"Ref": "Attachment"}}}))
        assert cloud.secretsmanager.list_secrets()["SecretList"] == []  # the hosts would find no credentials


def test_a_distribution_with_its_origin_access_control():
    resources = {**TLS_ONLY, "Control": {"Type": "AWS::CloudFront::OriginAccessControl", "Properties": {
        "OriginAccessControlConfig": {"Name": "c", "OriginAccessControlOriginType": "s3", "SigningBehavior": "always",
                                      "SigningProtocol": "sigv4"}}},
                 "Edge": {"Type": "AWS::CloudFront::Distribution", "Properties": {"DistributionConfig": {
                     "Enabled": True, "DefaultRootObject": "index.html",
                     "Origins": [{"Id": "static", "DomainName": "assets.s3.us-east-1.amazonaws.com",
                                  "S3OriginConfig": {"OriginAccessIdentity": ""},
                                  "OriginAccessControlId": {"Fn::GetAtt": ["Control", "Id"]}}],
                     "DefaultCacheBehavior": {"TargetOriginId": "static", "ViewerProtocolPolicy": "redirect-to-https"},
                     "CacheBehaviors": [{"PathPattern": "/api/*", "TargetOriginId": "static",
                                         "ViewerProtocolPolicy": "redirect-to-https",
                                         "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]}]}}}}
    site = {"Site": {"Value": {"Fn::Join": ["", ["https://", {"Fn::GetAtt": ["Edge", "DomainName"]}]]}}}
    with aws() as cloud:
        cloud.deploy("edge", template(resources, site))
        distribution = cloud.cloudfront.list_distributions()["DistributionList"]["Items"][0]
        assert cloud.outputs("edge")["Site"] == f"https://{distribution['DomainName']}"
        assert distribution["Origins"]["Items"][0]["OriginAccessControlId"]
        assert distribution["CacheBehaviors"]["Items"][0]["AllowedMethods"]["Quantity"] == 7
    with aws(without="extension_types") as cloud:
        cloud.deploy("edge", template(resources, site))
        assert cloud.outputs("edge")["Site"] == "https://None"  # and no distribution
        assert "Items" not in cloud.cloudfront.list_distributions()["DistributionList"]


def test_alarms_topic_policy_subscription_and_egress_rule():
    resources = vpc(**TOPIC, Other=group(), Group=group(),
                    TopicPolicy={"Type": "AWS::SNS::TopicPolicy", "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": {
                        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                                                "Action": "sns:Publish", "Resource": "*"}]}}},
                    Mail={"Type": "AWS::SNS::Subscription", "Properties": {
                        "TopicArn": {"Ref": "Topic"}, "Protocol": "email", "Endpoint": "ops@example.com"}},
                    Errors={"Type": "AWS::CloudWatch::Alarm", "Properties": {
                        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "EvaluationPeriods": 5, "Threshold": 10,
                        "AlarmActions": [{"Ref": "Topic"}], "Metrics": [{"Id": "m1", "ReturnData": True, "MetricStat": {
                            "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "HTTPCode_Target_5XX_Count",
                                       "Dimensions": [{"Name": "LoadBalancer", "Value": "app/x/1"}]},
                            "Period": 60, "Stat": "Sum"}}]}},
                    ToOther={"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
                        "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 8000,
                        "ToPort": 8000, "DestinationSecurityGroupId": {"Fn::GetAtt": ["Other", "GroupId"]}}})
    outputs = {"Alarm": {"Value": {"Fn::GetAtt": ["Errors", "Arn"]}}, "Group": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}}
    with aws() as cloud:
        cloud.deploy("s", template(resources, outputs))
        topic = cloud.sns.list_topics()["Topics"][0]["TopicArn"]
        alarm = cloud.cloudwatch.describe_alarms()["MetricAlarms"][0]
        assert (alarm["AlarmArn"], alarm["AlarmActions"]) == (cloud.outputs("s")["Alarm"], [topic])
        assert "cloudwatch.amazonaws.com" in cloud.sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"]
        assert [s["Endpoint"] for s in cloud.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == ["ops@example.com"]
        egress = cloud.ec2.describe_security_groups(GroupIds=[cloud.outputs("s")["Group"]])["SecurityGroups"][0]["IpPermissionsEgress"]
        assert any(rule.get("FromPort") == 8000 and rule["UserIdGroupPairs"] for rule in egress)
        cloud.cloudformation.delete_stack(StackName="s")
        assert cloud.cloudwatch.describe_alarms()["MetricAlarms"] == []
    with aws(without="extension_types") as cloud:
        cloud.deploy("s", template(resources, outputs))
        assert cloud.cloudwatch.describe_alarms()["MetricAlarms"] == []  # nothing would page anyone
        topic = cloud.sns.list_topics()["Topics"][0]["TopicArn"]
        assert cloud.sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_a_queue_policy_lands_on_its_queue():
    resources = {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "TlsOnly": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sqs:*",
                                                    "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}},
    }
    outputs = {"Queue": {"Value": {"Ref": "Queue"}}}
    with aws() as cloud:
        cloud.deploy("q", template(resources, outputs))
        policy = cloud.sqs.get_queue_attributes(QueueUrl=cloud.outputs("q")["Queue"], AttributeNames=["Policy"])
        assert "aws:SecureTransport" in policy["Attributes"]["Policy"]
    with aws(without="extension_types") as cloud:
        cloud.deploy("q", template(resources, outputs))
        assert "Policy" not in cloud.sqs.get_queue_attributes(
            QueueUrl=cloud.outputs("q")["Queue"], AttributeNames=["Policy"]).get("Attributes", {})
