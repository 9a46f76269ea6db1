"""NAT instances in an Auto Scaling group: a group whose instances turn their own
source/destination check off from their user data (and make themselves a route target) does
NAT, not the app's work. A group of at most one instance is a single EC2 instance doing NAT
(`nat-instance`): it replaces the instance when it fails, but egress is down until then."""

from __future__ import annotations

import re

from .findings import AppUnit, Ctx

LAUNCH = ("AWS::EC2::LaunchTemplate", "AWS::AutoScaling::LaunchConfiguration")
_NAT = re.compile(r"no-source-dest-check|source-dest-check[^\n]{0,60}?false|"
                  r"SourceDestCheck[^\n]{0,20}?false", re.IGNORECASE)


def _does_nat(ctx: Ctx, unit: AppUnit) -> bool:
    model = ctx.model
    launch = [r for r in model.refs(unit.resource.stack, unit.resource.props)
              if r.type in LAUNCH]
    return any(_NAT.search(repr(r.raw)) for r in launch)


def analyze_nat_groups(ctx: Ctx) -> None:
    for unit in [u for u in ctx.app_units if u.kind == "asg" and _does_nat(ctx, u)]:
        _move_to_egress(ctx, unit)


def _move_to_egress(ctx: Ctx, unit: AppUnit) -> None:
    model, res = ctx.model, unit.resource
    compute, egress = ctx.tiers["compute"], ctx.tiers["network egress"]
    ctx.app_units.remove(unit)
    ctx.idle_instances.append(unit)  # still priced as a host
    name = model.display(res)
    compute.spofs[:] = [s for s in compute.spofs if s.logical_id != res.logical_id]
    compute.lines[:] = [x for x in compute.lines
                        if not x.startswith(f"Auto Scaling group {name}")]
    compute.components[:] = [c for c in compute.components
                             if c.get("logical_id") != res.logical_id]
    if not compute.lines:
        compute.present = False
        compute.lines.append("none: no app compute (its only group does NAT)")
    ctx.unknowns[:] = [u for u in ctx.unknowns
                       if not (u.logical_id == res.logical_id and u.tier == "compute")]
    egress.present = True
    egress.lines[:] = [x for x in egress.lines if not x.startswith("none")]
    egress.lines.append(f"Auto Scaling group {name} (min {unit.min}, max {unit.max}) runs NAT "
                        f"instances: its user data turns the source/destination check off")
    egress.components.append({"type": "nat-instance-group", "logical_id": res.logical_id,
                              "min": unit.min, "max": unit.max})
    if unit.max is not None and unit.max <= 1:
        ctx.spof("network egress", res, "nat-instance",
                 "a single EC2 instance (an Auto Scaling group of at most one) does NAT: when "
                 "it fails, the subnets routed to it lose internet egress until the group "
                 "replaces it")
    else:
        ctx.unknown("network egress", res, "NAT instances",
                    f"a group of up to {unit.max if unit.max is not None else '?'} NAT "
                    f"instances: which subnets each one serves is set by their user data, "
                    f"not in the template")
