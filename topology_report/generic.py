"""Resources of a type with no specific rule, judged by what the CloudFormation resource
schemas say the type does (resource_kinds.py): one that runs work or holds state is judged by
its placement and count, read from its own properties (subnets, AZs, Multi-AZ, zone
awareness, instance or node counts). One subnet or one AZ, or a count of 1, is a single point
of failure (`generic-compute-one`, `generic-data-one`); what the template does not fix is
unknown, with the reason; a type whose schema can neither place nor count it is run by AWS
where it chooses (managed)."""

from __future__ import annotations

from .catalog import classify
from .findings import Ctx
from .model import Resource
from .placement import spread
from .resource_kinds import JUDGED_KINDS, kind_of, placeable

WHAT = {"compute": "runs work", "data": "holds state"}

COUNTS = ("InstanceCount", "NodeCount", "NumberOfNodes", "NumCacheNodes", "Replicas",
          "ReplicaCount", "DesiredCount", "DesiredCapacity", "DesiredSize", "MinSize",
          "NumberOfBrokerNodes")
ONE_SUBNET = ("SubnetId", "Ec2SubnetId")
SUBNETS = ("SubnetIds", "Subnets", "Ec2SubnetIds")
ONE_AZ = ("AvailabilityZone", "AvailabilityZoneName", "PreferredAvailabilityZone")
AZS = ("AvailabilityZones", "PreferredAvailabilityZones")
MULTI = ("MultiAZ", "MultiAz", "ZoneAwarenessEnabled")
MODES = ("DeploymentMode", "DeploymentType", "ClusterType",  # SINGLE_AZ_1, single-node, ...
         "EnvironmentType")  # Elastic Beanstalk: SingleInstance or LoadBalanced
JUDGED = "judged by its placement and count"


def _find(value: object, keys: tuple[str, ...], path: str = "", depth: int = 0):
    """(path, value) of every property named in ``keys``, at any depth of ``value``."""
    if depth > 5:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k.startswith("Fn::") or k == "Ref":
                continue
            where = f"{path}.{k}" if path else k
            if k in keys:
                yield where, v
            yield from _find(v, keys, where, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _find(v, keys, f"{path}[{i}]", depth + 1)


def _scalar(value: object) -> bool:
    """A value that can be one number or flag: a literal, or an intrinsic function (Ref,
    Fn::...) that may resolve to one; not a list or a structure."""
    if isinstance(value, (str, int, float, bool)):
        return True
    return isinstance(value, dict) and len(value) == 1 and \
        next(iter(value)).startswith(("Ref", "Fn::"))


def _options(props: dict, inherited: object = None) -> dict:
    """Option settings ([{Namespace, OptionName, Value}], Elastic Beanstalk's) read as
    properties: {OptionName: Value}, a comma-separated subnet list as a list. ``inherited``:
    the settings of the configuration template it names, which its own override."""
    settings = (inherited if isinstance(inherited, list) else []) + (
        props.get("OptionSettings") if isinstance(props.get("OptionSettings"), list) else [])
    if not settings:
        return props
    options = {}
    for o in settings:
        if isinstance(o, dict) and isinstance(o.get("OptionName"), str):
            value = o.get("Value")
            if o["OptionName"] in SUBNETS and isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            options[o["OptionName"]] = value
    return {**props, "OptionSettings": options}


def judged_types(ctx: Ctx) -> list[Resource]:
    """The resources the generic layer judges: no specific rule, and a kind that runs work or
    holds state."""
    return [r for r in ctx.model.resources
            if classify(r.type) == "unanalysed" and kind_of(r.type) in JUDGED_KINDS]


def analyze_generic(ctx: Ctx) -> set[str]:
    """Judge each resource of a type without a specific rule that runs work or holds state.
    Returns the keys of the resources it judged (they are not "not analysed")."""
    judged = set()
    for res in judged_types(ctx):
        kind = kind_of(res.type)
        tier = kind
        _judge(ctx, res, tier)
        judged.add(res.key)
    return judged


def _judge(ctx: Ctx, res: Resource, tier: str) -> None:
    model, stack = ctx.model, res.stack
    template = model.ref_one(res, "TemplateName", "AWS::ElasticBeanstalk::ConfigurationTemplate")
    inherited = model.resolve_ifs(template.stack, template.props).get("OptionSettings") \
        if template else None
    props = _options(model.resolve_ifs(stack, res.props), inherited)
    one, many, unknown = [], [], []
    for where, v in _find(props, COUNTS):
        if not _scalar(v):
            continue  # a list or structure of that name (replica settings), not a count
        n = model.number(stack, v)
        if n is None:
            unknown.append(f"{where}: {model.why_unknown(stack, v)}")
        elif n == 1:
            one.append(f"{where} is 1")
        elif n >= 2:
            many.append(f"{where} is {n}")
    multi_az = False
    for where, v in _find(props, MULTI):
        if not _scalar(v):
            continue
        b = model.boolean(stack, v)
        if b is True:
            multi_az = True
            many.append(f"{where} is true")
        elif b is False:
            one.append(f"{where} is false: one AZ")
        else:
            unknown.append(f"{where}: {model.why_unknown(stack, v)}")
    for where, v in _find(props, MODES):
        mode = model.literal(stack, v)
        if isinstance(mode, str) and "single" in mode.lower():
            one.append(f"{where} is {mode}")
        elif isinstance(mode, str) and "multi" in mode.lower():
            many.append(f"{where} is {mode}")
    if not multi_az:
        for where, v in _find(props, ONE_SUBNET):
            if v is not None:
                one.append(f"{where}: one subnet, so one AZ")
        for where, v in _find(props, ONE_AZ):
            if v is not None:
                az = model.literal(stack, v)
                one.append(f"{where}: one AZ" + (f" ({az})" if isinstance(az, str) else ""))
    for keys, zones in ((SUBNETS, False), (AZS, True)):
        for where, v in _find(props, keys):
            s = spread(model, stack, v, zones=zones)
            if s.one and not multi_az:
                one.append(f"{where}: {s.describe() if not zones else s.text()}")
            elif s.multi:
                many.append(f"{where}: {s.text()}")
            elif not s.known:
                unknown.append(f"{where}: {s.reason or 'not fixed by the template'}")
    t = ctx.tiers[tier]
    t.present = True
    t.lines[:] = [x for x in t.lines if not x.startswith("none")]  # it has something now
    name = model.display(res)
    label = f"{name} ({res.type}, {WHAT[tier]}; no specific rule, {JUDGED})"
    component = {"type": "generic", "logical_id": res.logical_id, "resource_type": res.type,
                 "kind": tier, "one": one, "many": many, "unknown": unknown}
    t.components.append(component)
    if one:
        t.lines.append(f"{label}: {'; '.join(one)}")
        reason = f"{res.type} has no specific rule and is {JUDGED}: {'; '.join(one)}"
        if tier == "compute":
            ctx.spof("compute", res, "generic-compute-one", reason)
        else:
            ctx.spof("data", res, "generic-data-one", reason)
    elif many:
        t.lines.append(f"{label}: {'; '.join(many)}")
        if unknown:
            ctx.unknown(tier, res, "placement and count", "; ".join(unknown))
    elif unknown:
        t.lines.append(f"{label}: not fixed by the template")
        ctx.unknown(tier, res, "placement and count", "; ".join(unknown))
    elif not placeable(res.type):
        component["managed"] = True
        t.lines.append(f"{name} ({res.type}, {WHAT[tier]}): managed, its schema has no "
                       f"placement or count: AWS places it")
    else:
        t.lines.append(f"{label}: the template sets none of its placement or count")
        ctx.unknown(tier, res, "placement and count",
                    f"{res.type} has no specific rule and its template sets none of its "
                    f"placement or count properties (subnets, AZs, Multi-AZ, counts)")
