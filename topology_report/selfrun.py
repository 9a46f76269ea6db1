"""Self-run stateful servers: a database or cache on EC2. An instance (or Auto Scaling group)
whose security group opens a database port to the security group of another part of the app
tier holds the app's state: it is a data tier, not an app host. One such server, or a group
whose minimum is below 2, is a single point of failure (`self-run-data-single`); a group of
>= 2 is unknown (whether the servers replicate is configured on them, not in the template)."""

from __future__ import annotations

from .findings import AppUnit, Ctx, d, lst
from .model import Resource

SG = "AWS::EC2::SecurityGroup"
INGRESS = "AWS::EC2::SecurityGroupIngress"
LAUNCH = ("AWS::EC2::LaunchTemplate", "AWS::AutoScaling::LaunchConfiguration",
          "AWS::EC2::NetworkInterface")
OTHER_COMPUTE = ("AWS::ECS::Service", "AWS::Lambda::Function", "AWS::Serverless::Function")

DB_PORTS = {3306: "MySQL/MariaDB", 5432: "PostgreSQL", 1433: "SQL Server", 1521: "Oracle",
            27017: "MongoDB", 6379: "Redis", 11211: "memcached", 9042: "Cassandra",
            9200: "Elasticsearch/OpenSearch", 5984: "CouchDB", 8086: "InfluxDB",
            5672: "RabbitMQ", 9092: "Kafka", 2181: "ZooKeeper", 7687: "Neo4j"}


def _groups(ctx: Ctx, res: Resource) -> set[Resource]:
    """The security groups a resource runs with: its own, its launch template's or launch
    configuration's, its network interfaces'."""
    model = ctx.model
    found = set()
    for r in model.refs(res.stack, res.props):
        if r.type == SG:
            found.add(r)
        elif r.type in LAUNCH:
            found.update(x for x in model.refs(r.stack, r.props) if x.type == SG)
    return found


def _ingress(ctx: Ctx, group: Resource) -> list[tuple[dict, Resource]]:
    """(rule, the stack's resource it is read from) for each ingress rule of a group."""
    model = ctx.model
    rules = [(d(x), group) for x in lst(model.resolve_ifs(group.stack, group.props)
                                        .get("SecurityGroupIngress"))]
    for r in model.of_type(INGRESS):
        if group in model.refs(r.stack, r.props.get("GroupId")):
            rules.append((model.resolve_ifs(r.stack, r.props), r))
    return rules


def _db_port(ctx: Ctx, rule: dict, where: Resource) -> int | None:
    model = ctx.model
    proto = str(model.literal(where.stack, rule.get("IpProtocol")) or "").lower()
    if proto not in ("tcp", "6"):
        return None
    low = model.number(where.stack, rule.get("FromPort"))
    high = model.number(where.stack, rule.get("ToPort"))
    if low is None or high is None or high - low > 100:
        return None  # an unknown or a wide range is not a database port
    return next((p for p in DB_PORTS if low <= p <= high), None)


def analyze_self_run(ctx: Ctx) -> None:
    model = ctx.model
    units = [u for u in ctx.app_units if u.kind in ("instance", "asg")]
    if not units:
        return
    groups = {u.resource: _groups(ctx, u.resource) for u in units}
    for r in model.of_type(*OTHER_COMPUTE):
        groups[r] = _groups(ctx, r)
    for unit in units:
        found = None
        for group in groups[unit.resource]:
            for rule, where in _ingress(ctx, group):
                port = _db_port(ctx, rule, where)
                if port is None:
                    continue
                sources = [s for s in model.refs(where.stack, rule.get("SourceSecurityGroupId"))
                           if s.type == SG]
                clients = [other for other, gs in groups.items()
                           if other is not unit.resource and gs & set(sources)]
                if clients:
                    found = (group, port, sources[0], clients)
                    break
            if found:
                break
        if found:
            _move_to_data(ctx, unit, *found)


def _move_to_data(ctx: Ctx, unit: AppUnit, group: Resource, port: int, source: Resource,
                  clients: list[Resource]) -> None:
    model, res = ctx.model, unit.resource
    compute, data = ctx.tiers["compute"], ctx.tiers["data"]
    ctx.app_units.remove(unit)
    ctx.idle_instances.append(unit)  # still priced as a host
    name = model.display(res)
    compute.spofs[:] = [s for s in compute.spofs if s.logical_id != res.logical_id]
    compute.lines[:] = [x for x in compute.lines if not x.startswith(
        (f"EC2 instance {name}:", f"Auto Scaling group {name}"))]
    compute.components[:] = [c for c in compute.components
                             if c.get("logical_id") != res.logical_id]
    if not compute.lines:
        compute.present = False
        compute.lines.append("none: no app compute of its own (its only server holds data)")
    engine = DB_PORTS[port]
    opens = (f"its security group {group.logical_id} opens port {port} ({engine}) to "
             f"{source.logical_id}, the security group of "
             f"{', '.join(c.logical_id for c in clients)}")
    data.present = True
    data.lines[:] = [x for x in data.lines if not x.startswith("none")]
    what = "EC2 instance" if unit.kind == "instance" else "Auto Scaling group"
    count = "1 server" if unit.kind == "instance" else f"min {unit.min}, max {unit.max}"
    data.lines.append(f"{what} {name} runs {engine} itself ({count}): {opens}")
    data.components.append({"type": "self-run-data", "logical_id": res.logical_id,
                            "engine": engine, "port": port, "servers": unit.min})
    if unit.kind == "instance" or unit.min is None or unit.min < 2:
        ctx.spof("data", res, "self-run-data-single",
                 f"a {engine} server on {'one EC2 instance' if unit.kind == 'instance' else 'an Auto Scaling group whose minimum is below 2'} "
                 f"({opens}): when it fails, the app's data is unreachable until it is "
                 f"rebuilt, and what was not backed up is lost")
    else:
        ctx.unknown("data", res, "replication",
                    f"{unit.min} servers run {engine} ({opens}): whether they replicate "
                    f"and fail over is configured on the servers, not in the template")
