"""The job worker on hosts of its own: an Auto Scaling group that scales on the job queue's
backlog per instance (AWS's "scaling based on Amazon SQS").

Its hosts boot from the same bootstrap, bundle and wheelhouse as the app hosts, in the
bootstrap's ``worker`` role: the job worker only, no HTTP server, behind no load balancer.
A group sized on CPU would not see the work waiting (a worker long-polling an empty queue
and one with a thousand jobs behind it both use little CPU), and one sized on the queue's
depth alone would not know how many hosts share it; the metric is their quotient, visible
messages / in-service instances, and its target is the backlog one host may hold and still
start its last job within the stage's acceptable latency.

A host the group terminates (scale-in, a rollout) is held by a terminating hook while its
drain watcher stops the worker: the job in hand finishes or its message is released for
another worker (host/bootstrap.sh, os_drain_on_termination).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from patterns.app_tier import (
    HEALTH_CHECK_GRACE_MINUTES,
    ROLLOUT_MAX_HEALTHY_PERCENT,
    ROLLOUT_MIN_HEALTHY_PERCENT,
    SIGNAL_TIMEOUT_MINUTES,
    host_launch_template,
    job_worker_metadata,
)
from patterns.game_service_host import GameServiceHostArtifacts
from patterns.nag import acknowledge

# A worker host launches held by this hook and enters service only when its bootstrap
# completes it: CONTINUE once the worker runs, ABANDON (the group replaces it) when it fails.
WORKER_LAUNCH_HOOK_NAME = "worker-runs"
# A host being terminated waits in Terminating:Wait until its drain watcher has stopped the
# worker and completed this hook, or for the hook's heartbeat timeout at most, then goes on
# (default result CONTINUE: a host leaving never blocks the group).
DRAIN_HOOK_NAME = "worker-drains"
# The hook outlasts the queue's visibility timeout by this much: whatever message the host
# still held (its worker stopped or not) is done, released or visible again before it goes.
DRAIN_MARGIN_SECONDS = 60
MAX_HEARTBEAT_SECONDS = 7200  # Auto Scaling's limit for a lifecycle hook


class WorkerTier(Construct):
    """An Auto Scaling group of job-worker hosts over ``host_subnets`` (a subnet per AZ).

    ``backlog_per_instance``: the target of the scaling policy, jobs waiting per in-service
    host (the stage's acceptable latency / the average job's seconds). ``visibility_seconds``:
    the queue's visibility timeout; the drain hook waits longer than that. ``role`` is the
    hosts' instance role: this construct grants it the queue's consume actions and what a
    host needs to complete its own group's hooks, nothing else.
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
        service_environment: Mapping[str, str],
        log_group_name: str,
        stage: str,
        instance_type: str,
        machine_image: ec2.IMachineImage,
        job_queue: sqs.IQueue,
        visibility_seconds: int,
        min_instances: int,
        max_instances: int,
        backlog_per_instance: int,
        host_subnets: ec2.SubnetSelection,
        public_ip: bool = False,
        rollout_alarms: Sequence[cloudwatch.IAlarm] = (),
    ) -> None:
        super().__init__(scope, id_)
        if min_instances < 2:
            raise ValueError(f"{id_}: min_instances must be >= 2 (one worker host per AZ), got {min_instances}")
        if max_instances <= min_instances:
            raise ValueError(f"{id_}: max_instances ({max_instances}) must be > min_instances ({min_instances}): "
                             "a group that cannot grow does not scale on its backlog")
        if backlog_per_instance < 1:
            raise ValueError(f"{id_}: backlog_per_instance must be >= 1 job, got {backlog_per_instance}")
        if not 1 <= visibility_seconds <= MAX_HEARTBEAT_SECONDS - DRAIN_MARGIN_SECONDS:
            raise ValueError(f"{id_}: visibility_seconds must be 1..{MAX_HEARTBEAT_SECONDS - DRAIN_MARGIN_SECONDS} "
                             f"(the drain hook waits {DRAIN_MARGIN_SECONDS} s longer, at most "
                             f"{MAX_HEARTBEAT_SECONDS} s), got {visibility_seconds}")
        if public_ip and host_subnets.subnet_type != ec2.SubnetType.PUBLIC:
            raise ValueError(f"{id_}: public_ip needs host_subnets of type PUBLIC (a public address elsewhere "
                             "has no route to the internet)")
        self.drain_timeout_seconds = visibility_seconds + DRAIN_MARGIN_SECONDS
        self.backlog_per_instance = backlog_per_instance

        self.user_data = host.user_data(
            environment=service_environment,
            region=Stack.of(self).region,
            log_group_name=log_group_name,
            stage=stage,
            role="worker",
            lifecycle_hook=WORKER_LAUNCH_HOOK_NAME,
            drain_hook=DRAIN_HOOK_NAME,
        )
        self.launch_template = host_launch_template(
            self, "LaunchTemplate", instance_type=instance_type, machine_image=machine_image, role=role,
            security_group=security_group, user_data=self.user_data, public_ip=public_ip,
        )
        job_worker_metadata(self.launch_template.node.default_child)
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=host_subnets,
            launch_template=self.launch_template,
            min_capacity=min_instances,
            max_capacity=max_instances,
            default_instance_warmup=Duration.minutes(3),
            # EC2's checks: a worker answers no load balancer; a worker that does not run fails
            # its boot (the launch hook abandons it) and systemd restarts one that dies later.
            health_checks=autoscaling.HealthChecks.ec2(grace_period=Duration.minutes(HEALTH_CHECK_GRACE_MINUTES)),
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=Duration.minutes(SIGNAL_TIMEOUT_MINUTES)),
            # As the app tier: a rollout launches before it terminates, and old hosts drain.
            update_policy=autoscaling.UpdatePolicy.instance_refresh(
                strategy=autoscaling.InstanceRefreshStrategy.ROLLING,
                min_healthy_percentage=ROLLOUT_MIN_HEALTHY_PERCENT,
                max_healthy_percentage=ROLLOUT_MAX_HEALTHY_PERCENT,
                alarms=list(rollout_alarms) or None,
            ),
            # GroupInServiceInstances is the divisor of the scaling metric (group metrics are free).
            group_metrics=[autoscaling.GroupMetrics.all()],
        )
        # Both hooks are part of the group, so its first hosts are held by the launch hook too.
        cfn_group: autoscaling.CfnAutoScalingGroup = self.group.node.default_child
        cfn_group.lifecycle_hook_specification_list = [
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=WORKER_LAUNCH_HOOK_NAME,
                lifecycle_transition="autoscaling:EC2_INSTANCE_LAUNCHING",
                heartbeat_timeout=SIGNAL_TIMEOUT_MINUTES * 60,
                default_result="ABANDON",
            ),
            # Completed by the host's drain watcher once the worker has stopped; CONTINUE after
            # the timeout if the watcher could not (the shutdown then stops the worker with the
            # same SIGTERM, and the visibility timeout has returned any message it held).
            autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty(
                lifecycle_hook_name=DRAIN_HOOK_NAME,
                lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
                heartbeat_timeout=self.drain_timeout_seconds,
                default_result="CONTINUE",
            ),
        ]
        self.user_data.add_signal_on_exit_command(self.group)

        # Target tracking on backlog per instance: visible messages / in-service hosts, by
        # metric math (CloudFormation's CustomizedMetricSpecification.Metrics).
        self.scaling_policy = autoscaling.CfnScalingPolicy(
            self,
            "BacklogPerInstance",
            auto_scaling_group_name=self.group.auto_scaling_group_name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=autoscaling.CfnScalingPolicy.TargetTrackingConfigurationProperty(
                target_value=backlog_per_instance,
                customized_metric_specification=autoscaling.CfnScalingPolicy.CustomizedMetricSpecificationProperty(
                    metrics=[
                        _metric_query("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Sum",
                                      "QueueName", job_queue.queue_name),
                        _metric_query("inService", "AWS/AutoScaling", "GroupInServiceInstances", "Average",
                                      "AutoScalingGroupName", self.group.auto_scaling_group_name),
                        autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
                            id="backlogPerInstance",
                            expression="visible / inService",
                            label="Jobs waiting per worker host",
                            return_data=True,
                        ),
                    ],
                ),
            ),
        )

        job_queue.grant_consume_messages(role)
        stack = Stack.of(self)
        # the group's generated name starts with its stack's (the role comes before the group)
        groups = (f"arn:{stack.partition}:autoscaling:{stack.region}:{stack.account}:autoScalingGroup:*:"
                  f"autoScalingGroupName/{stack.stack_name}-*")
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="CompleteItsOwnHooks", actions=["autoscaling:CompleteLifecycleAction"],
                                resources=[groups])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="FindItsGroup", actions=["autoscaling:DescribeAutoScalingInstances"],
                                resources=["*"])
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "A worker host completes the launch and drain hooks of its own group, whose name "
            "CloudFormation generates from the stack's name; the role is limited to this stack's groups.",
            applies_to=[f"Resource::{groups}"],
        )
        acknowledge(
            self.group,
            "Annotation::@aws-cdk/aws-autoscaling:signalsNotUsedByInstanceRefresh",
            "The signals are what creating the group waits for (its creation policy); a rollout counts "
            "a new worker host once its bootstrap releases it from the launch hook, after its worker runs.",
        )
        acknowledge(
            self.group,
            "AwsSolutions-AS3",
            "Scaling activity is in the group's activity history and its group metrics; what needs a "
            "human (too few worker hosts, jobs waiting too long, dead-lettered jobs) alarms to the stage's topic.",
        )


def _metric_query(id_: str, namespace: str, metric_name: str, stat: str, dimension: str,
                  value: str) -> autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty:
    return autoscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty(
        id=id_,
        metric_stat=autoscaling.CfnScalingPolicy.TargetTrackingMetricStatProperty(
            metric=autoscaling.CfnScalingPolicy.MetricProperty(
                namespace=namespace,
                metric_name=metric_name,
                dimensions=[autoscaling.CfnScalingPolicy.MetricDimensionProperty(name=dimension, value=value)],
            ),
            stat=stat,
        ),
        return_data=False,
    )
