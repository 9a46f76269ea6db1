"""Per-tier replication, single points of failure and the verdict of one stage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import Model, Resource

TIERS = ("edge", "load balancing", "compute", "data", "storage", "network egress")

# Metadata a template can carry to name a single point of failure it accepts on purpose:
#   "Metadata": {"TopologyReport": {"AcceptedSinglePointOfFailure": "why"}}
ACCEPT_METADATA_KEY = "TopologyReport"
ACCEPT_METADATA_FIELD = "AcceptedSinglePointOfFailure"


@dataclass
class Spof:
    rule: str
    tier: str
    logical_id: str
    stack: str
    resource: str  # how the report names it
    reason: str
    accepted: str | None = None  # the reason it is accepted, when it is

    def to_dict(self) -> dict:
        return {"rule": self.rule, "tier": self.tier, "logical_id": self.logical_id,
                "stack": self.stack, "resource": self.resource, "reason": self.reason,
                "accepted": self.accepted}


@dataclass
class Tier:
    name: str
    present: bool = False
    lines: list[str] = field(default_factory=list)
    components: list[dict] = field(default_factory=list)
    spofs: list[Spof] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "present": self.present, "summary": self.lines,
                "components": self.components, "spofs": [s.to_dict() for s in self.spofs]}


@dataclass
class AppUnit:
    """The app tier as the capacity model sees it: an ASG or a lone instance."""
    kind: str  # "asg" or "instance"
    resource: Resource
    min: int | None
    max: int | None
    desired: int | None
    instance_type: str | None
    azs: list[str]
    game_service: dict


@dataclass
class Database:
    resource: Resource
    engine: str | None
    instance_class: str | None
    multi_az: bool
    max_connections_param: str | None
    storage_gb: int | None
    storage_type: str | None
    replica_of: str | None
    cluster: str | None


@dataclass
class Analysis:
    model: Model
    tiers: dict[str, Tier]
    app_units: list[AppUnit]
    databases: list[Database]
    has_proxy: bool
    verdict: dict
    region: str | None = None

    @property
    def spofs(self) -> list[Spof]:
        return [s for t in self.tiers.values() for s in t.spofs]

    @property
    def open_spofs(self) -> list[Spof]:
        return [s for s in self.spofs if not s.accepted]


# --- helpers -------------------------------------------------------------------------------


def _d(value: object) -> dict:
    """A mapping, or {} when the template has something else there."""
    return value if isinstance(value, dict) else {}


def _l(value: object) -> list:
    return value if isinstance(value, list) else []


def _az_of_subnet(model: Model, subnet: Resource) -> str | None:
    value = subnet.props.get("AvailabilityZone")
    lit = model.literal(subnet.stack, value)
    if isinstance(lit, str):
        return lit
    if isinstance(value, dict) and "Fn::Select" in value:
        sel = value["Fn::Select"]
        if isinstance(sel, list) and sel and isinstance(sel[0], (int, str)):
            return f"AZ#{sel[0]}"
    lit = model.literal(subnet.stack, subnet.props.get("AvailabilityZoneId"))
    return lit if isinstance(lit, str) else None


def _azs(model: Model, subnets: list[Resource]) -> tuple[list[str], int]:
    """Known AZs of the subnets (sorted) and how many subnets have no fixed AZ."""
    known, unknown = set(), 0
    for s in subnets:
        az = _az_of_subnet(model, s)
        if az:
            known.add(az)
        else:
            unknown += 1
    return sorted(known), unknown


def _az_text(azs: list[str], unknown: int) -> str:
    if not azs and not unknown:
        return "AZs not known (its subnets come from outside these templates)"
    if not azs and unknown:
        return f"{unknown} subnet(s) whose AZ the template does not fix"
    text = f"{len(azs)} AZ{'s' if len(azs) != 1 else ''} ({', '.join(azs)})" if azs else "no AZ"
    if unknown:
        text += f" + {unknown} subnet(s) of unknown AZ"
    return text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _Network:
    """Subnets, their route tables' default routes, and NAT devices."""

    def __init__(self, model: Model):
        self.model = model
        self.route_table_of: dict[Resource, Resource] = {}
        for assoc in model.of_type("AWS::EC2::SubnetRouteTableAssociation"):
            subnet = model.ref_one(assoc, "SubnetId", "AWS::EC2::Subnet")
            table = model.ref_one(assoc, "RouteTableId", "AWS::EC2::RouteTable")
            if subnet and table:
                self.route_table_of[subnet] = table
        self.default_route: dict[Resource, Resource] = {}  # route table -> target
        for route in model.of_type("AWS::EC2::Route"):
            dest = model.literal(route.stack, route.props.get("DestinationCidrBlock"))
            if dest != "0.0.0.0/0":
                continue
            table = model.ref_one(route, "RouteTableId", "AWS::EC2::RouteTable")
            target = None
            for prop in ("NatGatewayId", "InstanceId", "GatewayId", "NetworkInterfaceId",
                         "TransitGatewayId"):
                if prop in route.props:
                    target = model.ref_one(route, prop)
                    break
            if table and target:
                self.default_route[table] = target
        self.subnets = model.of_type("AWS::EC2::Subnet")

    def egress_target(self, subnet: Resource) -> Resource | None:
        table = self.route_table_of.get(subnet)
        return self.default_route.get(table) if table else None

    def kind(self, subnet: Resource) -> str:
        target = self.egress_target(subnet)
        if target is None:
            return "isolated"
        if target.type == "AWS::EC2::InternetGateway":
            return "public"
        return "private"

    def nat_devices(self) -> dict[Resource, list[Resource]]:
        served: dict[Resource, list[Resource]] = {}
        for gw in self.model.of_type("AWS::EC2::NatGateway"):
            served.setdefault(gw, [])
        for subnet in self.subnets:
            target = self.egress_target(subnet)
            if target is not None and target.type != "AWS::EC2::InternetGateway":
                served.setdefault(target, []).append(subnet)
        return served


def _accepted(res: Resource, accept: dict[str, str]) -> str | None:
    meta = res.metadata.get(ACCEPT_METADATA_KEY)
    if isinstance(meta, dict) and meta.get(ACCEPT_METADATA_FIELD):
        return str(meta[ACCEPT_METADATA_FIELD])
    for key in (res.logical_id, res.key):
        if key in accept:
            return accept[key] or "accepted on the command line"
    return None


def _recovery_alarm(model: Model, instance: Resource) -> Resource | None:
    for alarm in model.referrers(instance, "AWS::CloudWatch::Alarm"):
        actions = alarm.props.get("AlarmActions")
        text = repr(actions)
        if "ec2:recover" in text or (":automate:" in text and "recover" in text):
            return alarm
    return None


# --- the analysis --------------------------------------------------------------------------


def analyze(model: Model, accept: dict[str, str] | None = None) -> Analysis:
    accept = accept or {}
    tiers = {name: Tier(name) for name in TIERS}
    net = _Network(model)

    def spof(tier: str, res: Resource, rule: str, reason: str) -> None:
        tiers[tier].spofs.append(Spof(rule, tier, res.logical_id, res.stack.name,
                                      model.display(res), reason, _accepted(res, accept)))

    nat_devices = net.nat_devices()
    nat_instances = {d for d in nat_devices if d.type == "AWS::EC2::Instance"}
    for inst in model.of_type("AWS::EC2::Instance"):
        if model.boolean(inst.stack, inst.props.get("SourceDestCheck")) is False:
            nat_instances.add(inst)

    # ---- network egress ---------------------------------------------------------------
    t = tiers["network egress"]
    private = [s for s in net.subnets if net.kind(s) == "private"]
    gateways = [d for d in nat_devices if d.type == "AWS::EC2::NatGateway"]
    if nat_devices or private:
        t.present = True
    for device, served in nat_devices.items():
        served_azs, _ = _azs(model, served)
        if device.type == "AWS::EC2::NatGateway":
            home = model.ref_one(device, "SubnetId", "AWS::EC2::Subnet")
            home_az = _az_of_subnet(model, home) if home else None
            t.components.append({"type": "nat-gateway", "logical_id": device.logical_id,
                                 "az": home_az, "serves_azs": served_azs,
                                 "serves_subnets": len(served)})
            others = [az for az in served_azs if az != home_az]
            comparable = home_az is not None and all(
                az.startswith("AZ#") == home_az.startswith("AZ#") for az in served_azs)
            if len(served_azs) > 1 or (others and comparable):
                spof("network egress", device, "nat-gateway-shared",
                     f"one NAT gateway (in {home_az or 'an unknown AZ'}) serves private subnets"
                     f" in {', '.join(served_azs)}: if its AZ fails, private subnets in "
                     f"{', '.join(others) if comparable else 'the other AZs'} lose internet "
                     f"egress")
        elif device in nat_instances or device.type == "AWS::EC2::Instance":
            nat_instances.add(device)
            itype = model.literal(device.stack, device.props.get("InstanceType"))
            recovery = _recovery_alarm(model, device)
            t.components.append({"type": "nat-instance", "logical_id": device.logical_id,
                                 "instance_type": itype, "serves_azs": served_azs,
                                 "auto_recovery": bool(recovery)})
            spof("network egress", device, "nat-instance",
                 f"a single EC2 instance does NAT for private subnets in "
                 f"{', '.join(served_azs) or 'its VPC'}: when it fails, they lose internet "
                 f"egress until it is recovered")
        else:
            t.components.append({"type": device.type, "logical_id": device.logical_id,
                                 "serves_azs": served_azs})
    for inst in nat_instances:
        if inst not in nat_devices:
            t.present = True
            t.components.append({"type": "nat-instance", "logical_id": inst.logical_id,
                                 "serves_azs": []})
            spof("network egress", inst, "nat-instance",
                 "a single EC2 instance with source/destination check off (a NAT instance)")
    if t.present:
        private_azs, _ = _azs(model, private)
        if gateways:
            gw_azs = sorted({c["az"] for c in t.components
                             if c["type"] == "nat-gateway" and c["az"]})
            per_az = (len(gateways) >= len(private_azs) and not
                      any(s.rule == "nat-gateway-shared" for s in t.spofs))
            t.lines.append(
                f"{_plural(len(gateways), 'NAT gateway')} in {_az_text(gw_azs, 0)}"
                + ("; one per AZ of the private subnets" if per_az else "")
                + " (managed, redundant within its AZ)")
        ninst = [c for c in t.components if c["type"] == "nat-instance"]
        if ninst:
            for c in ninst:
                rec = ", EC2 auto-recovery alarm" if c.get("auto_recovery") else ""
                t.lines.append(f"NAT instance {c['logical_id']} "
                               f"({c.get('instance_type') or 'type not fixed'}{rec})")
        if private:
            t.lines.append(f"{_plural(len(private), 'private subnet')} in "
                           f"{_az_text(private_azs, 0)} egress through NAT")
        elif not nat_devices:
            t.lines.append("no NAT")
    endpoints = model.of_type("AWS::EC2::VPCEndpoint")
    if endpoints:
        kinds = [str(model.literal(e.stack, e.props.get("VpcEndpointType")) or "Gateway")
                 for e in endpoints]
        t.lines.append(f"VPC endpoints: {kinds.count('Gateway')} gateway, "
                       f"{kinds.count('Interface')} interface (traffic that skips NAT)")
        t.components.extend({"type": "vpc-endpoint", "logical_id": e.logical_id, "kind": k}
                            for e, k in zip(endpoints, kinds, strict=True))
    if not t.present and not endpoints:
        t.lines.append("none in these templates (no NAT, no private subnets)")

    # ---- load balancing ---------------------------------------------------------------
    t = tiers["load balancing"]
    lbs = model.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer",
                        "AWS::ElasticLoadBalancing::LoadBalancer")
    for lb in lbs:
        t.present = True
        subnets = [r for r in model.refs(lb.stack, [lb.props.get("Subnets"),
                                                    lb.props.get("SubnetMappings")])
                   if r.type == "AWS::EC2::Subnet"]
        azs, unknown = _azs(model, subnets)
        zones = model.literal(lb.stack, lb.props.get("AvailabilityZones"))
        if not subnets and isinstance(zones, list):
            azs = sorted({z for z in zones if isinstance(z, str)})
        classic = lb.type == "AWS::ElasticLoadBalancing::LoadBalancer"
        kind = "classic" if classic else str(
            model.literal(lb.stack, lb.props.get("Type")) or "application")
        scheme = str(model.literal(lb.stack, lb.props.get("Scheme")) or "internet-facing")
        t.components.append({"type": f"{kind}-load-balancer", "logical_id": lb.logical_id,
                             "scheme": scheme, "subnets": len(subnets), "azs": azs})
        t.lines.append(f"{kind} load balancer {model.display(lb)} ({scheme}): "
                       f"{_plural(len(subnets), 'subnet')} in {_az_text(azs, unknown)} "
                       f"(managed, one node per AZ)")
        if len(subnets) == 1 or (len(azs) == 1 and not unknown):
            spof("load balancing", lb, "lb-one-az",
                 f"the load balancer has {_plural(len(subnets), 'subnet')} in "
                 f"{_plural(len(azs), 'AZ')}: if that AZ fails, nothing receives traffic")
    if not lbs:
        t.lines.append("none: no load balancer in these templates")

    # ---- compute ----------------------------------------------------------------------
    t = tiers["compute"]
    app_units: list[AppUnit] = []
    for asg in model.of_type("AWS::AutoScaling::AutoScalingGroup"):
        t.present = True
        p = asg.props
        mn, mx = model.number(asg.stack, p.get("MinSize")), model.number(asg.stack, p.get("MaxSize"))
        desired = model.number(asg.stack, p.get("DesiredCapacity"))
        subnets = [r for r in model.refs(asg.stack, p.get("VPCZoneIdentifier"))
                   if r.type == "AWS::EC2::Subnet"]
        azs, unknown = _azs(model, subnets)
        zones = model.literal(asg.stack, p.get("AvailabilityZones"))
        if not subnets and isinstance(zones, list):
            azs = sorted({z for z in zones if isinstance(z, str)})
        template = (model.ref_one(asg, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
                    or model.ref_one(asg, "MixedInstancesPolicy", "AWS::EC2::LaunchTemplate"))
        config = model.ref_one(asg, "LaunchConfigurationName",
                               "AWS::AutoScaling::LaunchConfiguration")
        itype = None
        if template:
            data = _d(template.props.get("LaunchTemplateData"))
            itype = model.literal(template.stack, data.get("InstanceType"))
        elif config:
            itype = model.literal(config.stack, config.props.get("InstanceType"))
        overrides = _d(_d(p.get("MixedInstancesPolicy")).get("LaunchTemplate")).get(
            "Overrides")
        if not itype and isinstance(overrides, list) and overrides:
            itype = model.literal(asg.stack, _d(overrides[0]).get("InstanceType"))
        health = str(model.literal(asg.stack, p.get("HealthCheckType")) or "EC2")
        tgs = [r for r in model.refs(asg.stack, p.get("TargetGroupARNs"))
               if r.type == "AWS::ElasticLoadBalancingV2::TargetGroup"]
        policies = model.referrers(asg, "AWS::AutoScaling::ScalingPolicy",
                                   "AWS::AutoScaling::ScheduledAction")
        scaling = []
        for pol in policies:
            if pol.type == "AWS::AutoScaling::ScheduledAction":
                scaling.append("scheduled action")
                continue
            ptype = str(model.literal(pol.stack, pol.props.get("PolicyType")) or "SimpleScaling")
            tt = _d(pol.props.get("TargetTrackingConfiguration"))
            if ptype == "TargetTrackingScaling":
                metric = _d(tt.get("PredefinedMetricSpecification")).get(
                    "PredefinedMetricType") or "custom metric"
                scaling.append(f"target tracking {metric} at "
                               f"{model.literal(pol.stack, tt.get('TargetValue'))}")
            else:
                scaling.append(ptype.replace("Scaling", " scaling").lower())
        meta = _game_service_metadata(template or config, asg)
        update = _d(asg.raw.get("UpdatePolicy"))
        update_kind = ("rolling update" if "AutoScalingRollingUpdate" in update else
                       "replacing update" if "AutoScalingReplacingUpdate" in update else
                       None)
        if not update_kind and "InstanceRefresh" in repr(asg.raw):
            update_kind = "instance refresh"
        app_units.append(AppUnit("asg", asg, mn, mx, desired, itype, azs, meta))
        heals = (f"heals itself (replaces instances failing {health} health checks"
                 + (" of its load balancer" if "ELB" in health.split(",") else
                    "; EC2 status only, not the app's health") + ")")
        scales = (f"scales out: {', '.join(scaling)}" if scaling and (mx or 0) > (mn or 0)
                  else "does not scale by itself (no scaling policy)" if not scaling
                  else "cannot scale (max = min)")
        t.components.append({"type": "auto-scaling-group", "logical_id": asg.logical_id,
                             "min": mn, "desired": desired, "max": mx, "azs": azs,
                             "instance_type": itype, "health_check": health,
                             "target_groups": [g.logical_id for g in tgs],
                             "scaling": scaling, "update_policy": update_kind,
                             "game_service": meta})
        t.lines.append(
            f"Auto Scaling group {model.display(asg)}: min {'?' if mn is None else mn} / desired "
            f"{desired if desired is not None else '-'} / max {'?' if mx is None else mx} x "
            f"{itype or 'type not fixed'}"
            f", {_az_text(azs, unknown)}; {heals}; {scales}"
            + (f"; deploys by {update_kind}" if update_kind else
               "; no update policy (a new launch template does not reach running instances)"))
        if mn is not None and mn < 2:
            spof("compute", asg, "asg-min-one",
                 f"the Auto Scaling group's minimum is {mn}: scaled in, the tier is a lone "
                 f"instance")
        if (len(azs) == 1 and not unknown) or (len(subnets) == 1):
            spof("compute", asg, "asg-one-az",
                 f"the Auto Scaling group is confined to {_az_text(azs, unknown)}: if it "
                 f"fails, every instance goes with it")

    instances = [i for i in model.of_type("AWS::EC2::Instance") if i not in nat_instances]
    tg_members: dict[Resource, list[Resource]] = {}
    for tg in model.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"):
        members = [r for r in model.refs(tg.stack, tg.props.get("Targets"))
                   if r.type == "AWS::EC2::Instance"]
        for m in members:
            tg_members.setdefault(m, []).extend(x for x in members if x is not m)
    for inst in instances:
        t.present = True
        itype = model.literal(inst.stack, inst.props.get("InstanceType"))
        subnet = model.ref_one(inst, "SubnetId", "AWS::EC2::Subnet") or next(
            (r for r in model.refs(inst.stack, inst.props.get("NetworkInterfaces"))
             if r.type == "AWS::EC2::Subnet"), None)
        az = (_az_of_subnet(model, subnet) if subnet else None) or model.literal(
            inst.stack, inst.props.get("AvailabilityZone"))
        recovery = _recovery_alarm(model, inst)
        template = model.ref_one(inst, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        if not itype and template:
            itype = model.literal(template.stack,
                                  _d(template.props.get("LaunchTemplateData")).get(
                                      "InstanceType"))
        meta = _game_service_metadata(inst, template)
        peers = tg_members.get(inst, [])
        app_units.append(AppUnit("instance", inst, 1, 1, 1, itype,
                                 [az] if isinstance(az, str) else [], meta))
        heal = ("EC2 auto-recovery alarm " + recovery.logical_id +
                " (recovers the same instance after a host failure; not after an AZ "
                "or software failure)") if recovery else "does not heal itself"
        t.components.append({"type": "ec2-instance", "logical_id": inst.logical_id,
                             "instance_type": itype, "az": az,
                             "auto_recovery": bool(recovery),
                             "load_balanced_with": [p.logical_id for p in peers],
                             "game_service": meta})
        t.lines.append(f"EC2 instance {model.display(inst)}: 1 x {itype or 'type not fixed'} "
                       f"in {az or 'an AZ the template does not fix'}; {heal}; "
                       f"scales only up (a bigger instance), not out")
        if not peers:
            spof("compute", inst, "lone-instance",
                 "a lone EC2 instance: when it or its AZ fails, what it serves is down until "
                 "it is recovered or replaced")
    lambdas = model.of_type("AWS::Lambda::Function")
    if lambdas:
        t.lines.append(f"{_plural(len(lambdas), 'Lambda function')} (managed, distributed by "
                       f"nature; not the app tier)")
    if not t.present:
        t.lines.append("none: no Auto Scaling group or EC2 instance in these templates")

    # ---- data -------------------------------------------------------------------------
    t = tiers["data"]
    databases: list[Database] = []
    clusters = model.of_type("AWS::RDS::DBCluster")
    cluster_members: dict[Resource, list[Resource]] = {c: [] for c in clusters}
    db_instances = model.of_type("AWS::RDS::DBInstance")
    for db in db_instances:
        c = model.ref_one(db, "DBClusterIdentifier", "AWS::RDS::DBCluster")
        if c:
            cluster_members[c].append(db)
    replicas: dict[Resource, list[Resource]] = {}
    for db in db_instances:
        src = model.ref_one(db, "SourceDBInstanceIdentifier", "AWS::RDS::DBInstance")
        if src:
            replicas.setdefault(src, []).append(db)
    for c, members in cluster_members.items():
        t.present = True
        engine = model.literal(c.stack, c.props.get("Engine"))
        multi_az_cluster = c.props.get("DBClusterInstanceClass") is not None
        n = 3 if multi_az_cluster and not members else len(members)
        t.components.append({"type": "db-cluster", "logical_id": c.logical_id,
                             "engine": engine, "instances": n})
        t.lines.append(f"DB cluster {model.display(c)} ({engine}): {_plural(n, 'instance')}"
                       + (" (Multi-AZ DB cluster: a writer and two readers)"
                          if multi_az_cluster else "")
                       + ("; fails over to a replica" if n >= 2 else ""))
        if n < 2:
            spof("data", c, "db-cluster-one-instance",
                 "a database cluster with a single instance: a failure means creating a new "
                 "instance (minutes) instead of failing over to a replica")
    for db in db_instances:
        t.present = True
        p = db.props
        engine = model.literal(db.stack, p.get("Engine"))
        klass = model.literal(db.stack, p.get("DBInstanceClass"))
        cluster = model.ref_one(db, "DBClusterIdentifier", "AWS::RDS::DBCluster")
        source = model.ref_one(db, "SourceDBInstanceIdentifier", "AWS::RDS::DBInstance")
        multi_az = bool(model.boolean(db.stack, p.get("MultiAZ")))
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
        if subnet_group:
            sg_azs, _ = _azs(model, [r for r in model.refs(subnet_group.stack,
                                                           subnet_group.props.get("SubnetIds"))
                                     if r.type == "AWS::EC2::Subnet"])
        databases.append(Database(db, engine if isinstance(engine, str) else None,
                                  klass if isinstance(klass, str) else None, multi_az, max_conn,
                                  storage, stype if isinstance(stype, str) else None,
                                  source.logical_id if source else None,
                                  cluster.logical_id if cluster else None))
        reps = replicas.get(db, [])
        t.components.append({"type": "db-instance", "logical_id": db.logical_id,
                             "engine": engine, "class": klass, "multi_az": multi_az,
                             "read_replicas": [r.logical_id for r in reps],
                             "replica_of": source.logical_id if source else None,
                             "cluster": cluster.logical_id if cluster else None,
                             "max_connections_parameter": max_conn,
                             "subnet_group_azs": sg_azs})
        if cluster:
            t.lines.append(f"  member {model.display(db)}: {klass}")
            continue
        if source:
            t.lines.append(f"read replica {model.display(db)} of {source.logical_id}: {klass}")
            continue
        t.lines.append(
            f"RDS {engine or 'database'} {model.display(db)}: {klass or 'class not fixed'}, "
            + ("Multi-AZ (synchronous standby in another AZ, automatic failover)" if multi_az
               else "Single-AZ (no standby)")
            + f", {_plural(len(reps), 'read replica')}"
            + (f"; subnet group in {_az_text(sg_azs, 0)}" if sg_azs else "")
            + "; scales up only (a bigger class)" + ("" if not reps else " and reads out")
            + (f"; storage grows by itself up to {max_storage} GB" if max_storage else ""))
        if not multi_az:
            spof("data", db, "db-single-az",
                 "a single-AZ database: a host or AZ failure stops it until it is recovered "
                 "or restored; no standby to fail over to")
    proxies = model.of_type("AWS::RDS::DBProxy")
    if proxies:
        t.lines.append(f"RDS Proxy {', '.join(model.display(p) for p in proxies)} "
                       f"(pools and multiplexes connections)")
    for table in model.of_type("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
        t.present = True
        t.lines.append(f"DynamoDB table {model.display(table)} (managed, distributed by nature)")
        t.components.append({"type": "dynamodb-table", "logical_id": table.logical_id})
    for cache in model.of_type("AWS::ElastiCache::CacheCluster"):
        t.present = True
        nodes = model.number(cache.stack, cache.props.get("NumCacheNodes")) or 1
        t.lines.append(f"ElastiCache cluster {model.display(cache)}: {_plural(nodes, 'node')}")
        t.components.append({"type": "cache-cluster", "logical_id": cache.logical_id,
                             "nodes": nodes})
        engine = model.literal(cache.stack, cache.props.get("Engine"))
        if nodes < 2 or engine != "memcached":
            spof("data", cache, "cache-single-node",
                 "a cache cluster without a replica: a node failure empties the cache")
    for group in model.of_type("AWS::ElastiCache::ReplicationGroup"):
        t.present = True
        n = model.number(group.stack, group.props.get("NumCacheClusters"))
        per_shard = model.number(group.stack, group.props.get("ReplicasPerNodeGroup"))
        failover = model.boolean(group.stack, group.props.get("AutomaticFailoverEnabled"))
        nodes = n if n is not None else (1 + per_shard if per_shard is not None else 1)
        t.lines.append(f"ElastiCache replication group {model.display(group)}: "
                       f"{_plural(nodes, 'node')} per shard, automatic failover "
                       f"{'on' if failover else 'off'}")
        t.components.append({"type": "cache-replication-group", "logical_id": group.logical_id,
                             "nodes_per_shard": nodes, "automatic_failover": bool(failover)})
        if nodes < 2 or not failover:
            spof("data", group, "cache-no-failover",
                 "a replication group without a replica and automatic failover")
    if not t.present:
        t.lines.append("none: no database in these templates")

    # ---- storage ----------------------------------------------------------------------
    t = tiers["storage"]
    for bucket in model.of_type("AWS::S3::Bucket"):
        t.present = True
        versioning = (_d(bucket.props.get("VersioningConfiguration")).get("Status")
                      == "Enabled")
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
                       + ("(One Zone)" if one_zone else "(Regional, managed)"))
        if one_zone:
            spof("storage", fs, "efs-one-zone", "an EFS One Zone file system lives in one AZ")
    if not t.present:
        t.lines.append("none: no S3 bucket or file system in these templates")

    # ---- edge -------------------------------------------------------------------------
    t = tiers["edge"]
    for dist in model.of_type("AWS::CloudFront::Distribution"):
        t.present = True
        config = _d(dist.props.get("DistributionConfig"))
        origins = []
        for origin in _l(config.get("Origins")):
            if not isinstance(origin, dict):
                continue
            target = None
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
        groups = _d(config.get("OriginGroups")).get("Quantity") or 0
        t.components.append({"type": "cloudfront-distribution", "logical_id": dist.logical_id,
                             "origins": origins, "origin_groups": groups})
        described = ", ".join(
            f"{o['kind']} -> {o['target'] or 'outside these templates'}" for o in origins)
        t.lines.append(f"CloudFront distribution {model.display(dist)} (managed, distributed "
                       f"by nature: edge locations worldwide); origins: {described or 'none'}"
                       + (f"; {groups} origin failover group(s)" if groups else ""))
    if not t.present:
        t.lines.append("none: no CloudFront distribution in these templates")

    analysis = Analysis(model, tiers, app_units, databases, bool(proxies), {},
                        _region(model, net))
    analysis.verdict = _verdict(analysis)
    return analysis


def _region(model: Model, net: _Network) -> str | None:
    """The region the templates deploy to, read off literal AZ names (eu-west-1a)."""
    regions = set()
    for subnet in net.subnets:
        az = _az_of_subnet(model, subnet) or ""
        m = re.fullmatch(r"([a-z]{2}(?:-[a-z]+)+-\d)[a-z]", az)
        if m:
            regions.add(m.group(1))
    return regions.pop() if len(regions) == 1 else None


def _game_service_metadata(*resources: Resource | None) -> dict:
    for res in resources:
        if res is None:
            continue
        meta = res.metadata.get("GameService")
        if isinstance(meta, dict):
            return meta
    return {}


def _verdict(a: Analysis) -> dict:
    tiers = a.tiers
    asgs = [u for u in a.app_units if u.kind == "asg"]
    lone = [u for u in a.app_units if u.kind == "instance"]
    delegated = [name for name in ("edge", "data", "storage") if tiers[name].present]
    replicated = any((u.min or 0) >= 2 and len(u.azs) >= 2 for u in asgs) or (
        len(lone) >= 2 and len({az for u in lone for az in u.azs}) >= 2
        and any(c.get("load_balanced_with") for c in tiers["compute"].components))
    heals = bool(asgs)
    scales = any(c.get("scaling") and (c.get("max") or 0) > (c.get("min") or 0)
                 for c in tiers["compute"].components if c["type"] == "auto-scaling-group")
    lb_ok = tiers["load balancing"].present and not tiers["load balancing"].spofs
    db_ok = not tiers["data"].spofs
    open_spofs = a.open_spofs

    lacks = []
    if not replicated:
        lacks.append("an app tier replicated across >= 2 AZs with a minimum of >= 2 instances "
                     "(an Auto Scaling group)")
    if not heals:
        lacks.append("self-healing: an Auto Scaling group that replaces failed instances")
    if not scales:
        lacks.append("scaling out: a scaling policy and a max above the min")
    if not lb_ok:
        lacks.append("a load balancer in >= 2 AZs in front of the app tier")
    if tiers["data"].present and not db_ok:
        lacks.append("a redundant data tier (Multi-AZ, or a cluster of >= 2 instances)")
    if tiers["network egress"].spofs:
        lacks.append("a NAT gateway in every AZ that has private subnets")
    others = [s for s in open_spofs if s.tier not in ("compute", "data", "network egress",
                                                      "load balancing")]
    if others:
        lacks.append("no single point of failure in " + ", ".join(
            sorted({s.tier for s in others})))

    if not a.app_units:
        kind = "no app tier"
        headline = ("no app compute tier in these templates: the managed services here ("
                    + (", ".join(delegated) or "none") + ") are distributed by nature, but "
                    "there is no app of its own to replicate")
        lacks = []
    elif replicated and heals and scales and lb_ok and db_ok and not open_spofs:
        kind = "distributed"
        headline = ("DISTRIBUTED: the app tier is replicated across AZs, heals itself and "
                    "scales out; the data tier is redundant; no unaccepted single point of "
                    "failure")
    elif replicated:
        kind = "partly distributed"
        headline = ("PARTLY DISTRIBUTED: the app tier is replicated, but "
                    f"{_plural(len(open_spofs), 'single point of failure')} "
                    f"{'remains' if len(open_spofs) == 1 else 'remain'}")
    elif delegated:
        kind = "functionally decomposed"
        headline = ("FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED: "
                    f"{', '.join(delegated)} are delegated to separate services, but the app's "
                    "own work is neither replicated nor scaled out")
    else:
        kind = "single machine"
        headline = "NOT DISTRIBUTED: one machine does everything; nothing is delegated or replicated"
    return {"kind": kind, "headline": headline, "lacks": lacks,
            "replicated": replicated, "heals_itself": heals, "scales_out": scales,
            "delegated_tiers": delegated,
            "single_points_of_failure": len(open_spofs),
            "accepted_single_points_of_failure": len(a.spofs) - len(open_spofs)}
