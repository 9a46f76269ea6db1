"""One screen per stage after `cdk synth`: where the templates are, stacks and
resource counts, cdk-nag and cfn-lint status. Exits non-zero on any finding."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from checks.assembly import ROOT, stage_templates, validation_findings
from checks.lint import format_finding, lint


def main(argv: list[str]) -> int:
    outdir = Path(argv[0] if argv else ROOT / "cdk.out").resolve()
    if not (outdir / "manifest.json").exists():
        print(f"summary: no cloud assembly at {outdir}; run `make synth` first", file=sys.stderr)
        return 2
    stages = stage_templates(outdir)
    findings = validation_findings(outdir)
    all_templates = [p for stacks in stages.values() for p in stacks.values()]
    lint_findings = lint(all_templates)
    for stage, stacks in stages.items():
        print(f"\n== stage {stage} ==  ({len(stacks)} stacks, templates in {next(iter(stacks.values())).parent})")
        total = 0
        for stack_name, path in stacks.items():
            resources = json.loads(path.read_text()).get("Resources", {})
            total += len(resources)
            kinds = Counter(r["Type"].split("::")[1] for r in resources.values())
            top = ", ".join(f"{k} {n}" for k, n in kinds.most_common(4))
            print(f"  {stack_name:<28} {len(resources):>4} resources   ({top})")
        print(f"  {'total':<28} {total:>4} resources")
        nag = [f for f in findings if any(p and p.split("/")[0] == stage for p in f["paths"])]
        lint_here = [f for f in lint_findings if Path(f["Filename"]).resolve() in {p.resolve() for p in stacks.values()}]
        print(f"  cdk-nag AwsSolutions + synth validation: {'clean' if not nag else f'{len(nag)} finding(s)'}")
        print(f"  cfn-lint: {'clean' if not lint_here else f'{len(lint_here)} finding(s)'}")
        for f in nag:
            print(f"    {f['severity']} {f['rule']}: {f['description'][:120]} at {', '.join(f['paths'][:3])}")
        for f in lint_here:
            print(f"    {format_finding(f)}")
    unplaced = [f for f in findings if not any(p and p.split("/")[0] in stages for p in f["paths"])]
    for f in unplaced:
        print(f"  {f['severity']} {f['rule']}: {f['description'][:160]}")
    return 1 if (findings or lint_findings) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
