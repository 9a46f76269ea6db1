"""A Mermaid flowchart of each stage's topology, drawn from its templates. Single points
of failure are drawn red; managed services that are distributed by nature, green."""

from __future__ import annotations

import re

from .analyze import analyze
from .loader import Stage
from .model import Model


STORES = {"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable", "AWS::Serverless::SimpleTable",
          "AWS::ElastiCache::ServerlessCache"}


def _id(prefix: str, logical_id: str) -> str:
    return prefix + "_" + re.sub(r"[^A-Za-z0-9_]", "_", logical_id)


def _label(*parts: str) -> str:
    text = "<br/>".join(p for p in parts if p)
    return '"' + text.replace('"', "'") + '"'


def stage_diagram(stage: Stage) -> str:
    a = analyze(Model(stage))
    spof_ids = {s.logical_id for s in a.open_spofs}
    lines = ["flowchart LR", '  players(("players"))']
    nodes: dict[str, str] = {}  # logical id -> node id
    managed, spofs = [], []

    def node(prefix: str, logical_id: str, shape: tuple[str, str], *label: str,
             is_managed: bool = False) -> str:
        nid = _id(prefix, logical_id)
        lines.append(f"  {nid}{shape[0]}{_label(*label)}{shape[1]}")
        nodes[logical_id] = nid
        if logical_id in spof_ids:
            spofs.append(nid)
        elif is_managed:
            managed.append(nid)
        return nid

    box, cyl, stadium = ("[", "]"), ("[(", ")]"), ("([", "])")
    for c in a.tiers["storage"].components:
        if c["type"] == "managed":
            node("m", c["logical_id"], cyl, f"{c['label']} {c['logical_id']}", "managed",
                 is_managed=True)
        elif c["type"] == "s3-bucket":
            node("s3", c["logical_id"], cyl, f"S3 {c['logical_id']}", "managed, multi-AZ",
                 is_managed=True)
        else:
            node("fs", c["logical_id"], cyl, f"EFS {c['logical_id']}",
                 "One Zone" if c.get("one_zone") else "Regional")
    for c in a.tiers["load balancing"].components:
        node("lb", c["logical_id"], box, f"{c['type'].replace('-', ' ')} {c['logical_id']}",
             f"{c['scheme']}, {c['subnets']} subnets in {len(c['azs'])} AZs")
    # queues compute consumes: a note on the hosts that serve and work a queue too; a queue
    # worked by a worker tier is drawn between its senders and the workers (below)
    works: dict[str, list[str]] = {}
    for q in a.divided:
        for c in q["consumers"]:
            if c["shape"] == "same machines":
                works.setdefault(c["logical_id"], []).append(
                    f"also works queue {q['queue']} (by process)")
    workers = {c["logical_id"] for q in a.divided for c in q["consumers"]
               if c["shape"] == "worker tier"}
    compute = []
    lb_targets: dict[str, set[str]] = {}  # compute node -> the target groups it is behind
    for c in a.tiers["compute"].components:
        if c["type"] == "auto-scaling-group":
            nid = node("asg", c["logical_id"], box, f"Auto Scaling group {c['logical_id']}",
                       f"{c['min']}..{c['max']} x {c['instance_type'] or '?'}",
                       f"{len(c['azs'])} AZs, self-healing"
                       + (", scales out" if c["scaling"] else ""),
                       *works.get(c["logical_id"], []))
        elif c["type"] == "ec2-instance":
            if not c.get("serves_traffic", True):
                continue  # a bastion or helper: not drawn behind the load balancer
            nid = node("ec2", c["logical_id"], box, f"EC2 {c['logical_id']}",
                       f"1 x {c['instance_type'] or '?'} in {c['az'] or '?'}",
                       "auto-recovery" if c["auto_recovery"] else "",
                       *works.get(c["logical_id"], []))
        elif c["type"] == "ecs-service":
            nid = node("ecs", c["logical_id"], box, f"ECS service {c['logical_id']}",
                       f"{c['min'] if c['min'] is not None else '?'}"
                       f"..{c['max'] if c['max'] is not None else '?'} tasks",
                       f"{len(c['azs'])} AZs" if c["azs"] else "",
                       *works.get(c["logical_id"], []))
        elif c["type"] == "lambda-function" and c.get("invoked_by"):
            nid = node("fn", c["logical_id"], box, f"Lambda {c['logical_id']}", "managed",
                       is_managed=True)
        else:
            continue
        compute.append(nid)
        lb_targets[nid] = set(c.get("target_groups") or []) | (
            {"*"} if c["type"] == "ec2-instance" and c.get("load_balanced_with") else set())
    dbs = []
    for c in a.tiers["data"].components:
        if c["type"] == "db-instance" and not c["cluster"]:
            detail = "Multi-AZ: standby in another AZ" if c["multi_az"] else "Single-AZ"
            if c["replica_of"]:
                detail = f"read replica of {c['replica_of']}"
            dbs.append(node("db", c["logical_id"], cyl, f"RDS {c['engine'] or ''} {c['logical_id']}",
                            f"{c['class']}", detail))
        elif c["type"] == "db-cluster":
            dbs.append(node("db", c["logical_id"], cyl, f"DB cluster {c['logical_id']}",
                            f"{c['instances']} instance(s)"))
        elif c["type"] == "managed":
            nid = node("m", c["logical_id"], cyl, f"{c['label']} {c['logical_id']}",
                       "managed", is_managed=True)
            if c["resource_type"] in STORES:  # queues and topics: drawn, not wired
                dbs.append(nid)
        elif c["type"].startswith("cache"):
            dbs.append(node("cache", c["logical_id"], cyl, f"ElastiCache {c['logical_id']}"))
        elif c["type"] in ("memorydb-cluster", "search-domain", "mq-broker"):
            label = {"memorydb-cluster": "MemoryDB", "search-domain": "OpenSearch",
                     "mq-broker": "Amazon MQ"}[c["type"]]
            dbs.append(node("d", c["logical_id"], cyl, f"{label} {c['logical_id']}"))
    egress = []
    for c in a.tiers["network egress"].components:
        if c["type"] == "nat-gateway":
            egress.append(node("nat", c["logical_id"], stadium, f"NAT gateway {c['logical_id']}",
                               f"in {c['az'] or '?'}"))
        elif c["type"] == "nat-instance":
            egress.append(node("nat", c["logical_id"], stadium, f"NAT instance {c['logical_id']}",
                               c.get("instance_type") or ""))
    # hosts with an address of their own reach the internet gateway themselves, through no NAT
    direct = [nodes[c["logical_id"]] for c in a.tiers["network egress"].components
              if c["type"] == "direct-egress" and c["logical_id"] in nodes]
    if direct:
        igw = node("igw", "InternetGateway", stadium, "internet gateway", "regional, managed",
                   is_managed=True)
        for source in direct:
            lines.append(f"  {source} -.->|egress, own IPv4| {igw}")
    entry = []
    for c in a.tiers["edge"].components:
        if c["type"] == "managed":
            entry.append(node("api", c["logical_id"], box, f"{c['label']} {c['logical_id']}",
                              "managed", is_managed=True))
            for target in compute:
                if target.startswith("fn_"):
                    lines.append(f"  {entry[-1]} --> {target}")
            continue
        nid = node("cf", c["logical_id"], box, f"CloudFront {c['logical_id']}",
                   "managed, global edge", is_managed=True)
        entry.append(nid)
        for o in c["origins"]:
            target = nodes.get(o["target"] or "")
            if target:
                lines.append(f"  {nid} -->|{o['kind']}| {target}")
    if not entry:
        entry = [nodes[c["logical_id"]] for c in a.tiers["load balancing"].components] or [
            n for n in compute if n not in {nodes.get(w) for w in workers}]
    for nid in entry:
        lines.append(f"  players --> {nid}")
    balanced = [n for n in compute if lb_targets.get(n)]
    for c in a.tiers["load balancing"].components:
        for target in balanced:
            lines.append(f"  {nodes[c['logical_id']]} --> {target}")
    for source in compute:
        for db in dbs:
            lines.append(f"  {source} --> {db}")
        if not source.startswith("fn_") and source not in direct:
            for nat in egress:
                lines.append(f"  {source} -.->|egress| {nat}")
    for q in a.divided:  # the queue between the tier that sends and the worker tier
        queue = nodes.get(q["queue"])
        worked = [nodes[c["logical_id"]] for c in q["consumers"]
                  if c["shape"] == "worker tier" and c["logical_id"] in nodes]
        if queue is None or not worked:
            continue
        for s in q["senders"]:
            if s["logical_id"] in nodes and nodes[s["logical_id"]] not in worked:
                lines.append(f"  {nodes[s['logical_id']]} -->|jobs| {queue}")
        lines.extend(f"  {queue} -->|worked by| {w}" for w in worked)
    lines.append("  classDef spof fill:#fdd,stroke:#c00,stroke-width:2px")
    lines.append("  classDef managed fill:#dfd,stroke:#393")
    if spofs:
        lines.append(f"  class {','.join(spofs)} spof")
    if managed:
        lines.append(f"  class {','.join(managed)} managed")
    return "\n".join(lines)


def mermaid(stages: list[Stage], markdown: bool = False) -> str:
    parts = []
    for stage in stages:
        diagram = stage_diagram(stage)
        if markdown:
            parts.append(f"### Stage `{stage.name}`\n\n```mermaid\n{diagram}\n```\n\n"
                         "Red: single point of failure. Green: managed, distributed by nature.")
        else:
            parts.append(f"%% stage {stage.name}\n{diagram}")
    return "\n\n".join(parts)
