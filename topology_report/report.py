"""One stage's full report as plain data (what --json prints and the text renders)."""

from __future__ import annotations

from .analyze import analyze
from .capacity import Params, capacity
from .cost import estimate
from .loader import Stage
from .model import Model
from .resilience import check_policy, recovery


def build(stage: Stage, prices: dict, params: Params, accept: dict[str, str] | None = None,
          parameters: dict[str, str] | None = None,
          policy: dict[str, float] | None = None) -> dict:
    model = Model(stage, parameters)
    a = analyze(model, accept)
    rec = recovery(a)
    if policy:
        rec["policy"] = check_policy(rec, policy)
    return {
        "stage": stage.name,
        "source": stage.source,
        "stacks": [s.name for s in stage.stacks],
        **({"input": stage.input} if stage.input else {}),
        "verdict": a.verdict,
        "tiers": {name: tier.to_dict() for name, tier in a.tiers.items()},
        "single_points_of_failure": [s.to_dict() for s in a.spofs],
        "unknowns": [u.to_dict() for u in a.unknowns],
        "unanalysed": a.unanalysed,
        # only where compute consumes a queue (other stages' reports are unchanged)
        **({"divided_work": {"queues": a.divided,
                             "findings": [f.to_dict() for f in a.findings]}}
           if a.divided else {}),
        "notes": [*stage.notes, *a.notes],
        "capacity": capacity(a, prices, params),
        "cost": estimate(a, prices),
        "recovery": rec,
        "_analysis": a,
        "_logical_ids": {(r.stack.name, r.logical_id) for r in model.resources},
    }


def public(report: dict) -> dict:
    """The report without internal objects (for JSON)."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
