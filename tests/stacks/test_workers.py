"""The worker tier (scale-out only): job-worker hosts of their own across the AZs, booting the
bootstrap's worker role, scaling on the queue's backlog per instance, draining before they go.
Starter and small keep the worker beside the server on their app hosts."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from game_service.contract import JOB_VISIBILITY_SECONDS
from patterns.worker_tier import DRAIN_HOOK_NAME, WORKER_LAUNCH_HOOK_NAME
from stacks.config import STAGES
from tests.stacks.helpers import resources

SCALE_OUT = STAGES["scale-out"]


def _workers(app: dict, type_: str) -> list[dict]:
    return [r for lid, r in resources(app, type_).items() if lid.startswith("Workers")]


def _app_host_user_data(app: dict) -> str:
    raws = [r["Properties"]["LaunchTemplateData"]["UserData"] for lid, r in resources(app, "AWS::EC2::LaunchTemplate").items()
            if lid.startswith("Tier") and "UserData" in r["Properties"]["LaunchTemplateData"]]
    raws += [r["Properties"]["UserData"] for lid, r in resources(app, "AWS::EC2::Instance").items() if lid.startswith("Tier")]
    (raw,) = raws
    return json.dumps(raw)


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_only_scale_out_has_a_worker_tier_and_only_there_the_app_hosts_run_no_worker(templates, stage):
    app = templates[stage]["app"]
    has_tier = STAGES[stage].has_worker_tier
    assert has_tier == (stage == "scale-out")
    assert bool(_workers(app, "AWS::AutoScaling::AutoScalingGroup")) == has_tier
    # the app hosts start the worker beside the server unless the stage has a worker tier
    assert ("--without-worker" in _app_host_user_data(app)) == has_tier


def test_worker_group_spans_every_zone_of_the_app_hosts_and_is_created_with_signals(templates):
    app = templates["scale-out"]["app"]
    (group_resource,) = _workers(app, "AWS::AutoScaling::AutoScalingGroup")
    group = group_resource["Properties"]
    assert group["MinSize"] == str(SCALE_OUT.worker_min_instances) and int(group["MinSize"]) >= 2
    assert group["MaxSize"] == str(SCALE_OUT.worker_max_instances)
    assert "DesiredCapacity" not in group, "a deploy must not reset a scaled-out group"
    (app_group,) = [r["Properties"] for lid, r in resources(app, "AWS::AutoScaling::AutoScalingGroup").items()
                    if lid.startswith("Tier")]
    assert group["VPCZoneIdentifier"] == app_group["VPCZoneIdentifier"], "the app hosts' private subnets"
    assert len(group["VPCZoneIdentifier"]) == len(SCALE_OUT.availability_zones) >= 2
    assert json.dumps(group["VPCZoneIdentifier"]).count("appSubnet") == 3
    assert group["HealthCheckType"] == "EC2", "no load balancer checks a worker"
    assert "TargetGroupARNs" not in group and "LoadBalancerNames" not in group
    assert group_resource["CreationPolicy"]["ResourceSignal"]["Count"] == SCALE_OUT.worker_min_instances
    assert group_resource["UpdatePolicy"]["AutoScalingInstanceRefresh"]["Strategy"] == "Rolling"


def test_worker_hosts_boot_the_same_bootstrap_in_the_worker_role(templates):
    app = templates["scale-out"]["app"]
    (template,) = _workers(app, "AWS::EC2::LaunchTemplate")
    data = template["Properties"]["LaunchTemplateData"]
    assert data["InstanceType"] == SCALE_OUT.worker_instance_type
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    script = json.dumps(data["UserData"])
    assert "bash /opt/game/bootstrap.sh --mode ec2 --role worker --bundle s3://" in script
    assert f"--lifecycle-hook {WORKER_LAUNCH_HOOK_NAME}" in script and f"--drain-hook {DRAIN_HOOK_NAME}" in script
    assert "--target-group-arn" not in script, "behind no load balancer"
    # the same bundle and wheelhouse as the app hosts
    app_script = _app_host_user_data(app)
    bundle = [w for w in script.split() if w.endswith(".zip")]
    assert bundle and all(w in app_script for w in bundle)
    for key in ("GAME_JOB_QUEUE_URL", "GAME_DB_AUTH=iam", "GAME_DB_USER=game_app", "GAME_MEDIA_BUCKET"):
        assert key in script
    for key in ("GAME_BIND", "GAME_PORT", "GAME_WORKERS", "GAME_DB_ADMIN_SECRET_ID"):
        assert key not in script, key


def test_worker_hosts_admit_nothing_and_reach_the_database(templates):
    network = templates["scale-out"]["network"]
    (sg_id,) = [lid for lid in resources(network, "AWS::EC2::SecurityGroup") if lid.startswith("WorkerSecurityGroup")]
    assert not resources(network, "AWS::EC2::SecurityGroup")[sg_id]["Properties"].get("SecurityGroupIngress")
    assert not [r for r in resources(network, "AWS::EC2::SecurityGroupIngress").values()
                if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}]
    (template,) = _workers(templates["scale-out"]["app"], "AWS::EC2::LaunchTemplate")
    assert "WorkerSecurityGroup" in json.dumps(template["Properties"]["LaunchTemplateData"]["SecurityGroupIds"])


def test_worker_group_scales_on_visible_messages_per_in_service_instance(template):
    t = template("scale-out", "app")
    metric = lambda id_, namespace, name: Match.object_like({  # noqa: E731
        "Id": id_, "ReturnData": False,
        "MetricStat": Match.object_like({"Metric": Match.object_like({"Namespace": namespace, "MetricName": name})}),
    })
    t.has_resource_properties("AWS::AutoScaling::ScalingPolicy", {
        "AutoScalingGroupName": {"Ref": Match.string_like_regexp("^WorkersGroup")},
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingConfiguration": {
            "TargetValue": SCALE_OUT.job_latency_target_seconds // SCALE_OUT.job_average_seconds,
            "CustomizedMetricSpecification": {"Metrics": [
                metric("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible"),
                metric("inService", "AWS/AutoScaling", "GroupInServiceInstances"),
                Match.object_like({"Id": "backlogPerInstance", "Expression": "visible / inService", "ReturnData": True}),
            ]},
        },
    })
    assert SCALE_OUT.worker_backlog_per_instance == 30  # 60 s acceptable latency / 2 s a job


def test_a_worker_host_drains_for_longer_than_the_visibility_timeout_before_it_goes(templates):
    (group_resource,) = _workers(templates["scale-out"]["app"], "AWS::AutoScaling::AutoScalingGroup")
    hooks = {h["LifecycleTransition"]: h for h in group_resource["Properties"]["LifecycleHookSpecificationList"]}
    drain = hooks["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert drain["LifecycleHookName"] == DRAIN_HOOK_NAME
    assert drain["HeartbeatTimeout"] > JOB_VISIBILITY_SECONDS
    assert drain["DefaultResult"] == "CONTINUE", "a host that cannot complete its hook still goes, after the wait"
    launch = hooks["autoscaling:EC2_INSTANCE_LAUNCHING"]
    assert launch["LifecycleHookName"] == WORKER_LAUNCH_HOOK_NAME and launch["DefaultResult"] == "ABANDON"


def test_too_few_worker_hosts_alarms_and_the_job_alarms_watch_the_scale_out_queue(templates):
    """The worker tier's counterpart of the app tier's TooFewHealthyHosts."""
    alarms = resources(templates["scale-out"]["observability"], "AWS::CloudWatch::Alarm")
    (too_few,) = [r["Properties"] for lid, r in alarms.items() if lid.startswith("TooFewWorkerHosts")]
    assert too_few["Threshold"] == SCALE_OUT.worker_min_instances
    assert too_few["ComparisonOperator"] == "LessThanThreshold" and too_few["TreatMissingData"] == "breaching"
    assert too_few["AlarmActions"], "it notifies the stage's topic"
    metric = json.dumps(too_few)
    assert '"GroupInServiceInstances"' in metric and '"AWS/AutoScaling"' in metric and "WorkersGroup" in metric
    dumped = {lid: json.dumps(r["Properties"]) for lid, r in alarms.items()}
    assert "JobQueue" in next(d for lid, d in dumped.items() if lid.startswith("JobsWaitTooLong"))
    assert "JobDeadLetterQueue" in next(d for lid, d in dumped.items() if lid.startswith("JobsDeadLettered"))
    for stage in ("starter", "small"):
        assert "GroupInServiceInstances" not in json.dumps(templates[stage]["observability"])
