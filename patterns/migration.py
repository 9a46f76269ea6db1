"""Each release's database migration, run once, by an instance of its own.

The hosts never migrate and never see the master credentials: a one-shot instance boots from
the same bootstrap, wheelhouse and service bundle (``host/bootstrap.sh --role migrate``), runs
``python -m game_service migrate`` (which also keeps the app's own database role and its
grants), signals CloudFormation with the result and shuts itself down (it terminates). Its
logical ID carries a hash of its user data, which names the release's bundle: every release
gets a new one, which migrates before the app tier is touched (the tier depends on it); a
release whose migration fails rolls back before any host runs it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from patterns.game_service_host import GameServiceHostArtifacts
from patterns.nag import acknowledge

MIGRATION_INSTANCE_TYPE = "t4g.micro"
# Its whole boot at worst (fetch, packages, install, the migration's own 300 s) is about
# 15 minutes (tests/host/test_boot_budget.py adds it up).
MIGRATION_SIGNAL_TIMEOUT_MINUTES = 20


class DatabaseMigration(Construct):
    """A one-shot instance that migrates the database for this release (module docstring)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        host: GameServiceHostArtifacts,
        environment: Mapping[str, str],
        master_secret: secretsmanager.ISecret,
        key: kms.IKey,
        log_group: logs.ILogGroup,
        stage: str,
        machine_image: ec2.IMachineImage,
        subnets: ec2.SubnetSelection,
        public_ip: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        region = Stack.of(self).region
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Game ({stage}): the release's database migration; the only reader of the master secret",
        )
        # The secret by ARN, and decryption only through Secrets Manager, as for the hosts.
        secretsmanager.Secret.from_secret_complete_arn(self, "MasterSecret", master_secret.secret_arn).grant_read(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptTheMasterSecretThroughSecretsManager",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            )
        )
        host.grant_read(self.role)
        log_group.grant(self.role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
        user_data = host.user_data(
            environment=environment, region=region, log_group_name=log_group.log_group_name, stage=stage,
            role="migrate",
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            associate_public_ip_address=True if public_ip else None,  # its egress where there is no NAT
            instance_type=ec2.InstanceType(MIGRATION_INSTANCE_TYPE),
            machine_image=machine_image,
            role=self.role,
            security_group=security_group,
            user_data=user_data,
            user_data_causes_replacement=True,  # a new one per release
            require_imdsv2=True,
            instance_initiated_shutdown_behavior=ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
            block_devices=[ec2.BlockDevice(
                device_name="/dev/xvda",
                volume=ec2.BlockDeviceVolume.ebs(8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
            )],
            resource_signal_timeout=Duration.minutes(MIGRATION_SIGNAL_TIMEOUT_MINUTES),
        )
        user_data.add_signal_on_exit_command(self.instance)
        self.instance.instance.add_property_deletion_override("AvailabilityZone")
        # The topology report: it serves nothing and runs minutes per release.
        self.instance.instance.add_metadata("TopologyReport", {
            "AcceptedSinglePointOfFailure": "the release's one-shot database migration: it serves no traffic "
            "and terminates itself once done; a failure fails the deploy, which rolls back",
        })
        acknowledge(
            self.instance,
            "AwsSolutions-EC28",
            "A one-shot instance that runs minutes per release: its log goes to CloudWatch Logs, and "
            "basic monitoring covers its lifetime.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "It terminates itself once the release is migrated; termination protection would keep it.",
        )
        acknowledge(
            self.instance,
            "CloudFormation-Validate::W9010",
            "The AMI is pinned on purpose (stacks/config.py), as for the hosts.",
        )
