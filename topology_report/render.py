"""Readable text of reports."""

from __future__ import annotations

from .analyze import TIERS
from .rules import RULES


RULE_LABELS = {r.id: r.label for r in RULES}


def _n(value: float | int | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def verdict_line(report: dict) -> str:
    return f"{report['stage']}: {report['verdict']['headline']}"


def render_stage(r: dict) -> str:
    out: list[str] = []
    out.append(f"=== Stage {r['stage']} ({len(r['stacks'])} stack"
               f"{'s' if len(r['stacks']) != 1 else ''}: {', '.join(r['stacks'])}) ===")
    v = r["verdict"]
    out.append(f"Verdict: {v['headline']}")
    if v["lacks"]:
        out.append("  To be distributed it lacks:")
        out.extend(f"  - {item}" for item in v["lacks"])
    out.append("")
    out.append("Tiers")
    for name in TIERS:
        tier = r["tiers"][name]
        out.append(f"  {name}{'' if tier['present'] else ' (absent)'}")
        out.extend(f"    {line}" for line in tier["summary"])
    out.extend(render_divided(r.get("divided_work")))
    spofs = r["single_points_of_failure"]
    open_ = [s for s in spofs if not s["accepted"]]
    accepted = [s for s in spofs if s["accepted"]]
    out.append("")
    out.append(f"Single points of failure: {len(open_)}"
               + (f" (+ {len(accepted)} accepted)" if accepted else ""))
    for s in open_:
        out.append(f"  - [{s['tier']}] {s['resource']}: {s['reason']} ({s['rule']})")
        out.append(f"      fix: {s['fix']}")
    for s in accepted:
        out.append(f"  - accepted [{s['tier']}] {s['resource']}: {s['reason']} "
                   f"(accepted: {s['accepted']})")
    unknowns, unanalysed = r.get("unknowns", []), r.get("unanalysed", [])
    if unknowns:
        out.append("")
        out.append(f"Unknown (the templates do not say; never counted as a yes or a no): "
                   f"{len(unknowns)}")
        out.extend(f"  - [{u['tier']}] {u['resource']}: {u['what']}: {u['reason']}"
                   for u in unknowns)
    if unanalysed:
        out.append("")
        out.append(f"Not analysed (no rules for these; they may hide a single point of "
                   f"failure): {len(unanalysed)}")
        out.extend(f"  - {x['type']} {x['resource']}: {x['reason']}" for x in unanalysed)
    for note in r.get("notes", []):
        out.append(f"Note: {note}")
    out.append("")
    out.extend(render_recovery(r["recovery"]))
    out.append("")
    out.extend(render_capacity(r["capacity"]))
    out.append("")
    out.extend(render_cost(r["cost"]))
    return "\n".join(out)


def render_divided(divided: dict | None) -> list[str]:
    """Which tiers a queue divides from which, and the queues' findings (those that are not
    single points of failure); nothing for a stage whose compute consumes no queue."""
    if not divided:
        return []
    out = ["", "Divided work (queues)"]
    for q in divided["queues"]:
        out.extend(f"  {line}" for line in q["lines"])
    findings = divided["findings"]
    out.append(f"  findings (not single points of failure): {len(findings) or 'none'}")
    for f in findings:
        out.append(f"  - [{f['tier']}] {f['resource']}: {f['reason']} ({f['rule']})"
                   + (f" (accepted: {f['accepted']})" if f["accepted"] else ""))
        out.append(f"      fix: {f['fix']}")
    return out


def render_recovery(rec: dict) -> list[str]:
    """The recovery time (RTO) and data lost (RPO) per disruption, the worst case over the
    stage's resources, with each figure's basis and every assumption's source."""
    out = ["When it fails (estimates: RTO = time until it serves again, RPO = data lost; the "
           "worst case over the stage's resources)"]
    width = max(len(row["label"]) for row in rec["disruptions"])
    for row in rec["disruptions"]:
        if not row["applies"]:
            out.append(f"  {row['label']:<{width}}  not applicable: {row['why']}")
            continue
        out.append(f"  {row['label']:<{width}}  RTO {row['rto']['text']}; "
                   f"RPO {row['rpo']['text']}")
        for item in row["items"]:
            out.append(f"    - {item['component']}: RTO {item['rto']['text']}, RPO "
                       f"{item['rpo']['text']}: {item['why']}"
                       + (f" [assumes: {', '.join(item['assumptions'])}]"
                          if item["assumptions"] else ""))
    if rec.get("policy"):
        out.append("  policy:")
        for check in rec["policy"]:
            out.append(f"    - {check['text']}")
    out.append("  assumptions (figures the templates do not give):")
    out.extend(f"    - {a['figure']} [{a['key']}; source: {a['source']}]"
               for a in rec["assumptions"])
    return out


def render_capacity(c: dict) -> list[str]:
    out = ["Scale headroom"]
    if not c.get("applicable"):
        out.append(f"  not applicable: {c.get('reason')}")
        return out
    db = c.get("database")
    if db:
        usable = db["usable_connections"]
        if db["proxy"]:
            state = "through RDS Proxy (app connections are pooled)"
        elif usable is None:
            state = "max_connections unknown"
        elif c["budget_ok"]:
            state = f"OK, {usable - c['peak_connections']:,} spare"
        else:
            state = (f"EXCEEDED by {c['peak_connections'] - usable:,}: at most "
                     f"{c['instances_the_budget_allows']} instances fit")
        workers = (f" + the worker tiers' {c['worker_connections']:,}"
                   if c.get("worker_connections") else "")
        out.append(f"  connection budget: {c['max_instances']} instance(s) at max{workers} -> "
                   f"{c['peak_connections']:,} DB connections of {_n(usable)} usable "
                   f"(max_connections {_n(db['max_connections'])} on {db['logical_id']}, "
                   f"{db['class']}): {state}")
    first = c["limits"][0]
    out.append(f"  max players the fleet serves at its max size: {c['max_players']:,} "
               f"({c['fleet_rps']:,.0f} req/s)"
               + (f"; but {first['name']} binds first, at {first['players']:,}"
                  if first["players"] < c["max_players"] else ""))
    out.append("  limits, the one that binds first on top:")
    for i, lim in enumerate(c["limits"], 1):
        out.append(f"    {i}. {lim['name']}: {lim['players']:,} players ({lim['detail']})")
    out.append(f"  binds first: {c['binding']}")
    for g in c.get("growth", []):
        out.append(f"  {g['factor']}x ({g['players']:,} players, {g['rps']:,.0f} req/s): "
                   f"{g['instances']:,} instances, {g['connections']:,} DB connections; "
                   f"binds first: {g['binds_first'] or 'nothing'}")
        out.extend(f"    needs: {n}" for n in g["needs"])
    out.append("  assumptions:")
    out.extend(f"    - {x}" for x in c["assumptions"])
    return out


def render_cost(c: dict) -> list[str]:
    out = [f"Monthly cost estimate ({c['currency']}, {c['region']}, prices as of {c['as_of']})"]
    width = max([len(x["item"]) for x in c["lines"]] + [10])
    out.append(f"  {'item':<{width}}  {'baseline':>9}  {'at max':>9}  basis")
    for x in c["lines"]:
        out.append(f"  {x['item']:<{width}}  {x['monthly']:>9.2f}  {x['monthly_at_max']:>9.2f}"
                   f"  {x['basis']}")
    out.append(f"  {'total':<{width}}  {c['total']:>9.2f}  {c['total_at_max']:>9.2f}")
    out.append("  assumptions:")
    out.extend(f"    - {x}" for x in c["assumptions"] + c["not_priced"])
    return out


def render_side_by_side(reports: list[dict]) -> str:
    """Stages' verdicts and cost side by side (for the README)."""
    names = [r["stage"] for r in reports]
    out = ["Stages side by side", ""]
    out.append("| | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))

    def row(label: str, values: list[str]) -> None:
        out.append(f"| {label} | " + " | ".join(values) + " |")

    row("verdict", [r["verdict"]["kind"] for r in reports])
    row("single points of failure", [
        ", ".join(f"{RULE_LABELS.get(s['rule'], s['rule'])} `{s['logical_id']}`"
                  for s in r["single_points_of_failure"] if not s["accepted"])
        or "none" for r in reports])
    row("app instances (min..max)", [
        ", ".join(f"{u['min']}..{u['max']}" for u in r["capacity"].get("units", []) if not u.get("worker")) or "-"
        for r in reports])
    row("job workers", [_job_workers(r["capacity"].get("units", [])) for r in reports])
    row("max players (est.): fleet at max size / first limit", [
        f"{_n(r['capacity']['max_players'])} / {_n(r['capacity']['limits'][0]['players'])}"
        if r["capacity"].get("applicable") else "-" for r in reports])
    row("binds first", [r["capacity"].get("binding", "-") for r in reports])
    row("cost / month, baseline", [f"${r['cost']['total']:,.2f}" for r in reports])
    row("cost / month, at max size", [f"${r['cost']['total_at_max']:,.2f}" for r in reports])
    for i, (key, label) in enumerate((row["disruption"], row["label"])
                                     for row in reports[0]["recovery"]["disruptions"]):
        row(f"{label}: RTO / RPO (est.)", [_recovery_cell(r["recovery"]["disruptions"][i])
                                           for r in reports])
    out.append("")
    out.append(f"Prices: {reports[0]['cost']['region']} on-demand as of "
               f"{reports[0]['cost']['as_of']}; assumptions printed per stage.")
    used = []
    for r in reports:
        used.extend(a for a in r["recovery"]["assumptions"] if a not in used)
    out.append("")
    out.append("RTO / RPO: estimates from the templates (health checks, warmup, Multi-AZ, "
               "backups, update policy) and these assumed figures:")
    out.append("")
    out.extend(f"- {a['figure']}: {a['source']}" for a in used)
    return "\n".join(out)


def _job_workers(units: list[dict]) -> str:
    """Where a stage's job workers run: a worker tier's instances (min..max), or beside the
    app's server on its hosts (as the GameService metadata says), or nowhere we know of."""
    tier = [f"{u['min']}..{u['max']} instances (a worker tier)" for u in units if u.get("worker")]
    if tier:
        return ", ".join(tier)
    return "beside the server on the app hosts" if any(u.get("job_worker_connections") for u in units) else "-"


def _recovery_cell(row: dict) -> str:
    if not row["applies"]:
        return "n/a"
    return f"{row['rto']['short']} / {row['rpo']['short']}"


def render_summary(reports: list[dict]) -> str:
    """Markdown for a README: each stage's verdict and single points of failure, what it
    lacks, the limit that binds first, then the stages side by side."""
    out = []
    for r in reports:
        v = r["verdict"]
        out.append(f"**{r['stage']}**: {v['headline']}")
        out.append("")
        spofs = [s for s in r["single_points_of_failure"] if not s["accepted"]]
        for s in spofs:
            out.append(f"- single point of failure, {s['tier']}: `{s['logical_id']}` "
                       f"({s['stack']}): {s['reason']} (fix: {s['fix']})")
        for s in r["single_points_of_failure"]:
            if s["accepted"]:
                out.append(f"- accepted, {s['tier']}: `{s['logical_id']}`: {s['accepted']}")
        if not spofs:
            out.append("- no single point of failure found" if r.get("unknowns") or
                       r.get("unanalysed") else "- no single point of failure")
        for u in r.get("unknowns", []):
            out.append(f"- unknown, {u['tier']}: `{u['logical_id'] or 'stage'}`: {u['what']} "
                       f"({u['reason']})")
        for x in r.get("unanalysed", []):
            out.append(f"- not analysed: `{x['logical_id']}` ({x['type']})")
        divided = r.get("divided_work")
        for q in (divided or {}).get("queues", []):
            out.extend(f"- {line}" for line in q["lines"][:-1])
        for f in (divided or {}).get("findings", []):
            out.append(f"- finding, {f['tier']}: `{f['logical_id']}` ({f['stack']}): "
                       f"{f['reason']} (fix: {f['fix']})")
        if v["lacks"]:
            out.append("- to be distributed it lacks: " + "; ".join(v["lacks"]))
        cap = r["capacity"]
        if cap.get("applicable"):
            for g in cap.get("growth", []):
                out.append(f"- {g['factor']}x the players ({g['players']:,}): binds first: "
                           f"{g['binds_first'] or 'nothing'}; needs: "
                           + ("; ".join(g["needs"]) or "nothing more"))
        out.append("")
    out.append(render_side_by_side(reports))
    return "\n".join(out)
