"""Stateful resources keep their logical IDs: a change would make CloudFormation
replace them (a new, empty database; new credentials; a new bucket, the old one
orphaned). If this test fails, the change is a data migration, not a refactor."""

from __future__ import annotations

import json

import pytest

from stacks.config import STAGES

PINNED = {
    "data": {
        "GameDatabase": "AWS::RDS::DBInstance",
        "GameDatabaseSecret": "AWS::SecretsManager::Secret",
        "GameAppSecret": "AWS::SecretsManager::Secret",
    },
    "storage": {
        "MediaBucket": "AWS::S3::Bucket",
        "StaticBucket": "AWS::S3::Bucket",
        "LogsBucket": "AWS::S3::Bucket",
        # a replaced queue loses the jobs on it (acknowledged work not yet done)
        "JobQueue": "AWS::SQS::Queue",
        "JobDeadLetterQueue": "AWS::SQS::Queue",
    },
}


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
@pytest.mark.parametrize("stack", sorted(PINNED))
def test_stateful_logical_ids_are_pinned(templates, stage, stack):
    resources = templates[stage][stack]["Resources"]
    for logical_id, type_ in PINNED[stack].items():
        assert logical_id in resources, f"{stage}-{stack}: {logical_id} ({type_}) vanished or was renamed"
        assert resources[logical_id]["Type"] == type_


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_stateful_stacks_hold_nothing_unpinned_of_a_stateful_kind(templates, stage):
    stateful_types = {"AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::SQS::Queue"}
    for stack in PINNED:
        found = {lid for lid, r in templates[stage][stack]["Resources"].items() if r["Type"] in stateful_types}
        assert found == set(PINNED[stack]), "pin every new stateful resource here, with a fixed logical ID"


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_stateful_resources_outlive_their_stack(templates, stage):
    data = templates[stage]["data"]["Resources"]
    assert data["GameDatabase"]["DeletionPolicy"] == "Snapshot"
    production = STAGES[stage].db_deletion_protection
    assert data["GameAppSecret"]["DeletionPolicy"] == ("Retain" if production else "Delete")
    # The master credentials open the final snapshot; production keeps them (the README's teardown says so).
    assert data["GameDatabaseSecret"]["DeletionPolicy"] == ("Retain" if production else "Delete")
    for bucket in (lid for lid, t in PINNED["storage"].items() if t == "AWS::S3::Bucket"):
        assert templates[stage]["storage"]["Resources"][bucket]["DeletionPolicy"] == "Retain"


# Properties that give a resource a fixed physical name: a retained one blocks the next
# create of a stack that was destroyed ("already exists").
_NAME_PROPERTIES = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SSM::Parameter": "Name",
}


def test_a_stage_without_deletion_protection_can_be_destroyed_and_deployed_again(templates):
    """`cdk destroy` then `cdk deploy` of starter: nothing with a fixed name survives the
    destroy (the database's final snapshot frees its identifier); what is retained (the
    buckets with players' uploads) has a generated name, so the new stack gets new ones."""
    assert not STAGES["starter"].db_deletion_protection
    for stack, template in templates["starter"].items():
        for lid, resource in template["Resources"].items():
            named = _NAME_PROPERTIES.get(resource["Type"])
            if named and named in resource.get("Properties", {}):
                assert resource.get("DeletionPolicy", "Delete") == "Delete", f"{stack}/{lid} keeps its name after destroy"
            if resource["Type"] == "AWS::SecretsManager::ResourcePolicy":
                assert "DeleteSecret" not in json.dumps(resource), f"{stack}/{lid} denies deleting a secret"
    assert templates["starter"]["data"]["Resources"]["GameDatabase"]["DeletionPolicy"] == "Snapshot"


def test_the_backlog_metric_reads_the_pinned_job_queue_and_the_worker_group(templates):
    """The worker tier works the storage stack's queue (pinned logical ID JobQueue: its jobs
    outlive any deploy of the app stack), not a queue of its own."""
    app, storage = templates["scale-out"]["app"], templates["scale-out"]["storage"]
    assert not [r for r in app["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    (policy,) = [r for lid, r in app["Resources"].items()
                 if lid.startswith("Workers") and r["Type"] == "AWS::AutoScaling::ScalingPolicy"]
    visible, in_service, _ = policy["Properties"]["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    (queue_name,) = visible["MetricStat"]["Metric"]["Dimensions"]
    output = queue_name["Value"]["Fn::GetStackOutput"]
    assert output["StackName"] == "scale-out-storage"
    assert storage["Outputs"][output["OutputName"]]["Value"] == {"Fn::GetAtt": ["JobQueue", "QueueName"]}
    (group,) = in_service["MetricStat"]["Metric"]["Dimensions"]
    (group_id,) = [lid for lid, r in app["Resources"].items()
                   if lid.startswith("Workers") and r["Type"] == "AWS::AutoScaling::AutoScalingGroup"]
    assert group == {"Name": "AutoScalingGroupName", "Value": {"Ref": group_id}}
