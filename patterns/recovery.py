"""EC2 auto recovery for a lone instance: what heals it without a group around it."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct


def auto_recovery(scope: Construct, *, instance_id: str, what: str) -> None:
    """EC2 auto recovery moves the instance to new hardware when its host fails (same id,
    addresses and volumes); a failed instance check reboots it. Free, unlike a group of one
    behind a load balancer. Two alarms in ``scope``: SystemCheckAlarm, InstanceCheckAlarm."""
    region = Stack.of(scope).region
    for metric_name, action, description in (
        ("StatusCheckFailed_System", cw_actions.Ec2InstanceAction.RECOVER, "its host failed: recover it"),
        ("StatusCheckFailed_Instance", cw_actions.Ec2InstanceAction.REBOOT, "its own check failed: reboot it"),
    ):
        alarm = cloudwatch.Alarm(
            scope,
            metric_name.replace("StatusCheckFailed_", "") + "CheckAlarm",
            alarm_description=f"{what}: {description}",
            metric=cloudwatch.Metric(
                namespace="AWS/EC2",
                metric_name=metric_name,
                dimensions_map={"InstanceId": instance_id},
                statistic="Maximum",
                period=Duration.minutes(1),
                region=region,
            ),
            threshold=1,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        )
        alarm.add_alarm_action(cw_actions.Ec2Action(action))
