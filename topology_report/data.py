"""The data tier (RDS, Aurora, DocumentDB, caches, search, brokers), storage and edge; and
the managed services that are distributed by nature."""

from __future__ import annotations

from .catalog import MANAGED
from .findings import Ctx, Database, d, lst, plural
from .model import Model, Resource
from .placement import spread

RDS_INSTANCE, RDS_CLUSTER = "AWS::RDS::DBInstance", "AWS::RDS::DBCluster"
DOCDB_INSTANCE, DOCDB_CLUSTER = "AWS::DocDB::DBInstance", "AWS::DocDB::DBCluster"
NEPTUNE_INSTANCE, NEPTUNE_CLUSTER = "AWS::Neptune::DBInstance", "AWS::Neptune::DBCluster"


def _cluster_of(model: Model, db: Resource, clusters: list[Resource]) -> Resource | None:
    """The cluster a DB instance belongs to: by Ref, or by the literal identifier both name."""
    value = db.props.get("DBClusterIdentifier")
    if value is None:
        return None
    for r in model.refs(db.stack, value):
        if r in clusters:
            return r
    name = model.literal(db.stack, value)
    if isinstance(name, str):
        for c in clusters:
            cname = model.literal(c.stack, c.props.get("DBClusterIdentifier"))
            if isinstance(cname, str) and cname.lower() == name.lower():
                return c
    return None


def analyze_data(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    clusters = model.of_type(RDS_CLUSTER, DOCDB_CLUSTER, NEPTUNE_CLUSTER)
    members: dict[Resource, list[Resource]] = {c: [] for c in clusters}
    db_instances = model.of_type(RDS_INSTANCE, DOCDB_INSTANCE, NEPTUNE_INSTANCE)
    cluster_of = {}
    for db in db_instances:
        c = _cluster_of(model, db, clusters)
        if c:
            members[c].append(db)
            cluster_of[db] = c
    replicas: dict[Resource, list[Resource]] = {}
    for db in db_instances:
        src = model.ref_one(db, "SourceDBInstanceIdentifier", RDS_INSTANCE)
        if src:
            replicas.setdefault(src, []).append(db)
    unmatched = [db for db in db_instances
                 if db not in cluster_of and db.props.get("DBClusterIdentifier") is not None]
    for c, mem in members.items():
        t.present = True
        _cluster(ctx, c, mem, unmatched)
    for db in db_instances:
        t.present = True
        _db_instance(ctx, db, cluster_of.get(db), replicas.get(db, []))
    proxies = model.of_type("AWS::RDS::DBProxy")
    if proxies:
        t.lines.append(f"RDS Proxy {', '.join(model.display(p) for p in proxies)} "
                       f"(pools and multiplexes connections)")
    for cache in model.of_type("AWS::ElastiCache::CacheCluster"):
        t.present = True
        _cache_cluster(ctx, cache)
    for group in model.of_type("AWS::ElastiCache::ReplicationGroup"):
        t.present = True
        _replication_group(ctx, group)
    for mem in model.of_type("AWS::MemoryDB::Cluster"):
        t.present = True
        replicas_n = model.number(mem.stack, mem.props.get("NumReplicasPerShard"))
        if "NumReplicasPerShard" not in mem.props:
            replicas_n = 1  # MemoryDB's default
        shards = model.number(mem.stack, mem.props.get("NumShards")) or 1
        t.components.append({"type": "memorydb-cluster", "logical_id": mem.logical_id,
                             "shards": shards, "replicas_per_shard": replicas_n})
        t.lines.append(f"MemoryDB cluster {model.display(mem)}: {plural(shards, 'shard')}, "
                       f"{'?' if replicas_n is None else replicas_n} replica(s) per shard")
        if replicas_n is None:
            ctx.unknown("data", mem, "replicas per shard", model.why_unknown(
                mem.stack, mem.props.get("NumReplicasPerShard")))
        elif replicas_n < 1:
            ctx.spof("data", mem, "memorydb-no-replica",
                     "a MemoryDB cluster without replicas: a node or AZ failure takes its "
                     "shard down until the node is replaced")
    for dom in model.of_type("AWS::OpenSearchService::Domain", "AWS::Elasticsearch::Domain"):
        t.present = True
        _search(ctx, dom)
    for broker in model.of_type("AWS::AmazonMQ::Broker"):
        t.present = True
        mode = model.literal(broker.stack, broker.props.get("DeploymentMode"))
        if "DeploymentMode" not in broker.props:
            mode = "SINGLE_INSTANCE"
        engine = model.literal(broker.stack, broker.props.get("EngineType"))
        t.components.append({"type": "mq-broker", "logical_id": broker.logical_id,
                             "engine": engine, "deployment_mode": mode})
        t.lines.append(f"Amazon MQ broker {model.display(broker)} ({engine}): {mode or '?'}")
        if mode is None:
            ctx.unknown("data", broker, "deployment mode", model.why_unknown(
                broker.stack, broker.props.get("DeploymentMode")))
        elif mode == "SINGLE_INSTANCE":
            ctx.spof("data", broker, "mq-single-instance",
                     "an Amazon MQ broker in SINGLE_INSTANCE mode: one broker in one AZ; "
                     "when it fails, messaging stops until it is recovered")
    analyze_managed(ctx, "data")
    if not t.present:
        t.lines.append("none: no database, cache, queue or broker in these templates")


def _cluster(ctx: Ctx, c: Resource, mem: list[Resource], unmatched: list[Resource]) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    engine = model.literal(c.stack, c.props.get("Engine"))
    if c.type in (DOCDB_CLUSTER, NEPTUNE_CLUSTER):
        engine = "docdb" if c.type == DOCDB_CLUSTER else "neptune"
    klass = model.literal(c.stack, c.props.get("DBClusterInstanceClass"))
    multi_az_cluster = c.props.get("DBClusterInstanceClass") is not None
    serverless_v1 = model.literal(c.stack, c.props.get("EngineMode")) == "serverless"
    n = 3 if multi_az_cluster and not mem else len(mem)
    v2 = c.props.get("ServerlessV2ScalingConfiguration") is not None
    t.components.append({"type": "db-cluster", "logical_id": c.logical_id, "engine": engine,
                         "instances": n, "multi_az_db_cluster": multi_az_cluster,
                         "members": [m.logical_id for m in mem]})
    label = {DOCDB_CLUSTER: "DocumentDB cluster", NEPTUNE_CLUSTER: "Neptune cluster"}.get(
        c.type, "DB cluster")
    t.lines.append(f"{label} {model.display(c)} ({engine}): {plural(n, 'instance')}"
                   + (" (Multi-AZ DB cluster: a writer and two readers in 3 AZs)"
                      if multi_az_cluster else "")
                   + (" (Aurora Serverless v2 capacity)" if v2 else "")
                   + (" (Aurora Serverless v1: no instances of its own)" if serverless_v1
                      else "")
                   + ("; fails over to a replica" if n >= 2 else ""))
    if multi_az_cluster:
        storage = model.number(c.stack, c.props.get("AllocatedStorage"))
        stype = model.literal(c.stack, c.props.get("StorageType"))
        ctx.databases.append(Database(c, engine if isinstance(engine, str) else None,
                                      klass if isinstance(klass, str) else None, True, None,
                                      storage, stype if isinstance(stype, str) else None,
                                      None, None, instances=3))
    if n < 2 and not serverless_v1 and unmatched:
        names = ", ".join(u.logical_id for u in unmatched)
        ctx.unknown("data", c, "instances", f"DB instances {names} name a cluster the report "
                    f"cannot match to this one (its identifier is not fixed)")
    elif serverless_v1:
        ctx.spof("data", c, "db-cluster-one-instance",
                 "an Aurora Serverless v1 cluster: its capacity runs in one AZ, and when it or "
                 "its AZ fails Aurora recreates it in another AZ (minutes) instead of failing "
                 "over to a replica")
    elif n < 2:
        ctx.spof("data", c, "db-cluster-one-instance",
                 "a database cluster with a single instance: a failure means creating a new "
                 "instance (minutes) instead of failing over to a replica")


def _db_instance(ctx: Ctx, db: Resource, cluster: Resource | None,
                 reps: list[Resource]) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    p = db.props
    engine = model.literal(db.stack, p.get("Engine"))
    if db.type in (DOCDB_INSTANCE, NEPTUNE_INSTANCE):
        engine = "docdb" if db.type == DOCDB_INSTANCE else "neptune"
    klass = model.literal(db.stack, p.get("DBInstanceClass"))
    source = model.ref_one(db, "SourceDBInstanceIdentifier", RDS_INSTANCE)
    multi = model.boolean(db.stack, p.get("MultiAZ")) if "MultiAZ" in p else False
    pg = model.ref_one(db, "DBParameterGroupName", "AWS::RDS::DBParameterGroup")
    max_conn = None
    if pg:
        params = pg.props.get("Parameters") or {}
        if isinstance(params, dict) and "max_connections" in params:
            max_conn = str(model.literal(pg.stack, params["max_connections"]))
    storage = model.number(db.stack, p.get("AllocatedStorage"))
    max_storage = model.number(db.stack, p.get("MaxAllocatedStorage"))
    stype = model.literal(db.stack, p.get("StorageType"))
    subnet_group = model.ref_one(db, "DBSubnetGroupName", "AWS::RDS::DBSubnetGroup")
    sg_azs: list[str] = []
    sg_one = False
    if subnet_group:
        sg_spread = spread(model, subnet_group.stack, subnet_group.props.get("SubnetIds"))
        sg_azs, sg_one = sg_spread.azs, sg_spread.one
    ctx.databases.append(Database(db, engine if isinstance(engine, str) else None,
                                  klass if isinstance(klass, str) else None, bool(multi),
                                  max_conn, storage, stype if isinstance(stype, str) else None,
                                  source.logical_id if source else None,
                                  cluster.logical_id if cluster else None))
    t.components.append({"type": "db-instance", "logical_id": db.logical_id,
                         "engine": engine, "class": klass, "multi_az": multi,
                         "read_replicas": [r.logical_id for r in reps],
                         "replica_of": source.logical_id if source else None,
                         "cluster": cluster.logical_id if cluster else None,
                         "max_connections_parameter": max_conn,
                         "subnet_group_azs": sg_azs})
    if cluster:
        t.lines.append(f"  member {model.display(db)} of {cluster.logical_id}: {klass}")
        return
    if source:
        t.lines.append(f"read replica {model.display(db)} of {source.logical_id}: {klass}")
        return
    if isinstance(p.get("DBClusterIdentifier"), (str, dict)):
        ctx.unknown("data", db, "cluster", "names a DB cluster that is not in these templates "
                    f"({model.literal(db.stack, p.get('DBClusterIdentifier')) or 'unresolved'})")
        t.lines.append(f"DB instance {model.display(db)}: member of a cluster outside these "
                       f"templates")
        return
    deploy_fails = (f"its DB subnet group {subnet_group.logical_id} is in one AZ "
                    f"({', '.join(sg_azs) or 'one AZ'}): a deploy would fail (RDS requires a DB "
                    f"subnet group to cover >= 2 AZs)") if subnet_group and sg_one else ""
    t.lines.append(
        f"RDS {engine or 'database'} {model.display(db)}: {klass or 'class not fixed'}, "
        + (f"Multi-AZ requested, but {deploy_fails}; no standby in another AZ"
           if multi and deploy_fails else
           "Multi-AZ (synchronous standby in another AZ, automatic failover)" if multi
           else "Single-AZ (no standby)" if multi is False else "Multi-AZ not known")
        + f", {plural(len(reps), 'read replica')}"
        + (f"; subnet group in {plural(len(sg_azs), 'AZ')} ({', '.join(sg_azs)})"
           + (": a deploy would fail (RDS requires >= 2 AZs)" if sg_one and not multi else "")
           if sg_azs else "")
        + "; scales up only (a bigger class)" + ("" if not reps else " and reads out")
        + (f"; storage grows by itself up to {max_storage} GB" if max_storage else ""))
    if deploy_fails:
        ctx.spof("data", db, "db-subnet-group-one-az",
                 f"{deploy_fails}; were it created, it would stop with its AZ")
    if multi is None:
        ctx.unknown("data", db, "Multi-AZ", model.why_unknown(db.stack, p.get("MultiAZ"))
                    if not isinstance(model.literal(db.stack, p.get("MultiAZ")), str)
                    else f"MultiAZ {p.get('MultiAZ')!r} is not true or false")
    elif not multi:
        ctx.spof("data", db, "db-single-az",
                 "a single-AZ database: a host or AZ failure stops it until it is recovered "
                 "or restored; no standby to fail over to")


def _cache_cluster(ctx: Ctx, cache: Resource) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    nodes = model.number(cache.stack, cache.props.get("NumCacheNodes")) or 1
    engine = model.literal(cache.stack, cache.props.get("Engine"))
    cross_az = model.literal(cache.stack, cache.props.get("AZMode")) == "cross-az"
    t.lines.append(f"ElastiCache cluster {model.display(cache)} ({engine}): "
                   f"{plural(nodes, 'node')}" + (", across AZs" if cross_az else ""))
    t.components.append({"type": "cache-cluster", "logical_id": cache.logical_id,
                         "engine": engine, "nodes": nodes})
    if nodes < 2 or engine != "memcached":
        ctx.spof("data", cache, "cache-single-node",
                 "a cache cluster without a replica: a node failure empties the cache")
    elif not cross_az:
        ctx.spof("data", cache, "cache-single-node",
                 "a memcached cluster whose nodes are all in one AZ (AZMode is not cross-az)")


def _replication_group(ctx: Ctx, group: Resource) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    p = group.props
    configs = [d(c) for c in lst(p.get("NodeGroupConfiguration"))]
    if "NumCacheClusters" in p:
        nodes = model.number(group.stack, p.get("NumCacheClusters"))
        source = p.get("NumCacheClusters")
    elif "ReplicasPerNodeGroup" in p:
        per = model.number(group.stack, p.get("ReplicasPerNodeGroup"))
        nodes, source = (None if per is None else per + 1), p.get("ReplicasPerNodeGroup")
    elif configs:
        counts = [model.number(group.stack, c.get("ReplicaCount")) if "ReplicaCount" in c
                  else 0 for c in configs]
        nodes = None if None in counts else min(counts) + 1
        source = [c.get("ReplicaCount") for c in configs]
    else:
        nodes, source = 1, None
    failover = model.boolean(group.stack, p.get("AutomaticFailoverEnabled")) \
        if "AutomaticFailoverEnabled" in p else False
    shards = model.number(group.stack, p.get("NumNodeGroups")) or max(len(configs), 1)
    t.lines.append(f"ElastiCache replication group {model.display(group)}: "
                   f"{plural(shards, 'shard')}, {'?' if nodes is None else nodes} node(s) per "
                   f"shard, automatic failover "
                   f"{'on' if failover else 'off' if failover is False else 'unknown'}")
    t.components.append({"type": "cache-replication-group", "logical_id": group.logical_id,
                         "shards": shards, "nodes_per_shard": nodes,
                         "automatic_failover": failover})
    if (nodes is not None and nodes < 2) or failover is False:
        ctx.spof("data", group, "cache-no-failover",
                 "a replication group without a replica and automatic failover")
    elif nodes is None:
        ctx.unknown("data", group, "replicas", model.why_unknown(group.stack, source))
    elif failover is None:
        ctx.unknown("data", group, "automatic failover", model.why_unknown(
            group.stack, p.get("AutomaticFailoverEnabled")))


def _search(ctx: Ctx, dom: Resource) -> None:
    model, t = ctx.model, ctx.tiers["data"]
    config = d(dom.props.get("ClusterConfig") or dom.props.get("ElasticsearchClusterConfig"))
    count = model.number(dom.stack, config.get("InstanceCount")) if "InstanceCount" in config \
        else 1
    zone_aware = model.boolean(dom.stack, config.get("ZoneAwarenessEnabled")) \
        if "ZoneAwarenessEnabled" in config else False
    azs = model.number(dom.stack, d(config.get("ZoneAwarenessConfig")).get(
        "AvailabilityZoneCount")) or (2 if zone_aware else 1)
    t.components.append({"type": "search-domain", "logical_id": dom.logical_id,
                         "data_nodes": count, "zone_awareness": zone_aware, "azs": azs})
    t.lines.append(f"OpenSearch domain {model.display(dom)}: "
                   f"{'?' if count is None else count} data node(s)"
                   + (f", zone awareness over {azs} AZs" if zone_aware else
                      ", no zone awareness (one AZ)"))
    if count is None:
        ctx.unknown("data", dom, "data nodes", model.why_unknown(
            dom.stack, config.get("InstanceCount")))
    elif count < 2:
        ctx.spof("data", dom, "search-one-node",
                 "an OpenSearch domain with one data node: when it fails, search is down and "
                 "unreplicated data is lost until restored from a snapshot")
    elif zone_aware is False:
        ctx.spof("data", dom, "search-one-az",
                 "an OpenSearch domain without zone awareness: all its nodes are in one AZ")
    elif zone_aware is None:
        ctx.unknown("data", dom, "zone awareness", model.why_unknown(
            dom.stack, config.get("ZoneAwarenessEnabled")))


# Who publishes operators' notifications (alarms, Auto Scaling and RDS events), and the
# protocols that reach a person rather than a program.
_OPS_PUBLISHERS = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm",
                   "AWS::AutoScaling::AutoScalingGroup", "AWS::RDS::EventSubscription")
_TO_PEOPLE = ("email", "email-json", "sms")


def operator_notifications(model: Model, topic: Resource) -> str | None:
    """Why an SNS topic only notifies operators (its subscriptions reach people: email or
    SMS; or it has none and only alarms, Auto Scaling or RDS events publish to it), or None:
    such a topic carries no data of the app and is no data tier."""
    subscriptions = topic.props.get("Subscription")
    inline = [d(x).get("Protocol") for x in subscriptions] if isinstance(subscriptions, list) else []
    referrers = model.referrers(topic)
    protocols = inline + [r.props.get("Protocol") for r in referrers if r.type == "AWS::SNS::Subscription"]
    others = [r for r in referrers if r.type not in ("AWS::SNS::Subscription", "AWS::SNS::TopicPolicy")]
    if any(r.type not in _OPS_PUBLISHERS for r in others):
        return None  # something else uses it (an app's role or environment, a rule, ...)
    literal = [model.literal(topic.stack, p) for p in protocols]
    if protocols and all(isinstance(p, str) and p.lower() in _TO_PEOPLE for p in literal):
        return f"its subscriptions reach people: {', '.join(sorted(set(literal)))}"
    if not protocols and others:
        return ("only " + ", ".join(sorted({r.type.split("::")[-1] for r in others}))
                + " publish to it")
    return None


def analyze_managed(ctx: Ctx, tier: str) -> None:
    """Managed services of a tier: listed, distributed by nature."""
    model, t = ctx.model, ctx.tiers[tier]
    for rtype, (where, label) in MANAGED.items():
        if where != tier:
            continue
        for res in model.of_type(rtype):
            ops = operator_notifications(model, res) if rtype == "AWS::SNS::Topic" else None
            if ops:
                t.lines.append(f"{label} {model.display(res)} notifies the operators ({ops}): "
                               f"no data of the app, not part of the data tier")
                continue
            t.present = True
            t.lines.append(f"{label} {model.display(res)} (managed, distributed by nature)")
            t.components.append({"type": "managed", "resource_type": rtype,
                                 "logical_id": res.logical_id, "label": label})


def analyze_storage(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["storage"]
    for bucket in model.of_type("AWS::S3::Bucket"):
        t.present = True
        versioning = d(bucket.props.get("VersioningConfiguration")).get("Status") == "Enabled"
        replication = "ReplicationConfiguration" in bucket.props
        t.components.append({"type": "s3-bucket", "logical_id": bucket.logical_id,
                             "versioned": versioning, "replicated": replication})
        t.lines.append(f"S3 bucket {model.display(bucket)} (managed, distributed by nature: "
                       f"stored across >= 3 AZs"
                       + (", versioned" if versioning else "")
                       + (", replicated to another bucket" if replication else "") + ")")
    for fs in model.of_type("AWS::EFS::FileSystem"):
        t.present = True
        one_zone = fs.props.get("AvailabilityZoneName")
        t.components.append({"type": "efs", "logical_id": fs.logical_id,
                             "one_zone": bool(one_zone)})
        t.lines.append(f"EFS file system {model.display(fs)} "
                       + ("(One Zone: stored in one AZ)" if one_zone else
                          "(Regional: stored across AZs, managed)"))
        if one_zone:
            ctx.spof("storage", fs, "efs-one-zone",
                     "an EFS One Zone file system lives in one AZ: if it fails, the files "
                     "are unavailable (and may be lost)")
    analyze_managed(ctx, "storage")
    if not t.present:
        t.lines.append("none: no S3 bucket or file system in these templates")


def analyze_edge(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["edge"]
    for dist in model.of_type("AWS::CloudFront::Distribution"):
        t.present = True
        config = d(dist.props.get("DistributionConfig"))
        origins = []
        for origin in lst(config.get("Origins")):
            if not isinstance(origin, dict):
                continue
            vpc = origin.get("VpcOriginConfig")
            if vpc:
                vo = next((r for r in model.refs(dist.stack, vpc)
                           if r.type == "AWS::CloudFront::VpcOrigin"), None)
                behind = [r for r in (model.refs(vo.stack, vo.props) if vo else [])
                          if r.type in ("AWS::ElasticLoadBalancingV2::LoadBalancer",
                                        "AWS::EC2::Instance")]
                target = behind[0] if behind else vo
                kind = "VPC origin"
            else:
                refs = model.refs(dist.stack, origin.get("DomainName"))
                target = refs[0] if refs else None
                kind = "S3 origin" if (target and target.type == "AWS::S3::Bucket") or \
                    "S3OriginConfig" in origin else "custom origin"
            origins.append({"id": origin.get("Id"), "kind": kind,
                            "target": target.logical_id if target else None,
                            "target_type": target.type if target else None})
        groups = d(config.get("OriginGroups")).get("Quantity") or 0
        t.components.append({"type": "cloudfront-distribution", "logical_id": dist.logical_id,
                             "origins": origins, "origin_groups": groups})
        described = ", ".join(
            f"{o['kind']} -> {o['target'] or 'outside these templates'}" for o in origins)
        t.lines.append(f"CloudFront distribution {model.display(dist)} (managed, distributed "
                       f"by nature: edge locations worldwide); origins: {described or 'none'}"
                       + (f"; {groups} origin failover group(s)" if groups else ""))
    analyze_managed(ctx, "edge")
    if not t.present:
        t.lines.append("none: no CloudFront distribution or API in these templates")
