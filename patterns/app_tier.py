"""The EC2 application tier in its two shapes, each exposing a CloudFront VPC origin.

* ``SingleInstanceAppTier``: one instance, healed by EC2 auto recovery (the classic setup).
* ``ScalingAppTier``: an Auto Scaling group over a subnet per AZ (private ones behind NAT, or
  public ones where each host has its own address, for egress only) behind an internal
  Application Load Balancer, target-tracking scaling, rollouts (instance
  refreshes) that launch before they terminate and count a host once it serves.

Neither is reachable from the internet: CloudFront reaches them through a VPC origin
(ENIs inside the VPC). The VPC origin lives here, with its target, so that replacing
an instance updates the origin in place instead of changing a cross-stack export.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from game_service.contract import DB_LISTENERS_PER_WORKER, JOB_WORKER_DB_CONNECTIONS, LIVENESS_PATH, Env
from patterns.game_service_host import (
    BOOT_FAILED_METRIC,
    DISK_ALARM_PERCENT,
    DISK_USED_METRIC,
    HOST_NAMESPACE,
    GameServiceHostArtifacts,
)
from patterns.nag import acknowledge
from patterns.recovery import auto_recovery

# A host signals once it serves, or fails with its reason; its worst case (every step of the
# bootstrap at its budget) is under the signal timeout, and its time to liveness under the
# health-check grace, so a slow host is never replaced mid-boot (tests/host/test_boot_budget.py).
SIGNAL_TIMEOUT_MINUTES = 25
HEALTH_CHECK_GRACE_MINUTES = 18
# A scale-out host launches held in Pending:Wait by this hook and enters service (and its
# target group) only when its bootstrap completes the hook: CONTINUE once it serves, ABANDON
# (the group terminates it) when it fails; one that says nothing is abandoned after the
# signal timeout.
LAUNCH_HOOK_NAME = "host-serves"
# A rollout launches before it terminates: never fewer healthy hosts in service than the
# group's desired capacity (even at its max size), at most a quarter more while it rolls.
ROLLOUT_MIN_HEALTHY_PERCENT = 100
ROLLOUT_MAX_HEALTHY_PERCENT = 125


def host_launch_template(
    scope: Construct, id_: str, *, instance_type: str, machine_image: ec2.IMachineImage, role: iam.IRole,
    security_group: ec2.ISecurityGroup, user_data: ec2.UserData, public_ip: bool,
) -> ec2.LaunchTemplate:
    """The launch template of a group of service hosts (the app tier's and the worker tier's).
    ``public_ip``: in public subnets (no NAT), the host's own address, for egress only; its
    security group admits nothing it does not serve."""
    return ec2.LaunchTemplate(
        scope,
        id_,
        **service_host(instance_type=instance_type, machine_image=machine_image, role=role,
                       security_group=security_group, user_data=user_data),
        associate_public_ip_address=True if public_ip else None,
    )


def service_host(*, instance_type: str, machine_image: ec2.IMachineImage, role: iam.IRole,
                 security_group: ec2.ISecurityGroup, user_data: ec2.UserData) -> dict:
    """What every service host is, whether an instance (the starter's) or a launch template's
    (a group's): IMDSv2 only, detailed monitoring, an encrypted 20 GiB gp3 root volume. The
    properties both constructs take under the same names."""
    return dict(
        instance_type=ec2.InstanceType(instance_type),
        machine_image=machine_image,
        role=role,
        security_group=security_group,
        user_data=user_data,
        require_imdsv2=True,
        detailed_monitoring=True,
        block_devices=[ec2.BlockDevice(
            device_name="/dev/xvda",
            volume=ec2.BlockDeviceVolume.ebs(20, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3),
        )],
    )


def service_metadata(resource: ec2.CfnInstance | ec2.CfnLaunchTemplate, *, workers: int, pool: int, overflow: int,
                      access_log_sample_rate: float, job_worker: bool) -> None:
    # Read by the topology report: the connection budget of one instance (each server
    # process's pool, overflow and live-updates listener, and the job worker's pool when it
    # runs beside the server), and the share of requests whose access line it ships to
    # CloudWatch Logs (priced).
    resource.add_metadata(
        "GameService",
        {"WorkersPerInstance": workers, "DbPoolSizePerWorker": pool, "DbMaxOverflowPerWorker": overflow,
         "DbListenersPerWorker": DB_LISTENERS_PER_WORKER, "AccessLogSampleRate": access_log_sample_rate,
         **({"JobWorkerDbConnections": JOB_WORKER_DB_CONNECTIONS} if job_worker else {})},
    )


def job_worker_metadata(resource: ec2.CfnLaunchTemplate) -> None:
    """A worker tier's hosts, for the topology report's connection budget: one job worker
    process and its pool, no server (no requests, no access lines)."""
    resource.add_metadata(
        "GameService",
        {"WorkersPerInstance": 1, "DbPoolSizePerWorker": JOB_WORKER_DB_CONNECTIONS, "DbMaxOverflowPerWorker": 0},
    )


def _sample_rate(service_environment: Mapping[str, str]) -> float:
    """The share of ordinary requests whose access line the hosts ship (the service's default: all)."""
    return float(service_environment.get(Env.ACCESS_LOG_SAMPLE_RATE, "1"))


class SingleInstanceAppTier(Construct):
    """One instance in a private subnet, recovered by EC2 when its host fails.

    A code or image change replaces the instance (the user data causes replacement):
    the new one must signal healthy before the old one is deleted. With an
    ``alarm_topic``, its status and CPU alarms notify that topic from here, beside the
    instance, under fixed names (``alarm_names``) other stacks can show.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        role: iam.IRole,
        host: GameServiceHostArtifacts,
        service_environment: dict[str, str],
        log_group_name: str,
        stage: str,
        instance_type: str,
        machine_image: ec2.IMachineImage,
        port: int,
        workers: int,
        db_pool_size: int,
        db_max_overflow: int,
        alarm_topic: sns.ITopic | None = None,
        trend_alarms: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        user_data = host.user_data(
            environment=service_environment, region=Stack.of(self).region, log_group_name=log_group_name, stage=stage
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            **service_host(instance_type=instance_type, machine_image=machine_image, role=role,
                           security_group=security_group, user_data=user_data),
            user_data_causes_replacement=True,
            resource_signal_timeout=Duration.minutes(SIGNAL_TIMEOUT_MINUTES),
        )
        user_data.add_signal_on_exit_command(self.instance)
        # The subnet already fixes the zone; a literal AZ in the template is what
        # linters warn about (W3010) and adds nothing.
        self.instance.instance.add_property_deletion_override("AvailabilityZone")
        service_metadata(self.instance.instance, workers=workers, pool=db_pool_size, overflow=db_max_overflow,
                          access_log_sample_rate=_sample_rate(service_environment),
                          job_worker=Env.JOB_QUEUE_URL in service_environment)

        # Self-healing within the budget: EC2 auto recovery (patterns/recovery.py).
        auto_recovery(self, instance_id=self.instance.instance_id, what="Game instance")

        # Alarms that reach people, here with the instance they watch: a replacement
        # instance updates them (an alarm in another stack would keep the old id).
        # Fixed names, so the dashboard can show them without a cross-stack reference.
        self.alarm_names: list[str] = []
        if alarm_topic is not None:
            # The CPU alarm is a trend (trend_alarms); a failing instance or a filling disk pages.
            for suffix, namespace, metric_name, statistic, threshold, periods, description in (
                ("instance-status", "AWS/EC2", "StatusCheckFailed", "Maximum", 1, 3,
                 "The app instance fails its EC2 status checks"),
                *([("cpu", "AWS/EC2", "CPUUtilization", "Average", 85, 10,
                    "App instance CPU above 85% for 10 minutes")] if trend_alarms else []),
                ("disk", HOST_NAMESPACE, DISK_USED_METRIC, "Maximum", DISK_ALARM_PERCENT, 10,
                 f"App instance root disk over {DISK_ALARM_PERCENT}% full for 10 minutes"),
            ):
                name = f"game-{stage}-app-{suffix}"
                alarm = cloudwatch.Alarm(
                    self,
                    f"Notify{suffix.title().replace('-', '')}",
                    alarm_name=name,
                    alarm_description=description,
                    metric=cloudwatch.Metric(
                        namespace=namespace, metric_name=metric_name, statistic=statistic,
                        dimensions_map={"InstanceId": self.instance.instance_id}, period=Duration.minutes(1),
                    ),
                    threshold=threshold,
                    evaluation_periods=periods,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
                self.alarm_names.append(name)

        acknowledge(
            self.instance,
            "CloudFormation-Validate::W9010",
            "The AMI is pinned on purpose (stacks/config.py): a new image replaces this instance, so "
            "it changes only in a reviewed bump, never by a deploy that resolves a newer one.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "The starter stage's single app instance is stateless and replaced on every code or "
            "image change; termination protection would block that, and EC2 auto recovery heals it.",
        )

        self.vpc_origin = cloudfront.VpcOrigin(
            self,
            "VpcOrigin",
            endpoint=cloudfront.VpcOriginEndpoint.ec2_instance(self.instance),
            http_port=port,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
        )


class ScalingAppTier(Construct):
    """An Auto Scaling group across every AZ behind an internal Application Load Balancer.

    Desired capacity is left unset so a deploy never resets a scaled-out group. A new launch
    template rolls through the group as an instance refresh that launches before it
    terminates (CloudFormation's AutoScalingInstanceRefresh policy): the group keeps its
    desired capacity healthy in service, a quarter more at most, scaling stays on, and the
    deploy waits for the refresh. A new host counts only once its bootstrap has released it
    from the launch hook, which it does only after its deep readiness check passes; a host
    that fails is abandoned (terminated) with its reason in its log.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        load_balancer_security_group: ec2.ISecurityGroup,
        role: iam.IRole,
        host: GameServiceHostArtifacts,
        service_environment: dict[str, str],
        log_group_name: str,
        stage: str,
        instance_type: str,
        machine_image: ec2.IMachineImage,
        port: int,
        min_instances: int,
        max_instances: int,
        target_cpu_percent: int,
        workers: int,
        db_pool_size: int,
        db_max_overflow: int,
        access_logs_bucket: s3.IBucket,
        host_subnets: ec2.SubnetSelection,
        load_balancer_subnets: ec2.SubnetSelection,
        public_ip: bool = False,
        alarm_topic: sns.ITopic | None = None,
        job_worker_on_hosts: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        if min_instances < 2:
            raise ValueError(f"{id_}: min_instances must be >= 2 for a replicated tier, got {min_instances}")
        if max_instances <= min_instances:
            raise ValueError(
                f"{id_}: max_instances ({max_instances}) must be > min_instances ({min_instances}): a group "
                "that cannot grow does not scale out"
            )
        if public_ip and host_subnets.subnet_type != ec2.SubnetType.PUBLIC:
            raise ValueError(f"{id_}: public_ip needs host_subnets of type PUBLIC (a public address elsewhere "
                             "has no route to the internet)")

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=load_balancer_subnets,
            security_group=load_balancer_security_group,
            drop_invalid_header_fields=True,
            idle_timeout=Duration.seconds(60),  # the live stream's keep-alive line comes every 15 s
        )
        self.load_balancer.log_access_logs(access_logs_bucket, prefix="alb")
        listener = self.load_balancer.add_listener("Http", port=80, open=False)
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=vpc,
            port=port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=LIVENESS_PATH,
                interval=Duration.seconds(15),
                timeout=Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
        )
        listener.add_target_groups("Default", target_groups=[self.target_group])

        self.user_data = host.user_data(
            environment=service_environment,
            region=Stack.of(self).region,
            log_group_name=log_group_name,
            stage=stage,
            target_group_arn=self.target_group.target_group_arn,
            lifecycle_hook=LAUNCH_HOOK_NAME,
            # False: the stage's job worker runs on a worker tier (patterns/worker_tier.py)
            worker_beside_server=job_worker_on_hosts,
        )
        self.rollout_alarms = self._rollout_alarms(stage, alarm_topic)
        self.launch_template = host_launch_template(
            self, "LaunchTemplate", instance_type=instance_type, machine_image=machine_image, role=role,
            security_group=security_group, user_data=self.user_data, public_ip=public_ip,
        )
        service_metadata(
            self.launch_template.node.default_child, workers=workers, pool=db_pool_size, overflow=db_max_overflow,
            access_log_sample_rate=_sample_rate(service_environment),
            job_worker=job_worker_on_hosts and Env.JOB_QUEUE_URL in service_environment,
        )

        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=host_subnets,
            launch_template=self.launch_template,
            min_capacity=min_instances,
            max_capacity=max_instances,
            cooldown=Duration.minutes(5),
            default_instance_warmup=Duration.minutes(3),
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=Duration.minutes(HEALTH_CHECK_GRACE_MINUTES),
            ),
            # Creating the group waits for min_instances signals; a host signals once it serves.
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=Duration.minutes(SIGNAL_TIMEOUT_MINUTES)),
            # A rollout (a new launch template) launches new hosts before it terminates old
            # ones, a quarter of the desired capacity at a time: in-service capacity never
            # drops, not even for a group at its max size (a rolling update there has to
            # terminate first). Scaling keeps working during the rollout, and a rollout whose
            # new hosts turn unhealthy fails on the alarm below, so the stack rolls back.
            update_policy=autoscaling.UpdatePolicy.instance_refresh(
                strategy=autoscaling.InstanceRefreshStrategy.ROLLING,
                min_healthy_percentage=ROLLOUT_MIN_HEALTHY_PERCENT,
                max_healthy_percentage=ROLLOUT_MAX_HEALTHY_PERCENT,
                alarms=self.rollout_alarms,
            ),
            group_metrics=[autoscaling.GroupMetrics.all()],
        )
        # The hook is part of the group (not a separate resource created after it), so the
        # group's first hosts are held by it too.
        cfn_group: autoscaling.CfnAutoScalingGroup = self.group.node.default_child
        cfn_group.lifecycle_hook_specification_list = [
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=LAUNCH_HOOK_NAME,
                lifecycle_transition="autoscaling:EC2_INSTANCE_LAUNCHING",
                heartbeat_timeout=SIGNAL_TIMEOUT_MINUTES * 60,
                default_result="ABANDON",
            )
        ]
        stack = Stack.of(self)
        # the group's generated name starts with its stack's (the group cannot be named
        # here: its launch template, and so this role, come before it)
        groups = (f"arn:{stack.partition}:autoscaling:{stack.region}:{stack.account}:autoScalingGroup:*:"
                  f"autoScalingGroupName/{stack.stack_name}-*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReleaseItselfFromTheLaunchHook",
                actions=["autoscaling:CompleteLifecycleAction"],
                resources=[groups],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "A host completes the launch hook of its own group, whose name CloudFormation generates "
            "from the stack's name; the role is limited to the groups of this stack.",
            applies_to=[f"Resource::{groups}"],
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="FindItsGroup",  # which group launched it (no resource-level permissions)
                actions=["autoscaling:DescribeAutoScalingInstances"],
                resources=["*"],
            )
        )
        self.group.attach_to_application_target_group(self.target_group)
        self.group.scale_on_cpu_utilization("CpuTarget", target_utilization_percent=target_cpu_percent)
        self.user_data.add_signal_on_exit_command(self.group)

        acknowledge(
            self.group,
            "Annotation::@aws-cdk/aws-autoscaling:signalsNotUsedByInstanceRefresh",
            "The signals are what creating the group waits for (its creation policy); a rollout counts "
            "a new host once its bootstrap releases it from the launch hook, after its readiness check.",
        )
        acknowledge(
            self.group,
            "AwsSolutions-AS3",
            "Scaling activity is in the group's activity history and its group metrics on the "
            "dashboard; what needs a human (unhealthy hosts, 5xx, latency) alarms to the stage's topic.",
        )

        self.vpc_origin = cloudfront.VpcOrigin(
            self,
            "VpcOrigin",
            endpoint=cloudfront.VpcOriginEndpoint.application_load_balancer(self.load_balancer),
            http_port=80,
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTP_ONLY,
        )

    def _rollout_alarms(self, stage: str, alarm_topic: sns.ITopic | None) -> list[cloudwatch.Alarm]:
        """What fails a rollout in progress (the stack then rolls back to the previous launch
        template, by another refresh): a new host whose boot fails (it abandons its launch, so
        the load balancer never sees it), or one that turns unhealthy behind the load balancer.
        They exist whatever the monitoring choice (they gate rollouts) and notify the stage's
        topic when there is one; fixed names, so the dashboard shows them without a
        cross-stack reference."""
        self.alarm_names: list[str] = []
        alarms = []
        for suffix, description, metric, periods in (
            ("boot-failed", "A host's boot failed (its log: stream <instance id>/bootstrap); an instance refresh "
             "in progress fails on it",
             cloudwatch.Metric(namespace=HOST_NAMESPACE, metric_name=BOOT_FAILED_METRIC, dimensions_map={"Stage": stage},
                               statistic="Sum", period=Duration.minutes(1)), 1),
            ("unhealthy-hosts", "An app instance failed its load-balancer health check for 3 minutes; an instance "
             "refresh in progress fails on it",
             self.target_group.metrics.unhealthy_host_count(period=Duration.minutes(1), statistic="Maximum"), 3),
        ):
            name = f"game-{stage}-app-{suffix}"
            alarm = cloudwatch.Alarm(
                self,
                f"Rollout{suffix.title().replace('-', '')}",
                alarm_name=name,
                alarm_description=description,
                metric=metric,
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=periods,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            if alarm_topic is not None:
                alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
                alarm.add_ok_action(cw_actions.SnsAction(alarm_topic))
            self.alarm_names.append(name)
            alarms.append(alarm)
        return alarms
