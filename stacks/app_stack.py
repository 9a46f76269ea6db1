"""App (stateless): the EC2 tier that runs the game service, in the stage's shape,
and the CloudFront edge in front of it.

The edge lives in this stack, beside its app origin, on purpose: the starter stage's
instance is replaced by every code or image change, and a CloudFront origin in
another stack would import its changing address through a CloudFormation export,
which CloudFormation refuses to change while it is imported ("export in use").
The edge is still its own pattern (patterns.game_distribution)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from game_service.contract import (
    ACCESS_LOG_SAMPLE_RATE, APP_DB_USER, JOB_MAX_RECEIVES, JOB_VISIBILITY_SECONDS, MEDIA_PREFIX, UPLOAD_PREFIX, Env,
)
from patterns.app_tier import ScalingAppTier, SingleInstanceAppTier
from patterns.game_distribution import GameDistribution
from patterns.game_service_host import HOST_NAMESPACE, READINESS_NAMESPACE, GameServiceHostArtifacts
from patterns.migration import DatabaseMigration
from patterns.nag import acknowledge
from patterns.retention import retention
from patterns.worker_tier import WorkerTier
from stacks.config import StageConfig
from stacks.data_stack import GAME_DATABASE_NAME
from stacks.network_stack import APP_PORT

STATIC_DIR = Path(__file__).resolve().parent.parent / "game_service" / "static"



class AppStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc,
        app_security_group: ec2.ISecurityGroup,
        load_balancer_security_group: ec2.ISecurityGroup,
        host_subnets: ec2.SubnetSelection,
        load_balancer_subnets: ec2.SubnetSelection,
        hosts_get_public_ips: bool,
        database: rds.DatabaseInstance,
        app_secret: secretsmanager.ISecret,
        media_bucket_arn: str,
        static_bucket_arn: str,
        logs_bucket: s3.IBucket,
        job_queue: sqs.IQueue,
        alarm_topic: sns.ITopic | None,
        key: kms.IKey,
        worker_security_group: ec2.ISecurityGroup | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        if config.has_worker_tier and worker_security_group is None:
            raise ValueError(f"{id_}: stage '{config.name}' has a worker tier: worker_security_group is required")
        # The stateful buckets come in by ARN (named exports of the storage stack),
        # as references this stack cannot attach policies to: nothing here writes
        # back into the storage stack.
        media_bucket = s3.Bucket.from_bucket_arn(self, "MediaBucket", media_bucket_arn)
        static_bucket = s3.Bucket.from_bucket_arn(self, "StaticBucket", static_bucket_arn)

        host = GameServiceHostArtifacts(self, "Host")
        assert database.secret is not None
        role = self._instance_role(host, app_secret, media_bucket_arn, config, key)
        # The service connects as its own role with IAM database authentication: a
        # short-lived token per connection, no password to rotate or leak. The master
        # secret is read only by the migrate step, which creates that role.
        database.grant_connect(role, APP_DB_USER)

        environment = {
            Env.ENV: "production",
            Env.DB_AUTH: "iam",
            Env.DB_USER: APP_DB_USER,
            Env.DB_HOST: database.db_instance_endpoint_address,
            Env.DB_PORT: database.db_instance_endpoint_port,
            Env.DB_NAME: GAME_DATABASE_NAME,
            Env.APP_SECRET_ID: app_secret.secret_arn,
            Env.MEDIA_BUCKET: media_bucket.bucket_name,
            "AWS_REGION": self.region,
            Env.BIND: "0.0.0.0",
            Env.PORT: str(APP_PORT),
            Env.WORKERS: str(config.workers_per_instance),
            Env.DB_POOL_SIZE: str(config.db_pool_size),
            Env.DB_MAX_OVERFLOW: str(config.db_max_overflow),
            # the service believes the viewer address CloudFront sets (CloudFront-Viewer-Address,
            # forwarded by the API behaviour's origin request policy) only from peers in the VPC:
            # the load balancer and CloudFront's VPC origin; the hosts accept nothing else
            Env.TRUSTED_PROXIES: config.vpc_cidr,
            # failures and slow requests always; 1% of the rest (docs/decisions.md, "Logs")
            Env.ACCESS_LOG_SAMPLE_RATE: str(ACCESS_LOG_SAMPLE_RATE),
            # the job queue: the service puts jobs on it, the worker beside it does them
            Env.JOB_QUEUE_URL: job_queue.queue_url,
            Env.JOB_VISIBILITY_SECONDS: str(JOB_VISIBILITY_SECONDS),
            Env.JOB_MAX_RECEIVES: str(JOB_MAX_RECEIVES),
        }
        job_queue.grant_send_messages(role)
        if not config.has_worker_tier:
            # the worker runs beside the server on these hosts; with a worker tier, only its
            # hosts consume (patterns/worker_tier.py) and these only send
            job_queue.grant_consume_messages(role)
        # Where players reach the site (the data-deletion status URL points there). The
        # distribution's own domain cannot be in the hosts' user data (the distribution
        # depends on the hosts through its origin), so the service reads it from a
        # parameter this stack writes once the distribution exists.
        public_url_parameter = f"/game/{config.name}/public-base-url"
        environment[Env.PUBLIC_BASE_URL_PARAMETER] = public_url_parameter
        if config.domain_name:
            environment[Env.PUBLIC_BASE_URL] = f"https://{config.domain_name}"
        # Likewise the distribution's id: a player's deleted media are invalidated there.
        cdn_parameter = f"/game/{config.name}/cdn-distribution-id"
        environment[Env.CDN_DISTRIBUTION_PARAMETER] = cdn_parameter
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheStacksParameters",
                actions=["ssm:GetParameter"],
                resources=[f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{name}"
                           for name in (public_url_parameter, cdn_parameter)],
            )
        )

        # The pinned image (stacks/config.py): a new Amazon Linux release reaches the
        # hosts only through a reviewed bump, then through the health-gated update path.
        machine_image = ec2.MachineImage.generic_linux({config.region: config.image_id})
        # The service's JSON logs and the bootstrap log, shipped by the CloudWatch agent.
        service_logs = logs.LogGroup(
            self,
            "ServiceLogs",
            log_group_name=f"/game/{config.name}/service",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
            encryption_key=key,
        )
        # The CloudWatch agent ships the service's and the bootstrap's log into this group only.
        service_logs.grant(role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
        # Each release's migration runs once, before any host of the release starts, on an
        # instance of its own: the only reader of the master secret (patterns/migration.py).
        self.migration = DatabaseMigration(
            self,
            "Migration",
            vpc=vpc,
            security_group=app_security_group,
            host=host,
            environment={**environment, Env.DB_ADMIN_SECRET_ID: database.secret.secret_arn},
            master_secret=database.secret,
            key=key,
            log_group=service_logs,
            stage=config.name,
            machine_image=machine_image,
            subnets=host_subnets,
            public_ip=hosts_get_public_ips,
        )
        common = dict(
            vpc=vpc,
            security_group=app_security_group,
            role=role,
            host=host,
            service_environment=environment,
            log_group_name=service_logs.log_group_name,
            stage=config.name,
            instance_type=config.instance_type,
            machine_image=machine_image,
            port=APP_PORT,
            workers=config.workers_per_instance,
            db_pool_size=config.db_pool_size,
            db_max_overflow=config.db_max_overflow,
        )
        if config.app_tier == "auto-scaling":
            self.tier: ScalingAppTier | SingleInstanceAppTier = ScalingAppTier(
                self,
                "Tier",
                load_balancer_security_group=load_balancer_security_group,
                min_instances=config.min_instances,
                max_instances=config.max_instances,
                target_cpu_percent=config.target_cpu_percent,
                access_logs_bucket=logs_bucket,
                host_subnets=host_subnets,
                load_balancer_subnets=load_balancer_subnets,
                public_ip=hosts_get_public_ips,
                alarm_topic=alarm_topic,
                job_worker_on_hosts=not config.has_worker_tier,
                **common,
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadOwnTargetHealthBeforeSignalling",
                    actions=["elasticloadbalancing:DescribeTargetHealth"],
                    resources=["*"],
                )
            )
        else:
            self.tier = SingleInstanceAppTier(self, "Tier", alarm_topic=alarm_topic,
                                              trend_alarms=config.trend_alarms, **common)
        self.tier.node.add_dependency(self.migration)  # a release's hosts start on its migrated schema
        self.workers: WorkerTier | None = None
        self.worker_role: iam.Role | None = None
        if config.has_worker_tier:
            assert worker_security_group is not None and isinstance(self.tier, ScalingAppTier)
            self.workers = self._worker_tier(
                config, host=host, database=database, app_secret=app_secret, media_bucket_arn=media_bucket_arn,
                key=key, job_queue=job_queue, environment=environment, service_logs=service_logs,
                machine_image=machine_image, vpc=vpc, security_group=worker_security_group,
                host_subnets=host_subnets, public_ip=hosts_get_public_ips,
                # one release reaches both tiers: a host of either that fails its boot fails the rollout
                rollout_alarms=self.tier.rollout_alarms[:1],
            )
            self.workers.node.add_dependency(self.migration)
        self.edge = GameDistribution(
            self,
            "Edge",
            api_origin=self.tier.vpc_origin,
            static_bucket=static_bucket,
            media_bucket=media_bucket,
            logs_bucket=logs_bucket,
            domain_name=config.domain_name,
            certificate_arn=config.certificate_arn,
            comment=f"Game ({config.name})",
        )
        # The web page, from game_service/static, published with the stack and the
        # CDN cache invalidated so players get the new page at once.
        self.static_content = s3_deployment.BucketDeployment(
            self,
            "StaticContent",
            sources=[s3_deployment.Source.asset(str(STATIC_DIR), exclude=[".gitkeep"])],
            destination_bucket=static_bucket,
            distribution=self.edge.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
            # Deploy-time logs, deleted with the stack (aws-cdk-lib's own group would be
            # retained under a fixed name and block a destroyed stage's next deploy).
            log_group=logs.LogGroup(
                self,
                "StaticContentDeployLogs",
                retention=retention(config.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
                encryption_key=key,
            ),
        )
        self._acknowledge_bucket_deployment_handler(config, static_bucket_arn_export=f"{config.name}-static-bucket-arn")
        ssm.StringParameter(
            self,
            "PublicBaseUrl",
            parameter_name=public_url_parameter,
            string_value=self.edge.site_url,
            description=f"Game ({config.name}): the public site URL, read by the service",
        )
        ssm.StringParameter(
            self,
            "CdnDistributionId",
            parameter_name=cdn_parameter,
            string_value=self.edge.distribution.distribution_id,
            description=f"Game ({config.name}): the CloudFront distribution's id, where the service invalidates deleted media",
        )
        # Its own policy, not the role's default one: the hosts depend on that (they boot with
        # it), and the distribution depends on the hosts (its origin), so naming the
        # distribution there would be a cycle.
        iam.Policy(
            self,
            "InvalidateDeletedMedia",
            # the worker tier's role too: a data deletion's job is theirs where they exist
            roles=[role] + ([self.worker_role] if self.worker_role else []),
            statements=[iam.PolicyStatement(
                actions=["cloudfront:CreateInvalidation"],
                resources=[f"arn:{self.partition}:cloudfront::{self.account}:distribution/"
                           f"{self.edge.distribution.distribution_id}"],
            )],
        )
        CfnOutput(self, "SiteUrl", value=self.edge.site_url, description="The game, for players")


    # What the worker needs of the app hosts' environment: the database, the app secret (the
    # service's settings refuse to start in production without its session secret), the media
    # bucket, the region and the queue. Not the HTTP server's settings nor the parameters
    # only requests read.
    _WORKER_ENV = (
        Env.ENV, Env.DB_AUTH, Env.DB_USER, Env.DB_HOST, Env.DB_PORT, Env.DB_NAME, Env.APP_SECRET_ID,
        Env.MEDIA_BUCKET, "AWS_REGION", Env.DB_POOL_SIZE, Env.DB_MAX_OVERFLOW,
        Env.JOB_QUEUE_URL, Env.JOB_VISIBILITY_SECONDS, Env.JOB_MAX_RECEIVES,
        Env.CDN_DISTRIBUTION_PARAMETER,  # a data deletion's job invalidates the player's media paths
    )

    def _worker_tier(
        self, config: StageConfig, *, host: GameServiceHostArtifacts, database: rds.DatabaseInstance,
        app_secret: secretsmanager.ISecret, media_bucket_arn: str, key: kms.IKey, job_queue: sqs.IQueue,
        environment: dict[str, str], service_logs: logs.LogGroup, machine_image: ec2.IMachineImage,
        vpc: ec2.IVpc, security_group: ec2.ISecurityGroup, host_subnets: ec2.SubnetSelection, public_ip: bool,
        rollout_alarms: list,
    ) -> WorkerTier:
        """The job worker's own hosts (scale-out) and their role: consume the queue (granted by
        the tier), read uploads and write avatars, remove a deleted player's media (every
        version) and invalidate their CDN paths, connect to the database as the app's user,
        ship their logs and metrics, Session Manager. No send, no load balancer."""
        role = self.worker_role = iam.Role(
            self,
            "WorkerRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Game job worker instances ({config.name}): least privilege",
        )
        self._agent_and_session_manager(role, namespaces=[HOST_NAMESPACE], extra_reason=(
            "; nor does autoscaling:DescribeAutoScalingInstances, with which a worker host finds the "
            "group whose hooks it completes."))
        self._app_secret(role, app_secret, key)
        # the same database user and IAM tokens as the app hosts (the worker writes the jobs table)
        database.grant_connect(role, APP_DB_USER)
        host.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadAndRemoveUploads",  # DeleteObjectVersion: a data deletion removes every version
                actions=["s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[f"{media_bucket_arn}/{UPLOAD_PREFIX}*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteAndRemoveAvatars",  # a new avatar's images, the replaced one's removed
                actions=["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[f"{media_bucket_arn}/{MEDIA_PREFIX}*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # without it, S3 answers a missing upload with 403 instead of 404, and the job
                # would retry an upload that is gone instead of telling the player
                sid="MissingUploadIsNotFound",  # ListBucketVersions: a data deletion lists every version
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[media_bucket_arn],
            )
        )
        # a data deletion's job: the distribution's id from the parameter this stack writes,
        # then an invalidation of the player's media paths there
        cdn_parameter = environment[Env.CDN_DISTRIBUTION_PARAMETER]
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheDistributionsId",
                actions=["ssm:GetParameter"],
                resources=[f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{cdn_parameter}"],
            )
        )
        export = f"{config.name}-media-bucket-arn"
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Players' uploads and avatars have keys the service chooses per player; the worker's role is "
            "limited to these two prefixes of the media bucket and to the object actions a job takes.",
            applies_to=[f"Resource::{export}/{UPLOAD_PREFIX}*", f"Resource::{export}/{MEDIA_PREFIX}*"],
        )
        service_logs.grant(role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")
        return WorkerTier(
            self,
            "Workers",
            vpc=vpc,
            security_group=security_group,
            role=role,
            host=host,
            service_environment={k: v for k, v in environment.items() if k in self._WORKER_ENV},
            log_group_name=service_logs.log_group_name,
            stage=config.name,
            instance_type=config.worker_instance_type,
            machine_image=machine_image,
            job_queue=job_queue,
            visibility_seconds=JOB_VISIBILITY_SECONDS,
            min_instances=config.worker_min_instances,
            max_instances=config.worker_max_instances,
            backlog_per_instance=config.worker_backlog_per_instance,
            host_subnets=host_subnets,
            public_ip=public_ip,
            rollout_alarms=rollout_alarms,
        )

    def _agent_and_session_manager(self, role: iam.Role, *, namespaces: list[str], extra_reason: str) -> None:
        # What AWS's managed policies for the two agents would give, cut to what the hosts use:
        # AmazonSSMManagedInstanceCore also reads every SSM parameter of the account, and
        # CloudWatchAgentServerPolicy every AmazonCloudWatch-* one (the agent's config here is
        # a file), creates log groups and writes to any.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SessionManager",  # instead of SSH: the agent's channel, nothing of Run Command
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
                ],
                resources=["*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="HostMetrics",  # the agent's memory and disk metrics, the readiness timer's
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": namespaces}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AgentFindsItsGroup",  # the agent reads the instance's tags for its group's name
                actions=["ec2:DescribeTags"],
                resources=["*"],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Session Manager's channel actions, cloudwatch:PutMetricData (held to the game's "
            "namespaces by a condition) and ec2:DescribeTags support no resource-level permissions"
            + extra_reason,
            applies_to=["Resource::*"],
        )

    def _app_secret(self, role: iam.Role, app_secret: secretsmanager.ISecret, key: kms.IKey) -> None:
        # The secret by ARN: granting on the secret object would also write this role into
        # the stage key's policy, in the foundation stack (a dependency cycle). The role reads
        # it, and decrypts with the stage key only through Secrets Manager. The app secret
        # only: the hosts connect as the app's own database user with IAM tokens, and never
        # read the master secret (the migration does: patterns/migration.py).
        secretsmanager.Secret.from_secret_complete_arn(
            self, f"AppSecretRef{'' if role.node.id == 'InstanceRole' else role.node.id}", app_secret.secret_arn
        ).grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptSecretsThroughSecretsManager",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}},
            )
        )

    def _instance_role(
        self,
        host: GameServiceHostArtifacts,
        app_secret: secretsmanager.ISecret,
        media_bucket_arn: str,
        config: StageConfig,
        key: kms.IKey,
    ) -> iam.Role:
        role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Game service instances ({config.name}): least privilege",
        )
        self._agent_and_session_manager(role, namespaces=[HOST_NAMESPACE, READINESS_NAMESPACE], extra_reason=(
            "; nor do elasticloadbalancing:DescribeTargetHealth, with which an instance reads its "
            "own health before signalling CloudFormation, and autoscaling:DescribeAutoScalingInstances, "
            "with which it finds the group whose launch hook it completes."
            if config.app_tier == "auto-scaling" else "."))
        self._app_secret(role, app_secret, key)
        host.grant_read(role)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="MediaUploadsAndVerifiedMedia",
                # DeleteObjectVersion: a player's data deletion removes every version
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
                resources=[f"{media_bucket_arn}/{UPLOAD_PREFIX}*", f"{media_bucket_arn}/{MEDIA_PREFIX}*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                # The readiness check (HeadBucket) and a player's data deletion (listing
                # their prefixes) need it; keys are the only thing it reveals.
                sid="ListMediaBucket",
                actions=["s3:ListBucket", "s3:ListBucketVersions"],
                resources=[media_bucket_arn],
            )
        )
        export = f"{config.name}-media-bucket-arn"
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Players' uploads and verified media have keys the service chooses per player; the "
            "role is limited to these two prefixes of the media bucket and to object actions.",
            applies_to=[f"Resource::{export}/{UPLOAD_PREFIX}*", f"Resource::{export}/{MEDIA_PREFIX}*"],
        )
        return role

    def _acknowledge_bucket_deployment_handler(self, config: StageConfig, *, static_bucket_arn_export: str) -> None:
        # BucketDeployment's handler is a singleton Lambda at stack level, created and
        # granted by aws-cdk-lib; its findings are acknowledged on it, one by one.
        handlers = [c for c in self.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        assets = f"arn:{self.partition}:s3:::cdk-hnb659fds-assets-{config.account}-{config.region}/*"
        for handler in handlers:
            acknowledge(
                handler,
                "AwsSolutions-IAM4",
                "aws-cdk-lib's BucketDeployment handler logs through the AWS-managed basic "
                "execution policy; it runs only during deploys.",
                applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
            )
            acknowledge(
                handler,
                "AwsSolutions-IAM5",
                "aws-cdk-lib's BucketDeployment grants: read the CDK asset bucket, replace the "
                "static bucket's objects, invalidate the distribution (CloudFront invalidations "
                "have no resource-level permissions).",
                applies_to=[
                    "Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*",
                    "Action::s3:DeleteObject*", "Action::s3:Abort*",
                    f"Resource::{assets}", f"Resource::{static_bucket_arn_export}/*", "Resource::*",
                ],
            )
            acknowledge(
                handler,
                "AwsSolutions-L1",
                "The runtime of BucketDeployment's handler is chosen by aws-cdk-lib (pinned in "
                "requirements.txt); upgrading aws-cdk-lib moves it forward.",
            )
