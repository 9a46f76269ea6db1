"""Committed template snapshots: tests/snapshots/<stage>/<stack name>.template.json.

Asset hashes (64 hex digits: code bundles, the web page) are masked so that a
service change does not churn infrastructure snapshots; everything else is the
template as synthesized. ``python -m checks.snapshots record`` (``make snapshots``)
re-records them on purpose; the tests fail while they differ from a fresh synth.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from checks.assembly import ROOT, stage_templates, synth

SNAPSHOT_DIR = ROOT / "tests" / "snapshots"
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def masked(template_path: Path) -> str:
    """The template as stable, masked JSON text."""
    text = json.dumps(json.loads(template_path.read_text()), indent=1) + "\n"
    return _ASSET_HASH.sub("<asset-hash>", text)


def snapshot_path(stage: str, stack_name: str) -> Path:
    return SNAPSHOT_DIR / stage / f"{stack_name}.template.json"


def record(outdir: Path) -> list[Path]:
    written = []
    for stage, stacks in stage_templates(outdir).items():
        (SNAPSHOT_DIR / stage).mkdir(parents=True, exist_ok=True)
        for old in (SNAPSHOT_DIR / stage).glob("*.template.json"):
            old.unlink()
        for stack_name, path in stacks.items():
            target = snapshot_path(stage, stack_name)
            target.write_text(masked(path))
            written.append(target)
    return written


def masked_assembly(outdir: Path, target: Path) -> Path:
    """A copy of the assembly's manifests with masked templates, for `cdk diff --app`."""
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(outdir, target, ignore=shutil.ignore_patterns("asset.*"))
    for stacks in stage_templates(target).values():
        for path in stacks.values():
            path.write_text(masked(path))
    return target


def differences(outdir: Path) -> list[str]:
    """Stacks whose fresh template differs from its snapshot (or has none, or vanished)."""
    problems = []
    fresh = stage_templates(outdir)
    for stage, stacks in fresh.items():
        for stack_name, path in stacks.items():
            snap = snapshot_path(stage, stack_name)
            if not snap.exists():
                problems.append(f"{snap.relative_to(ROOT)}: no snapshot for stack {stack_name}")
            elif snap.read_text() != masked(path):
                problems.append(f"{snap.relative_to(ROOT)}: differs from a fresh synth of {stack_name}")
        for snap in sorted((SNAPSHOT_DIR / stage).glob("*.template.json")):
            if snap.name.removesuffix(".template.json") not in stacks:
                problems.append(f"{snap.relative_to(ROOT)}: snapshot of a stack the app no longer has")
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] == ["mask"] and len(argv) == 3:
        print(masked_assembly(Path(argv[1]), Path(argv[2])))
        return 0
    if argv[:1] not in (["record"], ["check"]):
        print("usage: python -m checks.snapshots record|check|mask ASSEMBLY TARGET", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        outdir = synth(Path(tmp) / "cdk.out")
        if argv[0] == "record":
            for path in record(outdir):
                print(f"recorded {path.relative_to(ROOT)}")
            return 0
        problems = differences(outdir)
    for problem in problems:
        print(problem)
    if problems:
        print("snapshots differ: review `make diff`, then `make snapshots` to record them on purpose")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
