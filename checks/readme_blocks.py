"""The README's generated blocks, kept equal to what the code says (tests check both):

* the acknowledged findings table (checks.acknowledgements),
* the topology report's answer to "is it distributed?" on the committed snapshots, and
* the deploy guide's monthly costs, from the same report (so the guide cannot drift from it).

``python -m checks.readme_blocks`` rewrites them; `make snapshots` runs it.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

from checks.assembly import ROOT, synth

README = ROOT / "README.md"
REPORT_BLOCK = ("<!-- topology-report:summary:begin -->", "<!-- topology-report:summary:end -->")
REPORT_COMMAND = ["tests/snapshots", "--stage", "starter", "--stage", "small", "--stage", "scale-out", "--summary"]
COSTS_BLOCK = ("<!-- topology-report:costs:begin -->", "<!-- topology-report:costs:end -->")


def replace_block(text: str, start: str, end: str, content: str) -> str:
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    if not rest:
        raise ValueError(f"README.md has no block {start} ... {end}")
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def read_block(start: str, end: str) -> str:
    """What the README holds between two markers, stripped."""
    text = README.read_text()
    if start not in text or end not in text:
        raise ValueError(f"README.md has no block {start} ... {end}")
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def report_summary() -> str:
    from topology_report.cli import main as report

    out = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out):
        code = report(REPORT_COMMAND)
    if code != 0:
        raise RuntimeError(f"the topology report failed (exit {code})")
    return out.getvalue()


def deploy_costs() -> str:
    """Each stage's monthly estimate as the report prices it, with what it leaves out."""
    import json

    from topology_report.cli import main as report

    out = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out):
        code = report([*REPORT_COMMAND[:-1], "--json"])
    if code != 0:
        raise RuntimeError(f"the topology report failed (exit {code})")
    stages = json.loads(out.getvalue())
    costs = [stage["cost"] for stage in stages]
    rows = [
        f"| `{stage['stage']}` | ${cost['total']:,.2f} | ${cost['total_at_max']:,.2f} |"
        for stage, cost in zip(stages, costs)
    ]
    not_counted = sorted({a for cost in costs for a in cost["assumptions"] if a.startswith("not counted")})
    return "\n".join([
        f"| stage | per month, baseline | at its maximum size |",
        "| --- | ---: | ---: |",
        *rows,
        "",
        f"Prices: {costs[0]['region']} on-demand as of {costs[0]['as_of']} (`topology_report/prices.json`), "
        "730 hours a month, every resource of the stage's templates that has a price, the stage key included. "
        + " ".join(a[0].upper() + a[1:] + "." for a in not_counted),
    ])


def main() -> int:
    from checks.acknowledgements import END, START, table

    with tempfile.TemporaryDirectory() as tmp:
        acknowledgements = table(synth(Path(tmp) / "cdk.out"))
    text = README.read_text()
    text = replace_block(text, START, END, acknowledgements)
    text = replace_block(text, *REPORT_BLOCK, report_summary())
    text = replace_block(text, *COSTS_BLOCK, deploy_costs())
    README.write_text(text)
    print(f"updated the generated blocks of {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
