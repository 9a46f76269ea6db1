"""Every acknowledged finding (cdk-nag, CDK synth validation, CDK warnings) with its
reason, read from the synthesized assembly, as the Markdown table the README carries.

``python -m checks.acknowledgements`` prints it; ``python -m checks.readme_blocks``
rewrites the README's block; a test fails when the README's block is out of date.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from checks.assembly import synth

START, END = "<!-- acknowledgements:start -->", "<!-- acknowledgements:end -->"


def collect(outdir: Path) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """{(rule, reason): {(stage, construct path within the stage)}} over every stage."""
    found: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for metadata_file in sorted(outdir.glob("assembly-*/*.metadata.json")):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry.get("type") != "aws:cdk:acknowledged-rules":
                    continue
                for rule, reason in entry["data"].items():
                    rule = re.sub(r"^Annotation::", "", rule)
                    stage, _, inner = path.strip("/").partition("/")
                    found[(rule, reason)].add((stage, inner))
    return found


def table(outdir: Path) -> str:
    rows = ["| finding | stages | where | reason |", "| --- | --- | --- | --- |"]
    for (rule, reason), places in sorted(collect(outdir).items()):
        stages = ", ".join(sorted({stage for stage, _ in places}, reverse=True))
        where = "<br>".join(f"`{p}`" for p in sorted({inner for _, inner in places}))
        rows.append(f"| `{rule}` | {stages} | {where} | {reason} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rendered = table(synth(Path(tmp) / "cdk.out"))
    print(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
