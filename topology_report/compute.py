"""The compute tier: Auto Scaling groups, EC2 instances, ECS services, Lambda functions;
and the load balancers in front of them."""

from __future__ import annotations

import re

from .findings import AppUnit, Ctx, d, lst
from .model import Model, Resource
from .network import _recovery_alarm
from .placement import Spread, merge, spread

ASG = "AWS::AutoScaling::AutoScalingGroup"
INSTANCE = "AWS::EC2::Instance"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
ALB_V2 = "AWS::ElasticLoadBalancingV2::LoadBalancer"
CLASSIC = "AWS::ElasticLoadBalancing::LoadBalancer"
LAMBDA_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
APP_RUNNER = "AWS::AppRunner::Service"
# An App Runner service without an auto scaling configuration of its own gets the default
# one (App Runner API reference, AutoScalingConfiguration: MinSize 1, MaxSize 25).
APP_RUNNER_DEFAULT_MIN, APP_RUNNER_DEFAULT_MAX = 1, 25


def _game_service_metadata(*resources: Resource | None) -> dict:
    for res in resources:
        if res is None:
            continue
        meta = res.metadata.get("GameService")
        if isinstance(meta, dict):
            return meta
    return {}


# --- load balancing --------------------------------------------------------------------------


def analyze_load_balancers(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["load balancing"]
    for lb in model.of_type(ALB_V2, CLASSIC):
        t.present = True
        classic = lb.type == CLASSIC
        kind = "classic" if classic else str(
            model.literal(lb.stack, lb.props.get("Type")) or "application")
        mappings = [d(m).get("SubnetId") for m in lst(lb.props.get("SubnetMappings"))]
        if "Subnets" in lb.props:
            sp = spread(model, lb.stack, lb.props.get("Subnets"))
        elif mappings:
            sp = spread(model, lb.stack, mappings)
        elif "AvailabilityZones" in lb.props:
            sp = spread(model, lb.stack, lb.props.get("AvailabilityZones"), zones=True)
        else:
            sp = Spread(subnets=None, at_most=None,
                        reason="no subnets or AZs given (the default VPC's)")
        rule_note = ""
        if kind == "application" and not sp.multi:
            # An Application Load Balancer cannot be created in fewer than two AZs.
            sp.at_least, rule_note = 2, " (an Application Load Balancer always spans >= 2 AZs)"
        scheme = str(model.literal(lb.stack, lb.props.get("Scheme")) or "internet-facing")
        t.components.append({"type": f"{kind}-load-balancer", "logical_id": lb.logical_id,
                             "scheme": scheme, "subnets": sp.subnets, "azs": sp.azs,
                             "spread": sp.to_dict()})
        t.lines.append(f"{kind} load balancer {model.display(lb)} ({scheme}): "
                       f"{sp.describe()}{rule_note} (managed, one node per AZ)")
        ctx.confined("load balancing", lb, sp, "lb-one-az",
                     f"the load balancer is in one AZ ({sp.subnet_text()}, {sp.text()}): "
                     f"if that AZ fails, nothing receives traffic")
    if not t.present:
        t.lines.append("none: no load balancer in these templates")


def _targets(model: Model) -> dict[Resource, list[Resource]]:
    """Load balancer target groups (and classic load balancers) -> their EC2 instances."""
    out: dict[Resource, list[Resource]] = {}
    for tg in model.of_type(TG):
        out[tg] = [r for r in model.refs(tg.stack, tg.props.get("Targets")) if r.type == INSTANCE]
    for lb in model.of_type(CLASSIC):
        out[lb] = [r for r in model.refs(lb.stack, lb.props.get("Instances"))
                   if r.type == INSTANCE]
    return out


def _origin_targets(model: Model) -> set[Resource]:
    """Instances that a CloudFront distribution reaches (directly or through a VPC origin)."""
    out = set()
    for dist in model.of_type("AWS::CloudFront::Distribution", "AWS::CloudFront::VpcOrigin"):
        for r in model.refs(dist.stack, dist.props):
            if r.type == INSTANCE:
                out.add(r)
            if r.type == "AWS::CloudFront::VpcOrigin":
                out.update(x for x in model.refs(r.stack, r.props) if x.type == INSTANCE)
    return out


def _entry_points(model: Model) -> bool:
    """Whether the stage has anything that routes traffic to instances."""
    return bool(model.of_type(ALB_V2, CLASSIC, "AWS::CloudFront::Distribution",
                              "AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"))


# --- compute -------------------------------------------------------------------------------


def analyze_compute(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    capacity_asgs = {r for cp in model.of_type("AWS::ECS::CapacityProvider")
                     for r in model.refs(cp.stack, cp.props) if r.type == ASG}
    for asg in model.of_type(ASG):
        t.present = True
        _asg(ctx, asg, capacity_asgs)
    _instances(ctx)
    for svc in model.of_type("AWS::ECS::Service"):
        t.present = True
        _ecs_service(ctx, svc)
    for fn in model.of_type(*LAMBDA_TYPES):
        t.present = True
        _lambda(ctx, fn)
    for svc in model.of_type(APP_RUNNER):
        t.present = True
        _app_runner(ctx, svc)
    if not t.present:
        t.lines.append("none: no Auto Scaling group, EC2 instance, ECS service, Lambda "
                       "function or App Runner service in these templates")


def _asg(ctx: Ctx, asg: Resource, capacity_asgs: set[Resource]) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    p = asg.props
    mn, mx = model.number(asg.stack, p.get("MinSize")), model.number(asg.stack, p.get("MaxSize"))
    desired = model.number(asg.stack, p.get("DesiredCapacity"))
    if "VPCZoneIdentifier" in p:
        sp = spread(model, asg.stack, p.get("VPCZoneIdentifier"))
    elif "AvailabilityZones" in p:
        sp = spread(model, asg.stack, p.get("AvailabilityZones"), zones=True)
    else:
        sp = Spread(subnets=None, at_most=None, reason="no subnets or AZs given")
    template = (model.ref_one(asg, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
                or model.ref_one(asg, "MixedInstancesPolicy", "AWS::EC2::LaunchTemplate"))
    config = model.ref_one(asg, "LaunchConfigurationName",
                           "AWS::AutoScaling::LaunchConfiguration")
    itype = None
    if template:
        itype = model.literal(template.stack, d(template.props.get("LaunchTemplateData")).get(
            "InstanceType"))
    elif config:
        itype = model.literal(config.stack, config.props.get("InstanceType"))
    overrides = d(d(p.get("MixedInstancesPolicy")).get("LaunchTemplate")).get("Overrides")
    if not itype and isinstance(overrides, list) and overrides:
        itype = model.literal(asg.stack, d(overrides[0]).get("InstanceType"))
    launch = template or config
    clusters = [r for r in model.refs(launch.stack, launch.raw)
                if r.type == "AWS::ECS::Cluster"] if launch else []
    ecs_hosts = asg in capacity_asgs or bool(clusters) or \
        "ECS_CLUSTER" in repr(launch.raw if launch else "")
    health = str(model.literal(asg.stack, p.get("HealthCheckType")) or "EC2")
    tgs = [r for r in model.refs(asg.stack, p.get("TargetGroupARNs")) if r.type == TG]
    elbs = [r for r in model.refs(asg.stack, p.get("LoadBalancerNames")) if r.type == CLASSIC]
    policies = model.referrers(asg, "AWS::AutoScaling::ScalingPolicy",
                               "AWS::AutoScaling::ScheduledAction")
    scaling, schedules = [], []
    for pol in policies:
        if pol.type == "AWS::AutoScaling::ScheduledAction":
            scaling.append("scheduled action")
            schedules.append(_schedule(model, pol))
            continue
        ptype = str(model.literal(pol.stack, pol.props.get("PolicyType")) or "SimpleScaling")
        tt = d(pol.props.get("TargetTrackingConfiguration"))
        if ptype == "TargetTrackingScaling":
            metric = d(tt.get("PredefinedMetricSpecification")).get(
                "PredefinedMetricType") or "custom metric"
            scaling.append(f"target tracking {metric} at "
                           f"{model.literal(pol.stack, tt.get('TargetValue'))}")
        else:
            scaling.append(ptype.replace("Scaling", " scaling").lower())
    if mx == 0 and not any(x["max"] for x in schedules):
        # MaxSize 0 (and no schedule raises it): a parked group runs nothing
        t.lines.append(f"Auto Scaling group {model.display(asg)}: max 0: runs no instance "
                       f"(parked); not part of the app tier")
        return
    meta = _game_service_metadata(template or config, asg)
    update = d(asg.raw.get("UpdatePolicy"))
    update_kind = ("rolling update" if "AutoScalingRollingUpdate" in update else
                   "replacing update" if "AutoScalingReplacingUpdate" in update else None)
    if not update_kind and "InstanceRefresh" in repr(asg.raw):
        update_kind = "instance refresh"
    # Scheduled actions change the size over time: the group can scale when any schedule
    # (or the template) lets its max exceed its min, and is as small as its lowest minimum.
    maxes = [x["max"] for x in schedules if x["max"] is not None] + [mx or 0]
    scales = bool(scaling) and max(maxes) > (mn or 0)
    low = min((x for x in schedules if x["min"] is not None and (mn is None or x["min"] < mn)),
              key=lambda x: x["min"], default=None)
    fixed = [x for x in schedules if x["min"] is not None and x["min"] == x["max"]]
    replicated = None if mn is None or not sp.known else (mn >= 2 and sp.multi)
    unit = AppUnit("asg", asg, mn, mx, desired, itype, sp.azs, meta, replicated=replicated,
                   heals=True, scales=scales, spread=sp,
                   scheduled_min=low["min"] if low else None,
                   scheduled_by=low["text"] if low else None)
    if ecs_hosts:
        ctx.idle_instances.append(unit)  # priced; the ECS services are the app units
    else:
        ctx.app_units.append(unit)
    heals = (f"heals itself (replaces instances failing {health} health checks"
             + (" of its load balancer" if "ELB" in health.split(",") else
                "; EC2 status only, not the app's health") + ")")
    scales_text = (f"scales out: {', '.join(scaling)}" if scales
                   else "does not scale by itself (no scaling policy)" if not scaling
                   else "cannot scale (max = min)")
    t.components.append({"type": "auto-scaling-group", "logical_id": asg.logical_id,
                         "min": mn, "desired": desired, "max": mx, "azs": sp.azs,
                         "spread": sp.to_dict(), "instance_type": itype,
                         "health_check": health, "ecs_capacity": ecs_hosts,
                         "target_groups": [g.logical_id for g in tgs + elbs],
                         "scaling": scaling, "update_policy": update_kind,
                         "schedules": schedules, "game_service": meta})
    t.lines.append(
        f"Auto Scaling group {model.display(asg)}"
        + (" (hosts of an ECS cluster)" if ecs_hosts else "")
        + f": min {'?' if mn is None else mn} / desired "
        f"{desired if desired is not None else '-'} / max {'?' if mx is None else mx} x "
        f"{itype or 'type not fixed'}, {sp.describe()}; {heals}; "
        f"{scales_text}"
        + "".join(f"; {x['text']} sets min {_q(x['min'])} / max {_q(x['max'])}" for x in schedules)
        + "".join(f"; at the times of {x['text']} min = max: its scaling policies cannot act"
                  for x in fixed if len(scaling) > len(schedules))
        + (f"; deploys by {update_kind}" if update_kind else
           "; no update policy (a new launch template does not reach running instances)"))
    if mn is None:
        ctx.unknown("compute", asg, "minimum size",
                    model.why_unknown(asg.stack, p.get("MinSize")))
    elif mn >= 2 and low is not None and low["min"] < 2:
        ctx.spof("compute", asg, "asg-min-one",
                 f"{low['text']} sets the group's minimum to {low['min']}: at those times "
                 + ("no instance runs and nothing serves" if low["min"] == 0 else
                    "the tier is a lone instance"))
    elif mn < 2:
        ctx.spof("compute", asg, "asg-min-one",
                 "the Auto Scaling group's minimum is 0: scaled in, no instance runs and "
                 "nothing serves" if mn == 0 else
                 f"the Auto Scaling group's minimum is {mn}: scaled in, the tier is a lone "
                 f"instance")
    ctx.confined("compute", asg, sp, "asg-one-az",
                 f"the Auto Scaling group is confined to one AZ ({sp.subnet_text()}, "
                 f"{sp.text()}): if it fails, every instance goes with it")
    cluster = _cluster_placement_group(model, asg, template)
    if cluster is not None and mn is not None and mn >= 2 and not (sp.known and not sp.multi):
        ctx.spof("compute", asg, "placement-group-cluster",
                 f"its instances go into the cluster placement group {model.display(cluster)}, "
                 f"which lives in one AZ: whatever subnets the group has, its instances share that "
                 f"AZ (and launches elsewhere fail), and go with it")


def _cluster_placement_group(model: Model, asg: Resource, template: Resource | None) -> Resource | None:
    """The cluster placement group an Auto Scaling group (PlacementGroup) or its launch
    template (Placement.GroupName / GroupId) puts its instances in, if any."""
    named = [model.refs(asg.stack, asg.props.get("PlacementGroup"))]
    if template is not None and template.type == "AWS::EC2::LaunchTemplate":
        placement = d(d(template.props.get("LaunchTemplateData")).get("Placement"))
        named += [model.refs(template.stack, placement.get(k)) for k in ("GroupName", "GroupId")]
    for refs in named:
        for group in refs:
            if group.type == "AWS::EC2::PlacementGroup" and str(
                    model.literal(group.stack, group.props.get("Strategy")) or "").lower() == "cluster":
                return group
    return None


def _q(value: int | None) -> str:
    return "unchanged" if value is None else str(value)


def _schedule(model: Model, action: Resource) -> dict:
    """A scheduled action: when it runs and the sizes it sets (None: not set or not fixed)."""
    p = action.props
    when = model.literal(action.stack, p.get("Recurrence"))
    start = model.literal(action.stack, p.get("StartTime"))
    text = (f"scheduled action {action.logical_id} ("
            + (f"'{when}'" if isinstance(when, str) else
               f"at {start}" if isinstance(start, str) else "time not fixed") + ")")
    return {"action": action.logical_id, "recurrence": when if isinstance(when, str) else None,
            "min": model.number(action.stack, p.get("MinSize")) if "MinSize" in p else None,
            "max": model.number(action.stack, p.get("MaxSize")) if "MaxSize" in p else None,
            "desired": model.number(action.stack, p.get("DesiredCapacity")), "text": text}


def _app_schedule(model: Model, target: Resource, action: object) -> dict:
    """A scheduled action of an Application Auto Scaling target (ECS and the like)."""
    a = d(action)
    sizes = d(a.get("ScalableTargetAction"))
    when = model.literal(target.stack, a.get("Schedule"))
    name = model.literal(target.stack, a.get("ScheduledActionName"))
    text = (f"scheduled action {name if isinstance(name, str) else '(unnamed)'} of "
            f"{target.logical_id} (" + (f"'{when}'" if isinstance(when, str) else
                                        "time not fixed") + ")")
    return {"action": name, "recurrence": when if isinstance(when, str) else None,
            "min": model.number(target.stack, sizes.get("MinCapacity"))
            if "MinCapacity" in sizes else None,
            "max": model.number(target.stack, sizes.get("MaxCapacity"))
            if "MaxCapacity" in sizes else None, "text": text}


def _instance_spread(model: Model, inst: Resource) -> Spread:
    subnet = model.ref_one(inst, "SubnetId", "AWS::EC2::Subnet") or next(
        (r for r in model.refs(inst.stack, inst.props.get("NetworkInterfaces"))
         if r.type == "AWS::EC2::Subnet"), None)
    if subnet is not None:
        return spread(model, subnet.stack, [{"Ref": subnet.logical_id}])
    if "SubnetId" in inst.props:
        return spread(model, inst.stack, [inst.props["SubnetId"]])
    az = model.literal(inst.stack, inst.props.get("AvailabilityZone"))
    if isinstance(az, str):
        return spread(model, inst.stack, [az], zones=True)
    return Spread(subnets=None, at_least=1, at_most=1)  # one instance is in one AZ


def _instances(ctx: Ctx) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    instances = [i for i in model.of_type(INSTANCE) if i not in ctx.nat_instances]
    groups = _targets(model)
    origins = _origin_targets(model)
    entry = _entry_points(model)
    # an instance that works a queue does the app's work, though no load balancer targets it
    worker_instances = {c.res for c in ctx.consumers if c.worker}
    peers: dict[Resource, list[Resource]] = {}
    for members in groups.values():
        for m in members:
            peers.setdefault(m, []).extend(x for x in members if x is not m)
    spreads = {inst: _instance_spread(model, inst) for inst in instances}
    replicated: dict[Resource, bool | None] = {}
    for group, members in groups.items():
        members = [m for m in members if m in spreads]
        if len(members) < 2:
            continue
        sp = merge([spreads[m] for m in members])
        state = True if sp.multi else (False if sp.one else None)
        for m in members:
            if replicated.get(m) is not True:
                replicated[m] = state
        names = ", ".join(m.logical_id for m in members)
        ctx.confined("compute", group, sp, "targets-one-az",
                     f"its {len(members)} instances ({names}) are all in one AZ "
                     f"({sp.text()}): if it fails, none of them serves", what="AZs of its instances")
    for inst in instances:
        t.present = True
        itype = model.literal(inst.stack, inst.props.get("InstanceType"))
        sp = spreads[inst]
        az = sp.azs[0] if sp.azs else None
        recovery = _recovery_alarm(model, inst)
        template = model.ref_one(inst, "LaunchTemplate", "AWS::EC2::LaunchTemplate")
        if not itype and template:
            itype = model.literal(template.stack, d(template.props.get(
                "LaunchTemplateData")).get("InstanceType"))
        meta = _game_service_metadata(inst, template)
        mates = peers.get(inst, [])
        serves = inst in peers or inst in origins or not entry or inst in worker_instances
        unit = AppUnit("instance", inst, 1, 1, 1, itype, sp.azs, meta,
                       replicated=replicated.get(inst, False), heals=False, scales=False,
                       spread=sp)
        (ctx.app_units if serves else ctx.idle_instances).append(unit)
        heal = ("EC2 auto-recovery alarm " + recovery.logical_id +
                " (recovers the same instance after a host failure; not after an AZ "
                "or software failure)") if recovery else "does not heal itself"
        # terminates itself when its job is done (e.g. a deploy step): not a server at all
        one_shot = str(model.literal(inst.stack, inst.props.get("InstanceInitiatedShutdownBehavior"))
                       or "").lower() == "terminate" and not serves
        t.components.append({"type": "ec2-instance", "logical_id": inst.logical_id,
                             "instance_type": itype, "az": az, "serves_traffic": serves, "one_shot": one_shot,
                             "auto_recovery": bool(recovery),
                             "load_balanced_with": [p.logical_id for p in mates],
                             "game_service": meta})
        if one_shot:
            t.lines.append(f"EC2 instance {model.display(inst)}: 1 x {itype or 'type not fixed'}; terminates "
                           f"itself on shutdown: a one-shot job (e.g. a deploy step), not part of the app tier")
            continue
        if not serves:
            t.lines.append(f"EC2 instance {model.display(inst)}: 1 x {itype or 'type not fixed'}"
                           f" in {az or 'an AZ the template does not fix'}; serves no traffic "
                           f"(not a target of any load balancer or origin, e.g. a bastion): "
                           f"not part of the app tier")
            continue
        t.lines.append(f"EC2 instance {model.display(inst)}: 1 x {itype or 'type not fixed'} "
                       f"in {az or 'an AZ the template does not fix'}"
                       + (f", load-balanced with {', '.join(p.logical_id for p in mates)}"
                          if mates else "")
                       + f"; {heal}; scales only up (a bigger instance), not out")
        if not mates:
            ctx.spof("compute", inst, "lone-instance",
                     "a lone EC2 instance: when it or its AZ fails, what it serves is down "
                     "until it is recovered or replaced")


_AZ_CONSTRAINT = re.compile(r"attribute:ecs\.availability-zone\s*(==|in)\s*\[?([^\]]+)\]?")


def _scalable_target(model: Model, svc: Resource) -> Resource | None:
    for target in model.referrers(svc, "AWS::ApplicationAutoScaling::ScalableTarget"):
        return target
    return None


def _ecs_service(ctx: Ctx, svc: Resource) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    p = svc.props
    launch = str(model.literal(svc.stack, p.get("LaunchType")) or (
        "capacity provider" if p.get("CapacityProviderStrategy") else "EC2"))
    daemon = model.literal(svc.stack, p.get("SchedulingStrategy")) == "DAEMON"
    hosts = [u for u in ctx.idle_instances if u.kind == "asg"]
    desired = model.number(svc.stack, p.get("DesiredCount"))
    desired_note = ""
    if "DesiredCount" not in p and not daemon:
        desired, desired_note = 1, " (DesiredCount not set: ECS starts 1)"
    target = _scalable_target(model, svc)
    floor, mx, scales = desired, desired, False
    low = None  # the scheduled action that sets the lowest minimum, below the target's
    if target is not None:
        tmin = model.number(target.stack, target.props.get("MinCapacity"))
        tmax = model.number(target.stack, target.props.get("MaxCapacity"))
        policies = model.referrers(target, "AWS::ApplicationAutoScaling::ScalingPolicy")
        floor, mx = tmin, tmax
        schedules = [_app_schedule(model, target, x)
                     for x in lst(target.props.get("ScheduledActions"))]
        maxes = [x["max"] for x in schedules if x["max"] is not None] + [tmax or 0]
        scales = bool(policies or schedules) and max(maxes) > (tmin or 0)
        low = min((x for x in schedules if x["min"] is not None and
                   (tmin is None or x["min"] < tmin)), key=lambda x: x["min"], default=None)
    if daemon:
        floor = min((u.min for u in hosts if u.min is not None), default=None)
    awsvpc = d(d(p.get("NetworkConfiguration")).get("AwsvpcConfiguration"))
    if "Subnets" in awsvpc:
        sp = spread(model, svc.stack, awsvpc.get("Subnets"))
    elif hosts:
        sp = merge([u.spread for u in hosts if u.spread])
    else:
        sp = Spread(subnets=None, at_most=None,
                    reason="its tasks run on cluster instances these templates do not show")
    for c in lst(p.get("PlacementConstraints")):
        m = _AZ_CONSTRAINT.search(str(model.literal(svc.stack, d(c).get("Expression")) or ""))
        if m and d(c).get("Type") == "memberOf":
            zones = [z.strip().strip("'\"") for z in m.group(2).split(",") if z.strip()]
            sp = spread(model, svc.stack, zones, zones=True)
    strategies = [d(x) for x in lst(p.get("PlacementStrategies"))]
    spreads_azs = any(str(x.get("Type")) == "spread" and "availability-zone" in str(
        x.get("Field", "")).lower() for x in strategies)
    if strategies and not spreads_azs and sp.multi:
        # binpack or random on EC2 may put every task on one host, hence in one AZ.
        kinds = ", ".join(str(x.get("Type")) for x in strategies)
        sp = Spread(azs=sp.azs, subnets=sp.subnets, at_least=1, at_most=sp.at_most or None,
                    reason=f"placement strategy {kinds} does not spread tasks across AZs: "
                           f"they may all run in one")
    breaker = d(d(p.get("DeploymentConfiguration")).get("DeploymentCircuitBreaker"))
    breaker_on = model.boolean(svc.stack, breaker.get("Enable")) is True
    tgs = [r for lb in lst(p.get("LoadBalancers")) for r in model.refs(svc.stack, lb)
           if r.type in (TG, CLASSIC)]
    replicated = None if floor is None or not sp.known else (floor >= 2 and sp.multi)
    ctx.app_units.append(AppUnit("ecs-service", svc, floor, mx, desired, None, sp.azs, {},
                                 replicated=replicated, heals=True, scales=scales, spread=sp,
                                 scheduled_min=low["min"] if low else None,
                                 scheduled_by=low["text"] if low else None))
    t.components.append({"type": "ecs-service", "logical_id": svc.logical_id,
                         "launch_type": launch, "desired": desired, "min": floor, "max": mx,
                         "azs": sp.azs, "spread": sp.to_dict(), "circuit_breaker": breaker_on,
                         "target_groups": [g.logical_id for g in tgs], "scales": scales})
    t.lines.append(
        f"ECS service {model.display(svc)} ({launch}"
        + (", daemon" if daemon else "") + "): "
        + (f"{'?' if desired is None else desired} task(s){desired_note}" if not daemon
           else "one task per host")
        + (f", scales {floor}..{mx} (Application Auto Scaling)" if scales else
           ", does not scale by itself")
        + f", {sp.describe()}; heals itself (ECS replaces stopped tasks)"
        + ("; deployment circuit breaker on" if breaker_on else
           "; no deployment circuit breaker (a bad deployment keeps failing)")
        + ("; behind " + ", ".join(g.logical_id for g in tgs) if tgs else ""))
    if floor is None:
        what = "minimum capacity" if target is not None else "desired count"
        source = (target.props.get("MinCapacity") if target is not None
                  else p.get("DesiredCount"))
        ctx.unknown("compute", svc, what, model.why_unknown(
            (target or svc).stack, source))
    elif floor >= 2 and low is not None and low["min"] < 2:
        ctx.spof("compute", svc, "ecs-desired-one",
                 f"{low['text']} sets the service's minimum to {low['min']} "
                 f"task{'' if low['min'] == 1 else 's'}: at those times "
                 + ("nothing serves" if low["min"] == 0 else
                    "when it stops, nothing serves until ECS starts a new one"))
    elif floor == 0:
        ctx.spof("compute", svc, "ecs-desired-one",
                 "the ECS service's minimum is 0 tasks: scaled in, nothing serves")
    elif floor < 2:
        ctx.spof("compute", svc, "ecs-desired-one",
                 f"the ECS service runs {floor} task: when it stops, nothing serves until "
                 f"ECS starts a new one")
    ctx.confined("compute", svc, sp, "ecs-one-az",
                 f"the ECS service's tasks are confined to one AZ ({sp.text()}): if it "
                 f"fails, every task goes with it")


def _lambda(ctx: Ctx, fn: Resource) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    vpc = d(fn.props.get("VpcConfig"))
    sp = spread(model, fn.stack, vpc.get("SubnetIds")) if "SubnetIds" in vpc else Spread(
        every_az=True, subnets=None, at_most=None)
    fronts = []
    if model.referrers(fn, "AWS::Lambda::Url"):
        fronts.append("function URL")
    if model.referrers(fn, "AWS::ApiGateway::Method", "AWS::ApiGatewayV2::Integration"):
        fronts.append("API Gateway")
    events = [str(d(e).get("Type")) for e in d(fn.props.get("Events")).values()]
    fronts += [f"{e} event (SAM)" for e in events if e in ("Api", "HttpApi")]
    if model.referrers(fn, "AWS::Lambda::EventSourceMapping") or [
            e for e in events if e not in ("Api", "HttpApi")]:
        fronts.append("event source")
    if model.referrers(fn, "AWS::ElasticLoadBalancingV2::TargetGroup"):
        fronts.append("load balancer")
    if model.referrers(fn, "AWS::Events::Rule", "AWS::Scheduler::Schedule",
                       "AWS::SNS::Subscription", "AWS::SNS::Topic"):
        fronts.append("events")
    t.components.append({"type": "lambda-function", "logical_id": fn.logical_id,
                         "invoked_by": fronts, "spread": sp.to_dict()})
    if not fronts:
        # A custom resource handler or a helper: nothing in these templates sends it the
        # app's requests or work, so it is not part of the app tier.
        t.lines.append(f"Lambda function {model.display(fn)}: nothing here invokes it at run "
                       f"time (a deploy-time helper or custom resource handler, as far as "
                       f"these templates show): not part of the app tier")
        return
    replicated = True if sp.multi else (False if sp.one else None)
    ctx.app_units.append(AppUnit("lambda", fn, None, None, None, None, sp.azs, {},
                                 replicated=replicated, heals=True, scales=True,
                                 server=False, spread=sp))
    where = ("runs in every AZ of the region" if "SubnetIds" not in vpc
             else f"attached to {sp.describe()}")
    t.lines.append(f"Lambda function {model.display(fn)} (managed, distributed by nature: "
                   f"{where}; scales out per request)"
                   + (f"; invoked by {', '.join(fronts)}" if fronts else ""))
    ctx.confined("compute", fn, sp, "lambda-one-az",
                 f"the function is attached to subnets in one AZ ({sp.text()}): if it fails, "
                 f"the function cannot run", what="AZs of its VPC subnets")


def _app_runner(ctx: Ctx, svc: Resource) -> None:
    """An App Runner service: AWS runs its instances, balances its traffic and scales them on
    concurrency; the service always keeps its auto scaling configuration's MinSize
    instances provisioned, spread over as many AZs as that number allows (the App Runner
    API reference and the AWS CLI's example of a "high availability" configuration,
    MinSize 5). With one provisioned instance (the default) one instance in one AZ serves
    until App Runner replaces it."""
    model, t = ctx.model, ctx.tiers["compute"]
    arn = svc.props.get("AutoScalingConfigurationArn")
    configs = [r for r in model.refs(svc.stack, arn)
               if r.type == "AWS::AppRunner::AutoScalingConfiguration"]
    literal = model.literal(svc.stack, arn)
    why = ""  # why the minimum is not known
    if arn is None or (isinstance(literal, str) and "/DefaultConfiguration/" in literal):
        mn, mx = APP_RUNNER_DEFAULT_MIN, APP_RUNNER_DEFAULT_MAX
        source = "App Runner's default configuration"
    elif configs:
        config = configs[0]
        raw_min = config.props.get("MinSize", APP_RUNNER_DEFAULT_MIN)
        mn = model.number(config.stack, raw_min)
        mx = model.number(config.stack, config.props.get("MaxSize", APP_RUNNER_DEFAULT_MAX))
        source = f"its auto scaling configuration {model.display(config)}"
        why = "" if mn is not None else model.why_unknown(config.stack, raw_min)
    else:
        mn = mx = None
        source = "an auto scaling configuration these templates do not hold"
        why = model.why_unknown(svc.stack, arn)
    t.components.append({"type": "app-runner-service", "logical_id": svc.logical_id,
                         "min": mn, "max": mx, "configuration": source})
    ctx.app_units.append(AppUnit("app-runner", svc, mn, mx, mn, None, [], {},
                                 replicated=None if mn is None else mn >= 2, heals=True,
                                 scales=mn is not None and mx is not None and mx > mn,
                                 server=False))
    counts = (f"{mn}..{mx} instances" if mn is not None and mx is not None
              else "instances of an unknown number")
    t.lines.append(f"App Runner service {model.display(svc)} (managed: AWS runs, load-balances "
                   f"and replaces its instances; {counts}, from {source})")
    if mn is None:
        ctx.unknown("compute", svc, "provisioned instances (MinSize)", why)
    elif mn < 2:
        ctx.spof("compute", svc, "app-runner-min-one",
                 f"the App Runner service keeps {mn} provisioned instance ({source}): one "
                 f"instance in one AZ serves until App Runner replaces it")
