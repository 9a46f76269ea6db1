"""Per-tier replication, single points of failure, unknowns and the verdict of one stage.

The tiers are read by network.py, compute.py and data.py; catalog.py says what the report
does with each resource type, so that a type it has no rules for is listed, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import classify
from .compute import analyze_compute, analyze_load_balancers
from .data import analyze_data, analyze_edge, analyze_managed, analyze_storage
from .findings import (ACCEPT_METADATA_FIELD, ACCEPT_METADATA_KEY, TIERS, AppUnit, Ctx,
                       Database, Spof, Tier, Unknown, plural)
from .generic import analyze_generic
from .model import Model
from .natgroups import analyze_nat_groups
from .network import _az_of_subnet, _Network, analyze_network
from .queues import analyze_queues, workers
from .resource_kinds import kind_of
from .selfrun import analyze_self_run
from .targets import analyze_targets

__all__ = ["ACCEPT_METADATA_FIELD", "ACCEPT_METADATA_KEY", "TIERS", "Analysis", "AppUnit",
           "Database", "Spof", "Tier", "Unknown", "analyze"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


@dataclass
class Analysis:
    model: Model
    tiers: dict[str, Tier]
    app_units: list[AppUnit]
    databases: list[Database]
    has_proxy: bool
    verdict: dict
    region: str | None = None
    unknowns: list[Unknown] = field(default_factory=list)
    unanalysed: list[dict] = field(default_factory=list)
    idle_instances: list[AppUnit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    divided: list[dict] = field(default_factory=list)  # queues.analyze_queues
    findings: list[Spof] = field(default_factory=list)  # rules that are not single points of failure

    @property
    def spofs(self) -> list[Spof]:
        return [s for t in self.tiers.values() for s in t.spofs]

    @property
    def open_spofs(self) -> list[Spof]:
        return [s for s in self.spofs if not s.accepted]


def analyze(model: Model, accept: dict[str, str] | None = None) -> Analysis:
    ctx = Ctx(model, accept)
    net = analyze_network(ctx)
    analyze_load_balancers(ctx)
    workers(ctx)
    analyze_compute(ctx)
    analyze_targets(ctx)
    analyze_queues(ctx)
    analyze_managed(ctx, "compute")
    analyze_data(ctx)
    analyze_self_run(ctx)
    analyze_nat_groups(ctx)
    analyze_storage(ctx)
    analyze_edge(ctx)
    judged = analyze_generic(ctx)
    unanalysed, notes = _unanalysed(ctx, judged)
    analysis = Analysis(model, ctx.tiers, ctx.app_units, ctx.databases,
                        bool(model.of_type("AWS::RDS::DBProxy")), {}, _region(model, net),
                        ctx.unknowns, unanalysed, ctx.idle_instances, notes, ctx.divided,
                        ctx.findings)
    analysis.verdict = _verdict(analysis)
    return analysis


def _unanalysed(ctx: Ctx, judged: set[str] = frozenset()) -> tuple[list[dict], list[str]]:
    """Every resource the report has no rules for, nested stacks it could not follow,
    resources behind a condition it cannot evaluate, and transforms it does not expand.
    Resources the generic layer judged (``judged``), and types the resource schemas say only
    support others, are not listed."""
    model = ctx.model
    out, notes = [], []
    followed = {(s.parent.name, s.logical_id) for s in model.stage.stacks if s.parent}
    for res in model.resources:
        kind = classify(res.type)
        if res.type == "AWS::CloudFormation::Stack":
            if (res.stack.name, res.logical_id) in followed:
                continue
            url = model.literal(res.stack, res.props.get("TemplateURL"))
            out.append({"type": res.type, "logical_id": res.logical_id,
                        "stack": res.stack.name, "resource": model.display(res),
                        "reason": f"nested stack whose template is not a local file "
                                  f"({url or 'TemplateURL not fixed'}): its resources are "
                                  f"not seen"})
        elif res.type == "AWS::Serverless::Application" and "SecretsManager" in str(
                model.literal(res.stack, (res.props.get("Location") or {}).get("ApplicationId")
                              if isinstance(res.props.get("Location"), dict) else None)):
            continue  # AWS's Secrets Manager rotation function: maintenance, not topology
        elif kind == "unanalysed" and (res.key in judged or kind_of(res.type) == "support"):
            pass
        elif kind == "unanalysed":
            out.append({"type": res.type, "logical_id": res.logical_id,
                        "stack": res.stack.name, "resource": model.display(res),
                        "reason": "no rules for this type: it may hold a single point of "
                                  "failure the report cannot see"})
        cond = model.conditional.get(res.key)
        if cond and kind == "analysed":
            ctx.unknown("compute" if res.type.startswith(("AWS::EC2", "AWS::Auto")) else
                        "data", res, "exists", f"only if condition {cond} holds, which "
                        f"depends on a value the templates do not fix")
    for stack in model.stage.stacks:
        transforms = stack.template.get("Transform")
        transforms = transforms if isinstance(transforms, list) else [transforms]
        for tr in transforms:
            if tr is None:
                continue
            if tr == SAM_TRANSFORM:
                notes.append(f"{stack.name}: SAM template: AWS::Serverless::Function is read "
                             f"as a Lambda function, SimpleTable as DynamoDB, Api/HttpApi as "
                             f"API Gateway; other serverless types are listed as not analysed")
            else:
                ctx.unknown("compute", None, "transform",
                            f"{stack.name} uses the transform {tr!r}: the deployed template "
                            f"may hold resources this one does not show")
    for stack, logical_id, cond in model.excluded:
        notes.append(f"{logical_id} ({stack.name}) left out: its condition {cond} is false")
    return out, notes


def _region(model: Model, net: _Network) -> str | None:
    """The region the templates deploy to, read off literal AZ names (eu-west-1a)."""
    regions = set()
    for subnet in net.subnets:
        az = _az_of_subnet(model, subnet) or ""
        m = re.fullmatch(r"([a-z]{2}(?:-[a-z]+)+-\d)[a-z]", az)
        if m:
            regions.add(m.group(1))
    return regions.pop() if len(regions) == 1 else None


# --- the verdict ---------------------------------------------------------------------------

VERDICT_KINDS = ("distributed", "partly distributed", "functionally decomposed",
                 "not distributed", "single machine", "no app tier", "unknown")


def _data_words(data: Tier) -> str:
    """What the headline of a distributed stage says of its data tier: "redundant" only for
    databases, caches, brokers and the like; managed services alone are named as such."""
    if not data.present:
        return ""
    if any(c["type"] != "managed" for c in data.components):
        return "; the data tier is redundant"
    names = ", ".join(f"{c['label']} {c['logical_id']}" for c in data.components)
    return f"; its data services ({names}) are managed, distributed by nature"


_MANAGED = {"lambda": "Lambda", "app-runner": "App Runner"}  # app units without servers of our own


def _verdict(a: Analysis) -> dict:
    tiers = a.tiers
    units = a.app_units
    delegated = [name for name in ("edge", "data", "storage") if tiers[name].present]
    states = [u.replicated for u in units]
    replicated: bool | None = True if True in states else (None if None in states else False)
    heals = any(u.heals for u in units)
    scales = any(u.scales for u in units)
    servers = [u for u in units if u.server]
    lb = tiers["load balancing"]
    lb_unknown = [u for u in a.unknowns if u.tier == "load balancing"]
    lb_ok = not servers or (lb.present and not lb.spofs and not lb_unknown)
    db_ok = not tiers["data"].spofs
    open_spofs = a.open_spofs
    could_not_see = ([f"{u.resource}: {u.what} unknown ({u.reason})" for u in a.unknowns]
                     + [f"{r['resource']} ({r['type']}): not analysed" for r in a.unanalysed])

    lacks = []
    unreplicated = [u for u in units if u.replicated is False]
    if replicated is False and unreplicated and all(u.kind == "lambda" for u in unreplicated):
        lacks.append("Lambda functions attached to subnets in >= 2 AZs (or to no VPC)")
    elif replicated is False and unreplicated and all(u.kind == "app-runner" for u in unreplicated):
        lacks.append("App Runner services that keep >= 2 instances provisioned (MinSize)")
    elif replicated is False:
        lacks.append("an app tier replicated across >= 2 AZs with >= 2 instances or tasks "
                     "(an Auto Scaling group or an ECS service)")
    if not heals:
        lacks.append("self-healing: an Auto Scaling group or ECS service that replaces "
                     "failed instances or tasks")
    if not scales:
        lacks.append("scaling out: a scaling policy and a max above the min")
    if not lb_ok:
        lacks.append("a load balancer in >= 2 AZs in front of the app tier")
    if tiers["data"].present and not db_ok:
        lacks.append("a redundant data tier (Multi-AZ, replicas with failover, or a cluster "
                     "of >= 2 instances)")
    if tiers["network egress"].spofs:
        lacks.append("a NAT gateway in every AZ that has private subnets")
    others = sorted({s.tier for s in open_spofs if s.tier not in (
        "compute", "data", "network egress", "load balancing")})
    if others:
        lacks.append("no single point of failure in " + ", ".join(others))

    n = len(open_spofs)
    spof_text = f"{plural(n, 'single point of failure')} {'remains' if n == 1 else 'remain'}"
    unseen = " and ".join(
        ([f"it cannot tell {plural(len(a.unknowns), 'fact')} the templates leave open"]
         if a.unknowns else [])
        + ([f"it does not analyse {plural(len(a.unanalysed), 'resource')}"]
           if a.unanalysed else []))
    if not units and open_spofs:
        kind = "no app tier"
        headline = ("no app compute tier in these templates (" + (", ".join(delegated) or
                    "no managed service") + f" here); {spof_text} in what is here")
        lacks = [x for x in lacks if "app tier" not in x and "self-healing" not in x
                 and "scaling out" not in x and "load balancer" not in x]
    elif not units:
        if could_not_see:
            kind = "unknown"
            headline = ("UNKNOWN: no app tier found in what the report can read, but " + unseen
                        + " (listed below): the app may be there")
        else:
            kind = "no app tier"
            headline = ("no app compute tier in these templates: the managed services here ("
                        + (", ".join(delegated) or "none") + ") are distributed by nature, "
                        "but there is no app of its own to replicate")
        lacks = []
    elif open_spofs:
        if replicated:
            kind = "partly distributed"
            headline = f"PARTLY DISTRIBUTED: the app tier is replicated, but {spof_text}"
        elif delegated:
            kind = "functionally decomposed"
            headline = ("FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED: "
                        f"{', '.join(delegated)} {'is' if len(delegated) == 1 else 'are'} "
                        f"delegated to separate services, but the "
                        "app's own work is not replicated across AZs"
                        + (" (or not known to be)" if replicated is None else "")
                        + f"; {spof_text}")
        elif len(units) == 1 and units[0].kind == "instance":
            kind = "single machine"
            headline = ("NOT DISTRIBUTED: one machine does everything; nothing is delegated "
                        "or replicated")
        else:
            kind = "not distributed"
            headline = (f"NOT DISTRIBUTED: the app's own work ({plural(len(units), 'unit')}) "
                        "is not replicated across AZs"
                        + (" (or not known to be)" if replicated is None else "")
                        + f" and nothing is delegated; {spof_text}")
    elif could_not_see:
        kind = "unknown"
        headline = ("UNKNOWN: no single point of failure found in what the report can read, "
                    f"but {unseen} (listed below); it cannot say DISTRIBUTED")
    elif replicated and heals and scales and lb_ok and db_ok:
        kind = "distributed"
        managed = all(not u.server for u in units)
        headline = ("DISTRIBUTED: the app tier "
                    + (f"is managed ({', '.join(sorted({_MANAGED[u.kind] for u in units}))}), "
                       "runs across AZs and scales out by nature"
                       if managed else "is replicated across AZs, heals itself and scales out")
                    + _data_words(tiers["data"])
                    + "; no unaccepted single point of failure")
    elif replicated:
        kind = "partly distributed"
        headline = ("PARTLY DISTRIBUTED: the app tier is replicated across AZs with no single "
                    "point of failure, but it lacks: " + "; ".join(lacks))
    else:
        kind = "functionally decomposed" if delegated else "not distributed"
        headline = ("NOT DISTRIBUTED: the app tier is not replicated across AZs"
                    if kind == "not distributed" else
                    "FUNCTIONALLY DECOMPOSED (delegation), NOT DISTRIBUTED: the app tier is "
                    "not replicated across AZs")
    return {"kind": kind, "headline": headline, "lacks": lacks,
            "replicated": replicated, "heals_itself": heals, "scales_out": scales,
            "delegated_tiers": delegated, "could_not_see": could_not_see,
            "single_points_of_failure": n,
            "accepted_single_points_of_failure": len(a.spofs) - n}
