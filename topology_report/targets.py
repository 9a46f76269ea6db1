"""Targets registered in a target group by the template itself (`Targets`: IP addresses, or
instance IDs it does not define): what serves behind the load balancer is those targets,
whatever AZs the load balancer spans. One target is a single point of failure
(`target-group-one-target`); several that name one AZ are `targets-one-az`. Target groups
that Auto Scaling groups or ECS services fill at run time, Lambda and ALB targets (managed),
and targets that are instances of these templates (judged as instances) are left alone."""

from __future__ import annotations

from .findings import Ctx, d, lst
from .model import Resource
from .placement import spread

TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
INSTANCE = "AWS::EC2::Instance"


def analyze_targets(ctx: Ctx) -> None:
    model = ctx.model
    for tg in model.of_type(TG):
        kind = str(model.literal(tg.stack, tg.props.get("TargetType")) or "instance").lower()
        if kind in ("lambda", "alb"):
            continue
        targets = [d(x) for x in lst(model.resolve_ifs(tg.stack, tg.props).get("Targets"))]
        if not targets:
            continue  # filled at run time (an Auto Scaling group, an ECS service) or empty
        own = [t for t in targets
               if any(r.type == INSTANCE for r in model.refs(tg.stack, t.get("Id")))]
        if len(own) == len(targets):
            continue  # instances of these templates: judged as instances
        _judge(ctx, tg, kind, targets)


def _judge(ctx: Ctx, tg: Resource, kind: str, targets: list[dict]) -> None:
    model, t = ctx.model, ctx.tiers["compute"]
    t.present = True
    t.lines[:] = [x for x in t.lines if not x.startswith("none")]
    ids = [model.literal(tg.stack, x.get("Id")) for x in targets]
    names = ", ".join(str(i) if isinstance(i, (str, int)) else "?" for i in ids)
    zones = [x.get("AvailabilityZone") for x in targets]
    sp = spread(model, tg.stack, zones, zones=True) if all(z is not None for z in zones) \
        else None
    every = any(model.literal(tg.stack, z) == "all" for z in zones if z is not None)
    t.components.append({"type": "registered-targets", "logical_id": tg.logical_id,
                         "target_type": kind, "targets": len(targets)})
    where = ("AZ not said" if sp is None or every else sp.text())
    t.lines.append(f"target group {model.display(tg)}: {len(targets)} {kind} target(s) "
                   f"registered by the template ({names}; {where})")
    if len(targets) == 1:
        ctx.spof("compute", tg, "target-group-one-target",
                 f"its only target is {names}: whatever AZs the load balancer spans, when "
                 f"that target fails nothing serves")
        return
    if every:
        return  # "all": addresses outside the VPC, reached from every AZ
    if sp is None:
        if kind == "ip":
            ctx.unknown("compute", tg, "AZs of its targets",
                        f"its {len(targets)} IP targets give no AvailabilityZone: their AZs "
                        f"are their subnets', which the template does not say")
        return
    ctx.confined("compute", tg, sp, "targets-one-az",
                 f"its {len(targets)} targets ({names}) are all in one AZ ({sp.text()}): "
                 f"if it fails, none of them serves", what="AZs of its targets")
