"""The single-point-of-failure rules, in one table: id, tier, what it checks, the fix it
suggests and a short label (for tables). The tier modules raise findings by id; a finding
whose id is not here is a programming error (Ctx.spof refuses it). A rule whose `spof` is
false (a queue without a dead-letter queue, say) is a finding that is not a single point of
failure: it is reported with its fix (Ctx.finding), but does not change the verdict or fail
the diff.

`python -m topology_report rules` lists them; topology_report/README.md's rules table is
generated from this one (`python -m topology_report.docs`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    id: str
    tier: str
    checks: str  # fires when
    fix: str  # what to do instead
    label: str  # a few words, for tables
    spof: bool = True  # a single point of failure; False: a finding that is not one

    def to_dict(self) -> dict:
        return {"id": self.id, "tier": self.tier, "checks": self.checks, "fix": self.fix,
                "label": self.label, "single_point_of_failure": self.spof}

    @property
    def fires_when(self) -> str:
        return self.checks + ("" if self.spof else
                              " (a finding, not a single point of failure: the verdict "
                              "and the diff gate do not count it)")


RULES: tuple[Rule, ...] = (
    Rule("lb-one-az", "load balancing",
         "a load balancer's subnets (or AZs) are all in one AZ",
         "give the load balancer subnets in >= 2 AZs", "load balancer in one AZ"),
    Rule("asg-min-one", "compute",
         "an Auto Scaling group's MinSize, or the one a scheduled action sets, is below 2",
         "set MinSize to 2 or more (in its scheduled actions too), over >= 2 AZs",
         "ASG with a minimum below 2"),
    Rule("asg-one-az", "compute",
         "an Auto Scaling group's subnets (or AZs) are all in one AZ",
         "give the group subnets in >= 2 AZs (VPCZoneIdentifier)", "ASG in one AZ"),
    Rule("placement-group-cluster", "compute",
         "an Auto Scaling group or its launch template puts its instances in a cluster "
         "placement group, which lives in one AZ",
         "leave the app's instances out of cluster placement groups (a spread or partition "
         "group, or none, lets them span AZs)", "cluster placement group"),
    Rule("lone-instance", "compute",
         "an EC2 instance serves traffic with no load-balanced peer",
         "run the app in an Auto Scaling group of >= 2 instances over >= 2 AZs behind a "
         "load balancer", "lone instance"),
    Rule("targets-one-az", "compute",
         "a target group's (or classic load balancer's) >= 2 instances, or the >= 2 targets "
         "it registers itself, are all in one AZ",
         "place the instances in >= 2 AZs (or use an Auto Scaling group over >= 2 AZs)",
         "load-balanced instances in one AZ"),
    Rule("target-group-one-target", "compute",
         "a target group registers one target itself (an IP address or an instance ID), "
         "whatever AZs its load balancer spans",
         "register >= 2 targets in >= 2 AZs (or let an Auto Scaling group or ECS service "
         "fill the target group)", "target group of one target"),
    Rule("ecs-desired-one", "compute",
         "an ECS service runs fewer than 2 tasks (DesiredCount, or its scalable target's "
         "MinCapacity, or the one a scheduled action sets)",
         "run >= 2 tasks (DesiredCount or the scalable target's MinCapacity) over >= 2 AZs",
         "ECS service of one task"),
    Rule("ecs-one-az", "compute",
         "an ECS service's subnets, hosts or placement constraint confine it to one AZ",
         "give the service subnets (or hosts) in >= 2 AZs and spread tasks over AZs",
         "ECS service in one AZ"),
    Rule("lambda-one-az", "compute",
         "a Lambda function invoked at run time is attached to VPC subnets in one AZ",
         "attach the function to subnets in >= 2 AZs (VpcConfig.SubnetIds)",
         "Lambda in one AZ's subnets"),
    Rule("app-runner-min-one", "compute",
         "an App Runner service keeps fewer than 2 provisioned instances (its auto scaling "
         "configuration's MinSize; the default configuration's is 1)",
         "an auto scaling configuration with MinSize >= 2 (App Runner spreads the "
         "provisioned instances over AZs)", "App Runner service of one instance"),
    Rule("worker-lone", "compute",
         "a worker tier (compute that consumes a queue and is not behind a load balancer: "
         "an Auto Scaling group, instance or ECS service whose role may receive from the "
         "queue, or a Lambda function an event source mapping feeds from it) is not "
         "replicated: below 2 instances or tasks, or in one AZ (the compute rule it would "
         "fire is named a lone worker instead)",
         "run >= 2 workers over >= 2 AZs (MinSize or DesiredCount >= 2, subnets in >= 2 "
         "AZs): the queue lets them share the work", "lone worker"),
    Rule("db-single-az", "data",
         "a standalone RDS or DocumentDB instance with MultiAZ false or absent",
         "set MultiAZ: true (a synchronous standby in another AZ), or use a cluster",
         "single-AZ DB"),
    Rule("db-subnet-group-one-az", "data",
         "an RDS instance's DB subnet group has its subnets in one AZ (RDS refuses it: a "
         "deploy would fail; a Multi-AZ standby would have no other AZ)",
         "give the DB subnet group subnets in >= 2 AZs", "DB subnet group in one AZ"),
    Rule("db-cluster-one-instance", "data",
         "an Aurora, DocumentDB or Neptune cluster with one instance, or an Aurora Serverless "
         "v1 cluster (EngineMode serverless: its capacity is in one AZ)",
         "add a second instance (a replica in another AZ) to the cluster (Aurora Serverless "
         "v1 takes none: move to Serverless v2 or provisioned instances)",
         "DB cluster of one instance"),
    Rule("cache-single-node", "data",
         "a Redis/Valkey cache cluster, or memcached in one node or one AZ",
         "use a replication group with a replica and automatic failover (or memcached "
         "cross-az with >= 2 nodes)", "single-node cache"),
    Rule("cache-no-failover", "data",
         "an ElastiCache replication group with < 2 nodes per shard or automatic failover off",
         "give each shard a replica and set AutomaticFailoverEnabled: true",
         "cache without failover"),
    Rule("self-run-data-single", "data",
         "a database or cache run on one EC2 instance (or a group whose minimum is below 2): "
         "its security group opens a database port to the app tier's",
         "use a managed Multi-AZ database or cache (RDS, Aurora, ElastiCache), or run "
         ">= 2 replicating servers in >= 2 AZs", "self-run database on one server"),
    Rule("memorydb-no-replica", "data",
         "a MemoryDB cluster with NumReplicasPerShard 0",
         "set NumReplicasPerShard to 1 or more", "MemoryDB without replicas"),
    Rule("search-one-node", "data",
         "an OpenSearch domain with one data node",
         "run >= 2 data nodes with zone awareness", "OpenSearch of one node"),
    Rule("search-one-az", "data",
         "an OpenSearch domain without zone awareness",
         "set ZoneAwarenessEnabled: true (nodes over 2 or 3 AZs)", "OpenSearch in one AZ"),
    Rule("mq-single-instance", "data",
         "an Amazon MQ broker in SINGLE_INSTANCE mode (the default)",
         "use ACTIVE_STANDBY_MULTI_AZ (ActiveMQ) or CLUSTER_MULTI_AZ (RabbitMQ)",
         "single-instance MQ broker"),
    Rule("generic-compute-one", "compute",
         "a resource of a type with no specific rule that runs work, judged by its placement "
         "and count: one subnet or one AZ, or a count of 1",
         "run it in subnets of >= 2 AZs (or Multi-AZ) with >= 2 instances or nodes",
         "one-AZ or single resource that runs work"),
    Rule("generic-data-one", "data",
         "a resource of a type with no specific rule that holds state, judged by its "
         "placement and count: one subnet or one AZ, or a count of 1",
         "give it a standby or replica in another AZ (Multi-AZ, >= 2 nodes over >= 2 AZs)",
         "one-AZ or single resource that holds state"),
    Rule("queue-no-dlq", "data",
         "an SQS queue that compute of the stage consumes has no dead-letter queue (no "
         "RedrivePolicy)",
         "give the queue a RedrivePolicy to a dead-letter queue (maxReceiveCount of a few "
         "receives) and alarm on that queue's depth", "queue without dead-letter queue",
         spof=False),
    Rule("queue-visibility-short", "data",
         "an SQS queue's VisibilityTimeout (SQS's default: 30 s) is shorter than 6 x the "
         "Timeout (Lambda's default: 3 s) of a Lambda function an event source mapping "
         "feeds from it, as AWS advises (shorter than the Timeout itself, Lambda refuses "
         "the mapping); EC2 and ECS workers give no timeout in a template and are not "
         "checked",
         "set the queue's VisibilityTimeout to >= 6 x the function's Timeout",
         "queue visibility shorter than its consumer", spof=False),
    Rule("efs-one-zone", "storage",
         "an EFS One Zone file system (AvailabilityZoneName set)",
         "use a Regional EFS file system (no AvailabilityZoneName)", "One Zone EFS"),
    Rule("nat-gateway-shared", "network egress",
         "one NAT gateway serves private subnets in several AZs",
         "a NAT gateway in every AZ that has private subnets, each AZ routed to its own",
         "shared NAT gateway"),
    Rule("nat-instance", "network egress",
         "a single EC2 instance does NAT (a route target, or SourceDestCheck false; or an Auto "
         "Scaling group of at most one whose user data turns the check off)",
         "a NAT gateway in every AZ that has private subnets (or hosts with their own "
         "public addresses)", "NAT instance"),
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def render_rules(markdown: bool = False) -> str:
    if markdown:
        out = ["| rule | tier | fires when | suggested fix |", "| --- | --- | --- | --- |"]
        out += [f"| `{r.id}` | {r.tier} | {r.fires_when} | {r.fix} |" for r in RULES]
        return "\n".join(out)
    width = max(len(r.id) for r in RULES)
    out = []
    for r in RULES:
        out.append(f"{r.id:<{width}}  [{r.tier}] {r.fires_when}")
        out.append(f"{'':<{width}}  fix: {r.fix}")
    return "\n".join(out)
