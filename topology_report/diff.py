"""Before/after in distribution terms, for reviewers and CI.

Exit code 1 when a stage held to scale-out rules gains an unaccepted single point of
failure or its connection budget is exceeded after the change; 0 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

from .loader import ReportError, load, select_stages
from .report import build, public
from .resilience import parse_policy
from .terraform_input import prior_and_planned


def facts(r: dict) -> dict[str, tuple[str | None, object]]:
    """label -> (logical ID it is about, value): what the diff compares."""
    out: dict[str, tuple[str | None, object]] = {"verdict": (None, r["verdict"]["kind"])}
    for tier in r["tiers"].values():
        for c in tier["components"]:
            lid, kind = c["logical_id"], c["type"]
            if kind == "auto-scaling-group":
                for key, label in (("min", "min instances"), ("desired", "desired instances"),
                                   ("max", "max instances"), ("instance_type", "instance type"),
                                   ("health_check", "health check"),
                                   ("update_policy", "update policy")):
                    out[f"ASG {lid} {label}"] = (lid, c[key])
                out[f"ASG {lid} AZs"] = (lid, len(c["azs"]))
                out[f"ASG {lid} scaling"] = (lid, ", ".join(c["scaling"]) or "none")
                for x in c.get("schedules", []):
                    out[f"ASG {lid} {x['text']}"] = (lid, f"min {x['min']}, max {x['max']}")
            elif kind == "ec2-instance":
                out[f"EC2 instance {lid}"] = (lid, c["instance_type"] or "present")
                out[f"EC2 instance {lid} auto-recovery"] = (lid, c["auto_recovery"])
            elif kind.endswith("load-balancer"):
                out[f"load balancer {lid} subnets"] = (lid, c["subnets"])
                out[f"load balancer {lid} AZs"] = (lid, len(c["azs"]))
                out[f"load balancer {lid} scheme"] = (lid, c["scheme"])
            elif kind == "db-instance":
                out[f"DB {lid} Multi-AZ"] = (lid, c["multi_az"])
                out[f"DB {lid} class"] = (lid, c["class"])
                out[f"DB {lid} read replicas"] = (lid, len(c["read_replicas"]))
                out[f"DB {lid} max_connections parameter"] = (
                    lid, c["max_connections_parameter"] or "RDS default")
            elif kind == "db-cluster":
                out[f"DB cluster {lid} instances"] = (lid, c["instances"])
            elif kind == "nat-gateway":
                out[f"NAT gateway {lid} AZs served"] = (lid, ", ".join(c["serves_azs"]))
            elif kind == "nat-instance":
                out[f"NAT instance {lid}"] = (lid, c.get("instance_type") or "present")
            elif kind == "cloudfront-distribution":
                out[f"CloudFront {lid} origins"] = (lid, len(c["origins"]))
            elif kind == "s3-bucket":
                out[f"S3 bucket {lid} versioned"] = (lid, c["versioned"])
            elif kind == "ecs-service":
                out[f"ECS service {lid} tasks (min)"] = (lid, c["min"])
                out[f"ECS service {lid} max tasks"] = (lid, c["max"])
                out[f"ECS service {lid} AZs"] = (lid, len(c["azs"]))
                out[f"ECS service {lid} circuit breaker"] = (lid, c["circuit_breaker"])
            elif kind == "lambda-function":
                out[f"Lambda {lid} invoked by"] = (lid, ", ".join(c["invoked_by"]) or "nothing")
            elif kind == "cache-cluster":
                out[f"cache {lid} nodes"] = (lid, c["nodes"])
            elif kind == "cache-replication-group":
                out[f"cache {lid} nodes per shard"] = (lid, c["nodes_per_shard"])
                out[f"cache {lid} automatic failover"] = (lid, c["automatic_failover"])
            elif kind == "memorydb-cluster":
                out[f"MemoryDB {lid} replicas per shard"] = (lid, c["replicas_per_shard"])
            elif kind == "search-domain":
                out[f"OpenSearch {lid} data nodes"] = (lid, c["data_nodes"])
                out[f"OpenSearch {lid} zone awareness"] = (lid, c["zone_awareness"])
            elif kind == "mq-broker":
                out[f"MQ broker {lid} deployment mode"] = (lid, c["deployment_mode"])
            elif kind == "efs":
                out[f"EFS {lid} One Zone"] = (lid, c["one_zone"])
            elif kind == "managed":
                out[f"{c['label']} {lid}"] = (lid, "managed")
    gateways = sum(1 for c in r["tiers"]["network egress"]["components"]
                   if c["type"] == "nat-gateway")
    out["NAT gateways"] = (None, gateways)
    cap = r["capacity"]
    if cap.get("applicable"):
        db = cap.get("database") or {}
        out["max instances (all app tiers)"] = (None, cap["max_instances"])
        if db:
            out["DB max_connections"] = (db["logical_id"], db["max_connections"])
            out["connection budget"] = (None, f"{cap['peak_connections']} of "
                                              f"{db['usable_connections']} usable")
        out["limit that binds first"] = (None, cap["binding"])
        out["players the fleet serves at max size (est.)"] = (None, cap["max_players"])
    for u in r.get("unknowns", []):
        out[f"{u['resource']} {u['what']}"] = (u["logical_id"], f"unknown ({u['reason']})")
    for x in r.get("unanalysed", []):
        out[f"{x['resource']} ({x['type']})"] = (x["logical_id"], "not analysed")
    for row in (r.get("recovery") or {}).get("disruptions", []):
        if row["applies"]:
            out[f"{row['label']}: RTO (est.)"] = (None, row["rto"]["short"])
            out[f"{row['label']}: RPO (est.)"] = (None, row["rpo"]["short"])
    out["cost per month, baseline"] = (None, f"${r['cost']['total']:,.2f}")
    divided = r.get("divided_work") or {}
    for q in divided.get("queues", []):
        out[f"queue {q['queue']} worked by"] = (q["queue"], ", ".join(
            f"{c['logical_id']} ({c['shape']})" for c in q["consumers"]))
    for f in divided.get("findings", []):  # not single points of failure: reported only
        out[f"finding {f['rule']} on {f['logical_id']}"] = (
            f["logical_id"], f"accepted ({f['accepted']})" if f["accepted"] else "open")
    return out


def _ids(r: dict | None) -> set[str]:
    """Logical IDs of a report's stage (every resource, not only the analysed ones)."""
    if not r:
        return set()
    if "_logical_ids" in r:
        return {lid for _, lid in r["_logical_ids"]}
    return {c["logical_id"] for t in r["tiers"].values() for c in t["components"]}


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "none" if value is None else str(value)


def compare(before: dict | None, after: dict | None, kind: str) -> dict:
    """The changes between two reports of one stage, and whether they fail the gate."""
    b_facts = facts(before) if before else {}
    a_facts = facts(after) if after else {}

    def keyed(r: dict | None) -> dict[tuple[str, str], dict]:
        if not r:
            return {}
        return {(s["logical_id"], s["rule"]): s for s in r["single_points_of_failure"]
                if not s["accepted"]}

    b_spofs, a_spofs = keyed(before), keyed(after)
    new = [a_spofs[k] for k in a_spofs if k not in b_spofs]
    resolved = [b_spofs[k] for k in b_spofs if k not in a_spofs]
    # The same single point of failure under a new logical ID (CDK renames an instance
    # when its user data changes, for example) is not a new one.
    # Only a removed logical ID can pair with an added one: a single point of failure
    # whose resource still exists was resolved, and one on a resource that existed before
    # is new, whatever else changed.
    renamed = []
    b_ids, a_ids = _ids(before), _ids(after)
    for s in list(new):
        if s["logical_id"] in b_ids:
            continue
        twin = next((r for r in resolved if r["rule"] == s["rule"] and
                     r["stack"] == s["stack"] and r["logical_id"] not in a_ids), None)
        if twin:
            new.remove(s)
            resolved.remove(twin)
            renamed.append((twin, s))
    new_ids = {s["logical_id"] for s in new}
    resolved_ids = {s["logical_id"] for s in resolved}
    b_cap = (before or {}).get("capacity", {})
    a_cap = (after or {}).get("capacity", {})
    budget_before = b_cap.get("budget_ok", True)
    budget_after = a_cap.get("budget_ok", True)

    changes = []
    for label in list(b_facts) + [k for k in a_facts if k not in b_facts]:
        lid, old = b_facts.get(label, (None, None))
        lid2, value = a_facts.get(label, (None, None))
        lid = lid or lid2
        if label in b_facts and label in a_facts and old == value:
            continue
        if label not in a_facts:
            text = f"{label}: {_fmt(old)} -> removed"
        elif label not in b_facts:
            text = f"{label}: added ({_fmt(value)})"
        else:
            text = f"{label}: {_fmt(old)} -> {_fmt(value)}"
        notes = []
        if lid and lid in new_ids:
            notes.append("new single point of failure")
        if lid and lid in resolved_ids:
            notes.append("single point of failure resolved")
        if label in ("connection budget", "max instances (all app tiers)") or \
                label.endswith("max instances") or label.startswith("DB max_connections") \
                or label.endswith(" class"):
            if budget_before and not budget_after:
                notes.append("connection budget now exceeded")
            elif not budget_before and budget_after:
                notes.append("connection budget back within max_connections")
        changes.append(text + (": " + "; ".join(notes) if notes else ""))

    def unknown_keys(r: dict | None) -> dict[tuple, dict]:
        return {(u["logical_id"], u["what"]): u for u in (r or {}).get("unknowns", [])}

    b_unknown, a_unknown = unknown_keys(before), unknown_keys(after)
    new_unknowns = [u for k, u in a_unknown.items() if k not in b_unknown]
    b_unanalysed = {(x["logical_id"], x["type"]) for x in (before or {}).get("unanalysed", [])}
    new_unanalysed = [x for x in (after or {}).get("unanalysed", [])
                      if (x["logical_id"], x["type"]) not in b_unanalysed]

    breaches = policy_breaches(before, after)
    failures = []
    if kind == "scale-out":
        failures += [f"recovery policy broken: {c['text']}" for c in breaches]
        failures += [f"new single point of failure: {s['resource']}: {s['reason']}" for s in new]
        failures += [(f"{u['resource']}: {u['what']} was known and is now unknown"
                      if u["logical_id"] in b_ids else
                      f"{u['resource']} (new): {u['what']} unknown")
                     + f" ({u['reason']}): it may be a single point of failure"
                     for u in new_unknowns]
        failures += [f"{x['resource']} ({x['type']}) is new and not analysed: it may be a "
                     f"single point of failure" for x in new_unanalysed]
        if after and not budget_after:
            db = a_cap.get("database") or {}
            failures.append(f"connection budget exceeded: {a_cap.get('peak_connections')} "
                            f"connections at max size > {db.get('usable_connections')} usable")
    return {"kind": kind, "changes": changes,
            "new_single_points_of_failure": new, "resolved_single_points_of_failure": resolved,
            "renamed_single_points_of_failure": [
                {"before": b["logical_id"], "after": a["logical_id"], "rule": a["rule"]}
                for b, a in renamed],
            "new_unknowns": new_unknowns, "new_unanalysed": new_unanalysed,
            "policy_breaches": breaches, "failures": failures}


def policy_breaches(before: dict | None, after: dict | None) -> list[dict]:
    """The recovery policy's limits that the change breaks: a limit the after-templates do
    not meet (or cannot be shown to meet) that the before-templates met, or one they broke
    already by less."""
    if not after:
        return []
    old = {c["key"]: c for c in ((before or {}).get("recovery") or {}).get("policy", [])}
    out = []
    for c in (after.get("recovery") or {}).get("policy", []):
        if c["status"] == "ok":
            continue
        prev = old.get(c["key"])
        if prev is None or prev["status"] == "ok" or (
                c["status"] == "breaks" and prev["status"] == "breaks" and
                c["worst_s"] > prev["worst_s"]):
            out.append(c)
    return out


def _stage_kind(requested: str, name: str) -> str:
    if requested != "auto":
        return requested
    return "starter" if name == "starter" else "scale-out"


def run_diff(args, prices: dict, params, accept: dict[str, str],
             parameters: dict[str, str] | None = None) -> int:
    policy = parse_policy(getattr(args, "policy", []) or [], getattr(args, "policy_file", []) or [])
    if args.after is None:  # one Terraform plan: the state it was planned against, then it
        before, after = (select_stages([s], args.stage)
                         for s in prior_and_planned(Path(args.before)))
    else:
        before = select_stages(load(args.before), args.stage)
        after = select_stages(load(args.after), args.stage)
    if len(before) == 1 and len(after) == 1:
        pairs = [(after[0].name, before[0], after[0])]
    else:
        b_by, a_by = {s.name: s for s in before}, {s.name: s for s in after}
        names = list(b_by) + [n for n in a_by if n not in b_by]
        pairs = [(n, b_by.get(n), a_by.get(n)) for n in names]
    if not pairs:
        raise ReportError("nothing to compare")
    results = []
    for name, b, a in pairs:
        rb = build(b, prices, params, accept, parameters, policy) if b else None
        ra = build(a, prices, params, accept, parameters, policy) if a else None
        result = compare(rb, ra, _stage_kind(args.stage_kind, name))
        result["stage"] = name
        result["before"] = rb["verdict"]["headline"] if rb else "(stage absent)"
        result["after"] = ra["verdict"]["headline"] if ra else "(stage absent)"
        result["_after_report"] = ra
        results.append(result)
    failed = any(r["failures"] for r in results)
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if not k.startswith("_")}
                          | {"after_report": public(r["_after_report"]) if r["_after_report"]
                             else None} for r in results], indent=2, default=str))
    else:
        print(render(results, markdown=args.markdown))
    return 1 if failed else 0


def render(results: list[dict], markdown: bool = False) -> str:
    out = []
    h = "### " if markdown else "== "
    bullet = "- "
    if markdown:
        out.append("## Is it distributed? Topology diff")
        out.append("")
    for r in results:
        status = "FAIL" if r["failures"] else "ok"
        out.append(f"{h}Stage {r['stage']} ({r['kind']} rules): {status}")
        if markdown:
            out.append("")
        if r["before"] != r["after"]:
            out.append(f"{bullet}verdict before: {r['before']}")
            out.append(f"{bullet}verdict after: {r['after']}")
        else:
            out.append(f"{bullet}verdict (unchanged): {r['after']}")
        if r["changes"]:
            out.append(f"{bullet}changes in distribution terms:")
            out.extend(f"  {bullet}{c}" for c in r["changes"] if not c.startswith("verdict:"))
        else:
            out.append(f"{bullet}no change in distribution terms")
        for s in r["new_single_points_of_failure"]:
            out.append(f"{bullet}NEW single point of failure: {s['resource']}: {s['reason']}")
        for s in r["resolved_single_points_of_failure"]:
            out.append(f"{bullet}resolved single point of failure: {s['resource']}")
        for u in r.get("new_unknowns", []):
            out.append(f"{bullet}NOW UNKNOWN: {u['resource']}: {u['what']}: {u['reason']}")
        if r["kind"] != "scale-out":
            for c in r.get("policy_breaches", []):
                out.append(f"{bullet}recovery policy broken (report only, {r['kind']} rules): "
                           f"{c['text']}")
        for s in r["renamed_single_points_of_failure"]:
            out.append(f"{bullet}same single point of failure ({s['rule']}) under a new "
                       f"logical ID: {s['before']} -> {s['after']}")
        for f in r["failures"]:
            out.append(f"{bullet}FAIL: {f}")
        out.append("")
    failed = [r["stage"] for r in results if r["failures"]]
    out.append(("Result: FAIL (" + ", ".join(failed) + ")") if failed else "Result: ok")
    return "\n".join(out)
