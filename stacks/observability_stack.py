"""Observability: one dashboard per stage and the alarms on what outlives a deploy (load
balancer, database, CDN, the deep readiness metric), to the stage's alarm topic.

Monitoring is a required choice in the stage config: ``alarms`` (subscribers from
``alarm_emails``) or an explicit ``none``. The alarms on an outage are always there with
``alarms``; those on trends (``trend_alarms``) and the dashboard (``dashboard``) are the
stage's choice. A stage without alarms keeps its dashboard: it is then the only view. Alarms on the
starter's instance live in the app stack, with the instance they watch (a replaced instance
updates them); the dashboard shows them by their fixed names."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

from patterns.app_tier import ScalingAppTier, SingleInstanceAppTier
from patterns.job_queue import JobQueue
from patterns.worker_tier import WorkerTier
from patterns.game_service_host import (
    DISK_ALARM_PERCENT,
    DISK_USED_METRIC,
    HOST_NAMESPACE,
    READINESS_METRIC,
    READINESS_NAMESPACE,
)
from stacks.config import DB_INSTANCE_CLASSES, StageConfig, db_max_connections

PERIOD_MINUTES = 1  # every metric's period
OLDEST_JOB_ALARM_SECONDS = 300  # a player waits for an avatar; five minutes is an outage


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        app_tier: ScalingAppTier | SingleInstanceAppTier,
        database: rds.DatabaseInstance,
        distribution: cloudfront.Distribution,
        job_queue: JobQueue,
        alarm_topic: sns.ITopic | None,
        worker_tier: WorkerTier | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.alarms: list[cloudwatch.IAlarm] = []
        self.topic = alarm_topic
        period = Duration.minutes(PERIOD_MINUTES)

        # --- app tier ---
        if isinstance(app_tier, ScalingAppTier):
            lb_metrics = app_tier.load_balancer.metrics
            tg_metrics = app_tier.target_group.metrics
            requests = lb_metrics.request_count(period=period, label="Requests")
            latency_p50 = lb_metrics.target_response_time(period=period, statistic="p50", label="p50")
            latency_p99 = lb_metrics.target_response_time(period=period, statistic="p99", label="p99")
            errors_5xx = lb_metrics.http_code_target(
                elbv2.HttpCodeTarget.TARGET_5XX_COUNT,
                period=period, label="Target 5xx",
            )
            healthy = tg_metrics.healthy_host_count(period=period, statistic="Minimum", label="Healthy hosts")
            unhealthy = tg_metrics.unhealthy_host_count(period=period, statistic="Maximum", label="Unhealthy hosts")
            self._alarm("AppErrors", errors_5xx, 10, 5, "More than 10 5xx answers a minute from the game service")
            self._alarm("AppLatency", latency_p99, 1.5, 5, "p99 latency of the game service above 1.5 s")
            self._alarm(
                "TooFewHealthyHosts", healthy, config.min_instances, 3,
                f"Fewer than {config.min_instances} healthy app instances",
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
            app_widgets = [
                cloudwatch.GraphWidget(title="Requests", left=[requests], width=8),
                cloudwatch.GraphWidget(title="Latency (s)", left=[latency_p50, latency_p99], width=8),
                cloudwatch.GraphWidget(title="5xx", left=[errors_5xx], width=8),
                cloudwatch.GraphWidget(title="Hosts", left=[healthy, unhealthy], width=8),
            ]
            cpu = cloudwatch.Metric(
                namespace="AWS/EC2", metric_name="CPUUtilization",
                dimensions_map={"AutoScalingGroupName": app_tier.group.auto_scaling_group_name},
                period=period, statistic="Average", label="App CPU %",
            )
            fullest_disk = cloudwatch.Metric(
                namespace=HOST_NAMESPACE, metric_name=DISK_USED_METRIC,
                dimensions_map={"AutoScalingGroupName": app_tier.group.auto_scaling_group_name},
                period=period, statistic="Maximum", label="Fullest root disk %",
            )
            self._alarm("AppDisk", fullest_disk, DISK_ALARM_PERCENT, 10,
                        f"An app instance's root disk is over {DISK_ALARM_PERCENT}% full for 10 minutes")
        else:
            app_widgets = []
            cpu = None
        # The tier's own alarms (the instance's; the group's rollout gates) are the app
        # stack's; shown here by their fixed names (an alarm widget follows its alarm when a
        # new instance updates it).
        for name in app_tier.alarm_names:
            alarm = cloudwatch.Alarm.from_alarm_name(self, name, name)
            app_widgets.append(cloudwatch.AlarmWidget(title=name, alarm=alarm, width=8))
            if self.topic is not None:
                self.alarms.append(alarm)
        # The deep check: each host reports whether the service reaches its database
        # and storage; the minimum over hosts is 0 as soon as one of them cannot.
        ready = cloudwatch.Metric(
            namespace=READINESS_NAMESPACE, metric_name=READINESS_METRIC, dimensions_map={"Stage": config.name},
            period=period, statistic="Minimum", label="Ready (min over hosts)",
        )
        self._alarm(
            "AppNotReady", ready, 1, 3, "The game service cannot reach its database or storage (deep readiness check)",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        app_widgets.append(cloudwatch.GraphWidget(title="Deep readiness (DB, S3)", left=[ready], width=8))

        # --- jobs ---
        waiting = job_queue.queue.metric_approximate_number_of_messages_visible(
            period=period, statistic="Maximum", label="Jobs waiting")
        oldest = job_queue.queue.metric_approximate_age_of_oldest_message(
            period=period, statistic="Maximum", label="Oldest waiting job (s)")
        dead = job_queue.dead_letters.metric_approximate_number_of_messages_visible(
            period=period, statistic="Maximum", label="Jobs in the dead-letter queue")
        self._alarm("JobsDeadLettered", dead, 1, 1,
                    f"A job failed {job_queue.max_receives} times and is in the dead-letter queue: its reason is "
                    "in the jobs table and the worker's log; fix, then redrive it")
        self._alarm("JobsWaitTooLong", oldest, OLDEST_JOB_ALARM_SECONDS, 5,
                    f"The oldest waiting job is over {OLDEST_JOB_ALARM_SECONDS} s old for 5 minutes: the "
                    "workers are down or too few for the backlog")
        app_widgets.append(cloudwatch.GraphWidget(title="Jobs", left=[waiting, dead], right=[oldest], width=8))
        if worker_tier is not None:
            # The worker tier's counterpart of TooFewHealthyHosts: fewer worker hosts in service
            # than its minimum (one per AZ) for 3 minutes (the group's own metric; no load
            # balancer checks a worker).
            in_service = cloudwatch.Metric(
                namespace="AWS/AutoScaling", metric_name="GroupInServiceInstances",
                dimensions_map={"AutoScalingGroupName": worker_tier.group.auto_scaling_group_name},
                period=period, statistic="Minimum", label="Worker hosts in service",
            )
            self._alarm(
                "TooFewWorkerHosts", in_service, config.worker_min_instances, 3,
                f"Fewer than {config.worker_min_instances} job-worker instances in service",
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cloudwatch.TreatMissingData.BREACHING,
            )
            app_widgets.append(cloudwatch.GraphWidget(title="Worker hosts", left=[in_service], width=8))

        # --- database ---
        db_cpu = database.metric_cpu_utilization(period=period, label="DB CPU %")
        db_connections = database.metric_database_connections(period=period, label="Connections")
        db_free_storage = database.metric_free_storage_space(period=period, statistic="Minimum", label="Free storage (bytes)")
        db_free_memory = database.metric_freeable_memory(period=period, statistic="Minimum", label="Freeable memory (bytes)")
        trends = config.trend_alarms
        if trends:
            self._alarm("DatabaseCpu", db_cpu, 80, 10, "Database CPU above 80% for 10 minutes")
        # Storage autoscales (up to db_max_allocated_storage_gib) whenever less than 10% of the
        # allocation is free; what needs a person is the ceiling, where it stops.
        self._alarm(
            "DatabaseStorage", db_free_storage, config.db_max_allocated_storage_gib * 1024**3 * 0.1, 5,
            f"Database free storage below 10% of its ceiling ({config.db_max_allocated_storage_gib} GiB, "
            "db_max_allocated_storage_gib): storage autoscaling is about to run out of room",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
        if trends:
            self._trend_alarms_of_the_database(config, db_free_memory, db_connections, database)

        # --- edge: CloudFront publishes its metrics in us-east-1 only, with the
        # dimensions DistributionId *and* Region=Global; a metric without the second
        # matches no data, so an alarm on it could never fire ---
        cdn_requests = cdn_metric(distribution, "Requests", statistic="Sum", label="CDN requests", period=period)
        cdn_4xx = cdn_metric(distribution, "4xxErrorRate", statistic="Average", label="CDN 4xx %", period=period)
        cdn_5xx = cdn_metric(distribution, "5xxErrorRate", statistic="Average", label="CDN 5xx %", period=period)
        if config.region == "us-east-1":
            self._alarm("CdnErrors", cdn_5xx, 5, 5, "More than 5% of CloudFront answers are 5xx")

        if config.dashboard or config.monitoring == "none":
            self._dashboard(config, app_widgets, db_cpu, db_connections, db_free_storage, db_free_memory,
                            cdn_requests, cdn_4xx, cdn_5xx)

    def _trend_alarms_of_the_database(
        self, config: StageConfig, db_free_memory: cloudwatch.IMetric, db_connections: cloudwatch.IMetric,
        database: rds.DatabaseInstance,
    ) -> None:
        db_class = DB_INSTANCE_CLASSES[config.db_instance_class]
        max_connections = db_max_connections(config.db_instance_class)
        self._alarm(
            "DatabaseMemory", db_free_memory, db_class.memory_gib * 1024**3 * 0.1, 10,
            f"Database freeable memory below 10% of the class's {db_class.memory_gib:g} GiB for 10 minutes",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
        self._alarm(
            "DatabaseConnections", db_connections, int(max_connections * 0.8), 5,
            f"Database connections above 80% of max_connections ({max_connections} for db.{config.db_instance_class})",
        )
        if db_class.max_cpu_credits is not None:
            credits = database.metric("CPUCreditBalance", period=Duration.minutes(5), statistic="Minimum",
                                      label="CPU credit balance")
            self._alarm(
                "DatabaseCpuCredits", credits, db_class.max_cpu_credits * 0.1, 3,
                f"Database CPU credits below 10% of db.{config.db_instance_class}'s {db_class.max_cpu_credits}: "
                "sustained CPU above the baseline, billed as surplus credits",
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            )

    def _dashboard(self, config: StageConfig, app_widgets: list, db_cpu: cloudwatch.IMetric,
                   db_connections: cloudwatch.IMetric, db_free_storage: cloudwatch.IMetric,
                   db_free_memory: cloudwatch.IMetric, cdn_requests: cloudwatch.IMetric,
                   cdn_4xx: cloudwatch.IMetric, cdn_5xx: cloudwatch.IMetric) -> None:
        cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"game-{config.name}",
            default_interval=Duration.hours(3),
            widgets=[
                [cloudwatch.TextWidget(markdown=f"# Game, stage `{config.name}`", width=24, height=1)],
                app_widgets,
                [
                    cloudwatch.GraphWidget(title="DB CPU %", left=[db_cpu], width=6),
                    cloudwatch.GraphWidget(title="DB connections", left=[db_connections], width=6),
                    cloudwatch.GraphWidget(title="DB free storage", left=[db_free_storage], width=6),
                    cloudwatch.GraphWidget(title="DB freeable memory", left=[db_free_memory], width=6),
                ],
                [
                    cloudwatch.GraphWidget(title="CDN requests", left=[cdn_requests], width=12),
                    cloudwatch.GraphWidget(title="CDN error rates", left=[cdn_4xx, cdn_5xx], width=12),
                ],
                [cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)] if self.alarms else [],
            ],
        )

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        periods: int,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        if self.topic is None:
            return
        alarm = cloudwatch.Alarm(
            self, id_, metric=metric, threshold=threshold, evaluation_periods=periods,
            comparison_operator=comparison, treat_missing_data=missing, alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def cdn_metric(
    distribution: cloudfront.Distribution, name: str, *, statistic: str, label: str, period: Duration
) -> cloudwatch.Metric:
    """A CloudFront metric as CloudFront publishes it (us-east-1, Region=Global)."""
    return distribution.metric(
        name,
        dimensions_map={"DistributionId": distribution.distribution_id, "Region": "Global"},
        region="us-east-1",
        period=period,
        statistic=statistic,
        label=label,
    )
