"""Observability: a dashboard always; alarms to an SNS topic whose subscribers come from config."""

from __future__ import annotations

import json

import pytest

from tests.stacks.helpers import only, props


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_dashboard_covers_app_database_and_cdn(templates, stage):
    body = json.dumps(only(templates[stage]["observability"], "AWS::CloudWatch::Dashboard")["DashboardBody"])
    for metric in ("CPUUtilization", "DatabaseConnections", "FreeStorageSpace", "5xxErrorRate", "Requests"):
        assert metric in body, metric
    if stage == "scale-out":
        for metric in ("RequestCount", "TargetResponseTime", "HTTPCode_Target_5XX_Count", "HealthyHostCount"):
            assert metric in body, metric


@pytest.mark.parametrize("stage", ["starter", "scale-out"])
def test_alarms_notify_the_topic(templates, stage):
    obs = templates[stage]["observability"]
    alarms = props(obs, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4
    for alarm in alarms:
        assert "AlarmTopic" in json.dumps(alarm["AlarmActions"]) and alarm["AlarmDescription"]
    (topic,) = props(obs, "AWS::SNS::Topic")
    assert "AlarmTopicArn" in templates[stage]["observability"]["Outputs"]
    metrics = {_metric_name(a) for a in alarms}
    assert {"CPUUtilization", "FreeStorageSpace", "Ready", "5xxErrorRate"} <= metrics
    (ready,) = [a for a in alarms if _metric_name(a) == "Ready"]
    assert ready["ComparisonOperator"] == "LessThanThreshold" and ready["TreatMissingData"] == "breaching"
    if stage == "scale-out":
        assert {"HTTPCode_Target_5XX_Count", "TargetResponseTime", "UnHealthyHostCount", "HealthyHostCount"} <= metrics


def test_subscribers_come_from_config(synth_config):
    variant = synth_config("starter", alarm_emails=("ops@example.com", "oncall@example.com"))
    subscriptions = props(variant["observability"], "AWS::SNS::Subscription")
    assert sorted(s["Endpoint"] for s in subscriptions) == ["oncall@example.com", "ops@example.com"]
    assert all(s["Protocol"] == "email" for s in subscriptions)


def test_monitoring_none_is_an_explicit_choice_without_alarms(synth_config):
    variant = synth_config("starter", monitoring="none")
    obs = variant["observability"]
    assert props(obs, "AWS::CloudWatch::Alarm") == [] and props(obs, "AWS::SNS::Topic") == []
    assert len(props(obs, "AWS::CloudWatch::Dashboard")) == 1


def _metric_name(alarm: dict) -> str:
    if "MetricName" in alarm:
        return alarm["MetricName"]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m]
    return stat["Metric"]["MetricName"]
