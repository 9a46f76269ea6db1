"""Foundation: what every other stack of a stage uses and nothing of theirs owns.

* The stage's customer-managed KMS key: it encrypts the log groups and the secrets, so the
  stage's owner (not AWS's default key) decides who can read them, and CloudTrail records
  every use. About $1 a month plus requests.
* The alarm topic, first in the deploy order, so that each stack can keep its alarms beside
  what they watch (the starter's instance alarms in the app stack, where the instance is
  replaced) and still notify the stage's subscribers."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from patterns.nag import acknowledge
from stacks.config import StageConfig


class FoundationStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        production = config.db_deletion_protection
        self.key = kms.Key(
            self,
            "StageKey",
            alias=f"alias/game-{config.name}",
            description=f"Game ({config.name}): log groups and secrets",
            enable_key_rotation=True,
            # A non-production stage can be torn down and deployed again; its key then
            # waits the shortest deletion window. Production keeps its key.
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
            pending_window=Duration.days(30 if production else 7),
        )
        # CloudWatch Logs encrypts this account's log groups of the stage's region with it.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:*"
                    }
                },
            )
        )
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
