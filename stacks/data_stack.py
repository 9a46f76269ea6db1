"""Data (stateful): the game's PostgreSQL database and the service's secrets.

Logical IDs here must never change (a changed ID is a new, empty database);
tests/stacks/test_stateful_ids.py pins them."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from patterns.game_database import GameDatabase
from patterns.nag import acknowledge
from stacks.config import StageConfig

GAME_DATABASE_NAME = "game"


class DataStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc,
        app_security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        worker_security_group: ec2.ISecurityGroup | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.database_security_group = ec2.SecurityGroup(
            self, "DatabaseSecurityGroup", vpc=vpc, description="Game database", allow_all_outbound=False
        )
        self.database_security_group.add_ingress_rule(
            app_security_group, ec2.Port.tcp(5432), "PostgreSQL from the app tier only"
        )
        if worker_security_group is not None:
            self.database_security_group.add_ingress_rule(
                worker_security_group, ec2.Port.tcp(5432), "PostgreSQL from the job workers"
            )
        self.database = GameDatabase(
            self,
            "Database",
            vpc=vpc,
            security_group=self.database_security_group,
            instance_identifier=f"{config.name}-game",
            postgres_version=config.postgres_version,
            instance_class=config.db_instance_class,
            multi_az=config.db_multi_az,
            allocated_storage_gib=config.db_allocated_storage_gib,
            max_allocated_storage_gib=config.db_max_allocated_storage_gib,
            backup_retention_days=config.db_backup_retention_days,
            backup_window=config.db_backup_window,
            maintenance_window=config.db_maintenance_window,
            deletion_protection=config.db_deletion_protection,
            log_retention_days=config.log_retention_days,
            secret_rotation_days=config.db_secret_rotation_days,
            performance_insights=config.db_performance_insights,
            enhanced_monitoring_seconds=config.db_enhanced_monitoring_seconds,
            database_name=GAME_DATABASE_NAME,
            encryption_key=key,
        )

        # The service's own secrets: the session-signing key (generated) and the
        # Facebook app id/secret (filled in by an operator when Facebook sign-in is wanted).
        self.app_secret = secretsmanager.Secret(
            self,
            "AppSecret",
            description=f"Game service secrets ({config.name}): session signing key, Facebook app",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"facebook_app_id": "", "facebook_app_secret": ""}),
                generate_string_key="session_secret",
                password_length=64,
                exclude_punctuation=True,
            ),
            encryption_key=key,
            # Production keeps it; a stage that can be torn down deletes it with the stack.
            removal_policy=RemovalPolicy.RETAIN if config.db_deletion_protection else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.app_secret,
            "AwsSolutions-SMG4",
            "Rotating the session-signing key signs every player out, and the Facebook app secret "
            "is rotated in Facebook's console; both are rotated by an operator, not on a schedule.",
        )

        # Fixed logical IDs: a moved construct or renamed id must never turn into a
        # new, empty database or new credentials (CloudFormation replaces a resource
        # whose logical ID changes). tests/stacks/test_stateful_ids.py pins them.
        _fix_logical_id(self.database.instance, "GameDatabase")
        _fix_logical_id(self.database.instance.node.find_child("Secret"), "GameDatabaseSecret")
        _fix_logical_id(self.app_secret, "GameAppSecret")

        CfnOutput(self, "DatabaseSecretName", value=self.database.secret.secret_name,
                  description="Secrets Manager secret with the database credentials")
        CfnOutput(self, "AppSecretName", value=self.app_secret.secret_name,
                  description="Secrets Manager secret with the service's session key and Facebook app settings")


def _fix_logical_id(construct, logical_id: str) -> None:
    construct.node.default_child.override_logical_id(logical_id)
