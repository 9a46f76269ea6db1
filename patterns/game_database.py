"""RDS PostgreSQL for the game: isolated, encrypted, SSL-only, backed up, logged."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from patterns.nag import acknowledge
from patterns.retention import retention

STATEMENT_TIMEOUT_MS = 30_000
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


class GameDatabase(Construct):
    """A PostgreSQL instance that is safe by default.

    Pinned engine minor version with automatic minor upgrades off (so a deploy never
    meets an AWS-upgraded engine as a refused downgrade), isolated subnets, the
    given security group only, generated credentials in Secrets Manager, storage
    encrypted, ``rds.force_ssl=1``, logs exported to CloudWatch with a retention,
    snapshot on delete. Multi-AZ, deletion protection, rotation and Performance
    Insights are per-stage choices.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        instance_identifier: str,
        postgres_version: str,
        instance_class: str,
        multi_az: bool,
        allocated_storage_gib: int,
        max_allocated_storage_gib: int,
        backup_retention_days: int,
        backup_window: str,
        maintenance_window: str,
        deletion_protection: bool,
        log_retention_days: int,
        secret_rotation_days: int | None = None,
        performance_insights: bool = False,
        enhanced_monitoring_seconds: int = 0,
        database_name: str = "game",
        username: str = "game",
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id_)
        major = postgres_version.split(".")[0]
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(postgres_version, major)
        )
        self.parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description=f"Game database, PostgreSQL {major}: SSL only, slow statements logged",
            parameters={
                "rds.force_ssl": "1",
                "log_min_duration_statement": "1000",
                "log_connections": "1",
                "log_disconnections": "1",
                # A stuck client cannot hold locks for ever: no request of the game runs near
                # 30 s, and a transaction left idle is ended after a minute (its locks freed).
                # The migration step sets its own, longer bounds (game_service/migrate.py).
                "statement_timeout": str(STATEMENT_TIMEOUT_MS),
                "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_TIMEOUT_MS),
            },
        )

        # RDS creates these log groups on first export with no retention; creating
        # them first (no Lambda custom resource needed) gives them one. They carry the
        # instance's name, so a stage that can be torn down deletes them with it (a
        # retained one would make the next deploy fail: "already exists").
        log_groups = [
            logs.LogGroup(
                self,
                f"{kind.capitalize()}Logs",
                log_group_name=f"/aws/rds/instance/{instance_identifier}/{kind}",
                retention=retention(log_retention_days),
                removal_policy=RemovalPolicy.RETAIN if deletion_protection else RemovalPolicy.DESTROY,
                encryption_key=encryption_key,
            )
            for kind in ("postgresql", "upgrade")
        ]

        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_identifier=instance_identifier,
            instance_type=ec2.InstanceType(instance_class),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            credentials=rds.Credentials.from_generated_secret(username, encryption_key=encryption_key),
            database_name=database_name,
            parameter_group=self.parameter_group,
            multi_az=multi_az,
            storage_type=rds.StorageType.GP3,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=max_allocated_storage_gib,
            storage_encrypted=True,
            backup_retention=Duration.days(backup_retention_days),
            preferred_backup_window=backup_window,
            preferred_maintenance_window=maintenance_window,
            copy_tags_to_snapshot=True,
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.SNAPSHOT,
            auto_minor_version_upgrade=False,
            # A major bump in the stage config (a reviewed change) must be allowed to apply;
            # without this RDS refuses the deploy's upgrade.
            allow_major_version_upgrade=True,
            publicly_accessible=False,
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            enable_performance_insights=performance_insights,
            monitoring_interval=Duration.seconds(enhanced_monitoring_seconds) if enhanced_monitoring_seconds else None,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            # The app connects as its own role with IAM tokens; the master user is for migrations.
            iam_authentication=True,
        )
        for group in log_groups:
            self.instance.node.add_dependency(group)

        self.secret = self.instance.secret
        assert self.secret is not None
        if deletion_protection:
            # Production keeps the master credentials when its stack is deleted: the final
            # snapshot restores a database that only this password opens. (Rotation also
            # puts a policy on the secret that denies its deletion to the whole account, so
            # CloudFormation could not delete it anyway: the stack's deletion would fail.)
            self.instance.node.find_child("Secret").apply_removal_policy(RemovalPolicy.RETAIN)

        if secret_rotation_days is not None:
            self.rotation = self.instance.add_rotation_single_user(
                automatically_after=Duration.days(secret_rotation_days),
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            )
            # The rotation Lambda comes from AWS's Serverless Application Repository under a
            # name CDK chooses; Lambda would create its log group, without a retention, on the
            # first rotation (which runs as soon as the schedule exists): created here first.
            application = self.rotation.node.find_child("Resource")
            function_name = application.parameters["functionName"]
            rotation_logs = logs.LogGroup(
                self, "RotationLogs", log_group_name=f"/aws/lambda/{function_name}",
                retention=retention(log_retention_days), removal_policy=RemovalPolicy.DESTROY,
                encryption_key=encryption_key,
            )
            application.node.add_dependency(rotation_logs)
        else:
            acknowledge(
                self.instance,
                "AwsSolutions-SMG4",
                "Rotation is off in this stage to keep it free of a rotation Lambda; the stage "
                "config key db_secret_rotation_days turns it on (the scale-out stage rotates).",
            )
        if enhanced_monitoring_seconds:
            acknowledge(
                self.instance,
                "AwsSolutions-IAM4",
                "RDS enhanced monitoring's role needs exactly AWS's AmazonRDSEnhancedMonitoringRole "
                "(publish OS metrics to CloudWatch Logs); AWS keeps it current.",
                applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"],
            )
        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            "The default PostgreSQL port is kept: the database sits in isolated subnets and "
            "accepts only the app tier's security group, so a non-default port adds nothing.",
        )
        if not multi_az:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS3",
                "Single-AZ by design in this stage (the classic, cheap setup); the report names "
                "it as a single point of failure and the scale-out stage is Multi-AZ.",
            )
        if not deletion_protection:
            acknowledge(
                self.instance,
                "AwsSolutions-RDS10",
                "Deletion protection is off so this non-production stage can be torn down; the "
                "removal policy still takes a final snapshot.",
            )
