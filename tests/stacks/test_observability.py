"""Observability: alarms to an SNS topic whose subscribers come from config; the trend alarms
and the dashboard where the stage keeps them."""

from __future__ import annotations

import json
import re

import pytest

from stacks.config import STAGES
from tests.stacks.helpers import only, props, resources


@pytest.mark.parametrize("stage", [name for name, config in STAGES.items() if config.dashboard])
def test_dashboard_covers_app_database_and_cdn(templates, stage):
    body = json.dumps(only(templates[stage]["observability"], "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace", "5xxErrorRate", "Requests"):
        assert metric in body, metric
    if STAGES[stage].is_distributed:
        for metric in ("RequestCount", "TargetResponseTime", "HTTPCode_Target_5XX_Count", "HealthyHostCount"):
            assert metric in body, metric


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_alarms_notify_the_topic(templates, stage):
    alarms = [a for name in ("observability", "app") for a in props(templates[stage][name], "AWS::CloudWatch::Alarm")]
    notifying = [a for a in alarms if "AlarmTopic" in json.dumps(a.get("AlarmActions"))]
    assert len(notifying) >= 5
    assert all(a["AlarmDescription"] for a in notifying)
    (topic,) = props(templates[stage]["foundation"], "AWS::SNS::Topic")
    assert "AlarmTopicArn" in templates[stage]["foundation"]["Outputs"]
    metrics = {_metric_name(a) for a in notifying}
    assert {"StatusCheckFailed" if stage == "starter" else "UnHealthyHostCount", "FreeStorageSpace", "Ready",
            "5xxErrorRate", "disk_used_percent"} <= metrics
    assert ("CPUUtilization" in metrics) == STAGES[stage].trend_alarms
    (ready,) = [a for a in notifying if _metric_name(a) == "Ready"]
    assert ready["ComparisonOperator"] == "LessThanThreshold" and ready["TreatMissingData"] == "breaching"
    if STAGES[stage].is_distributed:
        assert {"HTTPCode_Target_5XX_Count", "TargetResponseTime", "UnHealthyHostCount", "HealthyHostCount"} <= metrics


def test_starter_instance_alarms_live_with_the_instance_they_watch(synth_config):
    """The instance is replaced by a code or image change; only alarms in its own stack
    follow it (another stack's template would not change and would keep the old id)."""
    variant = synth_config("starter", dashboard=True, trend_alarms=True)
    app, obs = variant["app"], variant["observability"]
    instance_id = next(lid for lid, r in app["Resources"].items() if r["Type"] == "AWS::EC2::Instance"
                       and lid.startswith("Tier"))
    watching = [a for a in props(app, "AWS::CloudWatch::Alarm") if "AlarmTopic" in json.dumps(a.get("AlarmActions"))]
    assert {_metric_name(a) for a in watching} == {"StatusCheckFailed", "CPUUtilization", "disk_used_percent"}
    for alarm in watching:
        assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": {"Ref": instance_id}}]
        assert alarm["AlarmName"].startswith("game-starter-app-")
    assert '"InstanceId"' not in json.dumps(obs), "nothing in the observability stack names the instance"
    body = json.dumps(only(obs, "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for alarm in watching:
        assert f"alarm:{alarm['AlarmName']}" in body, "the dashboard shows the instance's alarms by name"


def test_every_cloudfront_metric_carries_region_global(templates):
    """CloudFront publishes its metrics with DistributionId and Region=Global (us-east-1);
    an alarm or graph without Region=Global matches no data and never fires."""
    seen = 0
    for stage, stacks in templates.items():
        for stack, template in stacks.items():
            for alarm in props(template, "AWS::CloudWatch::Alarm"):
                stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
                for metric in [*stats, alarm]:
                    if metric.get("Namespace") == "AWS/CloudFront":
                        seen += 1
                        names = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                        assert names.get("Region") == "Global" and "DistributionId" in names, (stage, stack)
            for dashboard in props(template, "AWS::CloudWatch::Dashboard"):
                body = dashboard["DashboardBody"]
                parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
                text = "".join(p if isinstance(p, str) else "<token>" for p in parts)
                for line in re.findall(r'\["AWS/CloudFront",[^\]]*\]', text):
                    seen += 1
                    assert '"Region","Global"' in line, (stage, stack, line)
    assert seen >= 6, "the CDN is alarmed on and graphed in every stage"


def test_subscribers_come_from_config(synth_config):
    variant = synth_config("starter", alarm_emails=("ops@example.com", "oncall@example.com"))
    subscriptions = props(variant["foundation"], "AWS::SNS::Subscription")
    assert sorted(s["Endpoint"] for s in subscriptions) == ["oncall@example.com", "ops@example.com"]
    assert all(s["Protocol"] == "email" for s in subscriptions)


def test_monitoring_none_is_an_explicit_choice_without_alarms(synth_config):
    variant = synth_config("starter", monitoring="none")
    obs = variant["observability"]
    assert props(obs, "AWS::CloudWatch::Alarm") == [] and props(variant["foundation"], "AWS::SNS::Topic") == []
    notifying = [a for a in props(variant["app"], "AWS::CloudWatch::Alarm") if a.get("AlarmName")]
    assert notifying == [], "only the EC2 recover/reboot actions remain"
    assert len(props(obs, "AWS::CloudWatch::Dashboard")) == 1


def _metric_name(alarm: dict) -> str:
    if "MetricName" in alarm:
        return alarm["MetricName"]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    return stat["Metric"]["MetricName"]


@pytest.mark.parametrize("stage", [name for name, config in STAGES.items() if config.trend_alarms])
def test_database_alarms_on_what_actually_fails(templates, stage):
    """Memory, connections against max_connections, storage against the autoscaling ceiling,
    and CPU credits where the class is burstable."""
    from stacks.config import DB_INSTANCE_CLASSES, STAGES, db_max_connections

    config = STAGES[stage]
    db_class = DB_INSTANCE_CLASSES[config.db_instance_class]
    alarms = {_metric_name(a): a for a in props(templates[stage]["observability"], "AWS::CloudWatch::Alarm")}
    assert alarms["FreeableMemory"]["Threshold"] == db_class.memory_gib * 1024**3 * 0.1
    assert alarms["FreeableMemory"]["ComparisonOperator"] == "LessThanThreshold"
    assert alarms["DatabaseConnections"]["Threshold"] == int(db_max_connections(config.db_instance_class) * 0.8)
    assert alarms["FreeStorageSpace"]["Threshold"] == config.db_max_allocated_storage_gib * 1024**3 * 0.1
    if db_class.max_cpu_credits is not None:  # a burstable class (db.t4g)
        assert alarms["CPUCreditBalance"]["Threshold"] == db_class.max_cpu_credits * 0.1
    else:
        assert "CPUCreditBalance" not in alarms


@pytest.mark.parametrize(("stage", "stack", "dimension"), [("starter", "app", "InstanceId"),
                                                           ("small", "observability", "AutoScalingGroupName"),
                                                           ("scale-out", "observability", "AutoScalingGroupName")])
def test_a_filling_root_disk_pages_someone(templates, stage, stack, dimension):
    (disk,) = [a for a in props(templates[stage][stack], "AWS::CloudWatch::Alarm") if _metric_name(a) == "disk_used_percent"]
    if "Metrics" in disk:  # a cross-stack dimension: CDK writes the metric as a query
        (stat,) = [m["MetricStat"] for m in disk["Metrics"] if "MetricStat" in m]
        namespace, statistic, dimensions = stat["Metric"]["Namespace"], stat["Stat"], stat["Metric"]["Dimensions"]
    else:
        namespace, statistic, dimensions = disk["Namespace"], disk["Statistic"], disk["Dimensions"]
    assert (namespace, statistic, disk["Threshold"]) == ("Game/Host", "Maximum", 85)
    assert [d["Name"] for d in dimensions] == [dimension]
    assert "AlarmTopic" in json.dumps(disk["AlarmActions"])


def test_the_starter_pages_on_outages_only_and_has_no_dashboard(templates):
    """A small game's bill has no $3 dashboard and no alarm a person would only read on a graph;
    what pages stays: the instance failing, its disk or the database's storage filling up, the
    service not ready, the CDN failing players, jobs failing for good or waiting too long."""
    starter = templates["starter"]
    assert resources(starter["observability"], "AWS::CloudWatch::Dashboard") == {}
    paging = {_metric_name(a) for name in ("observability", "app")
              for a in props(starter[name], "AWS::CloudWatch::Alarm") if "AlarmTopic" in json.dumps(a.get("AlarmActions"))}
    assert paging == {"StatusCheckFailed", "disk_used_percent", "Ready", "FreeStorageSpace", "5xxErrorRate",
                      "ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_a_job_in_the_dead_letter_queue_or_a_job_waiting_five_minutes_pages_someone(templates, stage):
    alarms = {_metric_name(a): a for a in props(templates[stage]["observability"], "AWS::CloudWatch::Alarm")}
    dead, waiting = alarms["ApproximateNumberOfMessagesVisible"], alarms["ApproximateAgeOfOldestMessage"]
    assert "JobDeadLetterQueue" in json.dumps(dead) and (dead["Threshold"], dead["EvaluationPeriods"]) == (1, 1)
    assert "JobQueue" in json.dumps(waiting) and "JobDeadLetterQueue" not in json.dumps(waiting)
    assert (waiting["Threshold"], waiting["EvaluationPeriods"]) == (300, 5)
    for alarm in (dead, waiting):
        assert "AlarmTopic" in json.dumps(alarm["AlarmActions"]) and "AlarmTopic" in json.dumps(alarm["OKActions"])

