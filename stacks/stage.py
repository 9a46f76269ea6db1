"""One deployable stage: the same stacks, built from the stage's config.

Dependencies run one way: foundation -> network -> data, storage -> app (with its edge) -> observability.
"""

from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from stacks.app_stack import AppStack
from stacks.config import StageConfig
from stacks.data_stack import DataStack
from stacks.foundation_stack import FoundationStack
from stacks.network_stack import NetworkStack
from stacks.observability_stack import ObservabilityStack
from stacks.storage_stack import StorageStack


class GameStage(Stage):
    def __init__(self, scope: Construct, *, config: StageConfig) -> None:
        env = Environment(account=config.account, region=config.region)
        super().__init__(scope, config.name, env=env)
        # Every resource carries the tags (the aspect); every stack carries them too, explicitly
        # (the explicitStackTags flag keeps the aspect off stacks): `make destroy` finds the
        # stage's protected stacks by the stack tag "stage".
        tags = {"project": "game", "stage": config.name}
        for key, value in tags.items():
            Tags.of(self).add(key, value)
        name = config.name

        self.foundation = FoundationStack(
            self, "Foundation", config=config, tags=tags, stack_name=f"{name}-foundation",
            description=f"Game ({name}): the stage's KMS key and the alarm topic every stack's alarms notify",
        )
        self.network = NetworkStack(
            self, "Network", config=config, key=self.foundation.key, alarm_topic=self.foundation.alarm_topic,
            tags=tags, stack_name=f"{name}-network",
            description=f"Game ({name}): VPC, subnets, NAT, endpoints, flow logs, security groups",
        )
        self.data = DataStack(
            self, "Data", config=config, vpc=self.network.vpc,
            app_security_group=self.network.app_security_group, key=self.foundation.key,
            worker_security_group=self.network.worker_security_group,
            tags=tags, stack_name=f"{name}-data", termination_protection=config.db_deletion_protection,
            description=f"Game ({name}), stateful: PostgreSQL and the service's secrets",
        )
        self.storage = StorageStack(
            self, "Storage", config=config, tags=tags, stack_name=f"{name}-storage",
            termination_protection=config.db_deletion_protection,
            description=f"Game ({name}), stateful: media, static and logs buckets, the job queue",
        )
        self.app = AppStack(
            self, "App", config=config, vpc=self.network.vpc,
            app_security_group=self.network.app_security_group,
            worker_security_group=self.network.worker_security_group,
            load_balancer_security_group=self.network.load_balancer_security_group,
            host_subnets=self.network.host_subnets, load_balancer_subnets=self.network.load_balancer_subnets,
            hosts_get_public_ips=self.network.hosts_get_public_ips,
            database=self.data.database.instance, app_secret=self.data.app_secret,
            media_bucket_arn=self.storage.media_bucket_arn, static_bucket_arn=self.storage.static_bucket_arn,
            logs_bucket=self.storage.logs_bucket, job_queue=self.storage.job_queue.queue,
            alarm_topic=self.foundation.alarm_topic, key=self.foundation.key,
            tags=tags, stack_name=f"{name}-app",
            description=f"Game ({name}), stateless: EC2 app tier and the CloudFront edge",
        )
        self.observability = ObservabilityStack(
            self, "Observability", config=config, app_tier=self.app.tier, worker_tier=self.app.workers,
            database=self.data.database.instance, distribution=self.app.edge.distribution,
            job_queue=self.storage.job_queue, alarm_topic=self.foundation.alarm_topic,
            tags=tags, stack_name=f"{name}-observability",
            description=f"Game ({name}): alarms and, when the stage has one, its dashboard",
        )
