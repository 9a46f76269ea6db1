"""Foundation: what every other stack of a stage uses and nothing of theirs owns.

The alarm topic lives here, first in the deploy order, so that each stack can keep its
alarms beside what they watch (the starter's instance alarms in the app stack, where the
instance is replaced) and still notify the stage's subscribers."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from patterns.nag import acknowledge
from stacks.config import StageConfig


class FoundationStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self.alarm_topic: sns.Topic | None = None
        if config.monitoring == "alarms":
            self.alarm_topic = sns.Topic(
                self, "AlarmTopic", display_name=f"Game alarms ({config.name})", enforce_ssl=True
            )
            acknowledge(
                self.alarm_topic,
                "AwsSolutions-SNS2",
                "Alarm notifications carry metric names and thresholds, nothing sensitive; "
                "CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a "
                "customer-managed key for this alone is not worth its cost.",
            )
            for email in config.alarm_emails:
                self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email))
            CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn, description="Subscribe here for alarms")
