"""One stage's full report as plain data (what --json prints and the text renders)."""

from __future__ import annotations

from .analyze import analyze
from .capacity import Params, capacity
from .cost import estimate
from .loader import Stage
from .model import Model


def build(stage: Stage, prices: dict, params: Params, accept: dict[str, str] | None = None) -> dict:
    model = Model(stage)
    a = analyze(model, accept)
    return {
        "stage": stage.name,
        "source": stage.source,
        "stacks": [s.name for s in stage.stacks],
        "verdict": a.verdict,
        "tiers": {name: tier.to_dict() for name, tier in a.tiers.items()},
        "single_points_of_failure": [s.to_dict() for s in a.spofs],
        "capacity": capacity(a, prices, params),
        "cost": estimate(a, prices),
        "_analysis": a,
    }


def public(report: dict) -> dict:
    """The report without internal objects (for JSON)."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
