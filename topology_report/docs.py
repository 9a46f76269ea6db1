"""The tables of topology_report/README.md that the code holds (the single-point-of-failure
rules, the recovery assumptions),
generated from it so the two cannot drift: `python -m topology_report.docs` rewrites them,
and a test checks they are current."""

from __future__ import annotations

import sys
from pathlib import Path

from .resilience import ASSUMPTIONS
from .rules import render_rules

README = Path(__file__).with_name("README.md")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def assumptions_table() -> str:
    out = ["| key | assumed figure | source |", "| --- | --- | --- |"]
    out += [f"| `{key}` | {_cell(a['figure'])} | {_cell(a['source'])} |"
            for key, a in ASSUMPTIONS.items()]
    return "\n".join(out)


def blocks() -> dict[str, str]:
    """marker name -> the content between `<!-- name:begin -->` and `<!-- name:end -->`."""
    return {"rules": render_rules(markdown=True),
            "recovery-assumptions": assumptions_table()}


def read_block(text: str, name: str) -> str | None:
    start, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def rewrite(text: str) -> str:
    for name, content in blocks().items():
        start, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        head, _, rest = text.partition(start)
        if not rest:
            raise ValueError(f"{README.name} has no block {start} ... {end}")
        _, _, tail = rest.partition(end)
        text = f"{head}{start}\n{content}\n{end}{tail}"
    return text


def main() -> int:
    README.write_text(rewrite(README.read_text()))
    print(f"updated the generated tables of {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
