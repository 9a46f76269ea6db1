"""The corpus note's table: template shape, verdict before (commit a5c9a20, recorded in
corpus/before-a5c9a20.json) and after (the labels, which test_corpus.py checks against the
report). `python -m tests.topology_report.corpus_table` rewrites corpus/README.md."""

import json
from pathlib import Path

import yaml

from topology_report.loader import parse_template_text

CORPUS = Path(__file__).parent / "corpus"

HEAD = """\
# Corpus: "is it distributed?" on templates shaped like what teams deploy

Hand-written templates (none copied from anywhere), one shape each; `labels.yaml` says what
the report must answer (verdict kind, exact single points of failure, unknowns, resources it
does not analyse) and `test_corpus.py` checks it. "Before" is what the report said at commit
a5c9a20, recorded by running that code over this corpus (`before-a5c9a20.json`); a test keeps
this table equal to `python -m tests.topology_report.corpus_table`.

| template shape | verdict before (single points of failure) | verdict after (single points of failure; unknown / not analysed) |
| --- | --- | --- |
"""


def _cell(kind: str, spofs: list[str], extra: list[str] | None = None) -> str:
    text = kind + (f" ({', '.join(spofs)})" if spofs else " (none)")
    if extra:
        text += "; " + ", ".join(extra)
    return text


def table() -> str:
    labels = yaml.safe_load((CORPUS / "labels.yaml").read_text())
    before = json.loads((CORPUS / "before-a5c9a20.json").read_text())
    rows = []
    for case, label in labels.items():
        name = label.get("template", case)
        path = CORPUS / f"{name}.yaml"
        template = parse_template_text(path.read_text(), str(path))
        shape = str(template.get("Description", name))
        params = label.get("parameters")
        if params:
            shape += " (" + ", ".join(f"--parameter {k}={v}" for k, v in params.items()) + ")"
            b = "(no --parameter before: not recorded)"
        else:
            b = _cell(before[name]["kind"], before[name]["spofs"])
        extra = [f"unknown: {u}" for u in label.get("unknowns", [])] + \
            [f"not analysed: {u}" for u in label.get("unanalysed", [])]
        rows.append(f"| `{case}`: {shape} | {b} | "
                    f"{_cell(label['verdict'], label.get('spofs', []), extra)} |")
    return HEAD + "\n".join(rows) + "\n"


if __name__ == "__main__":
    (CORPUS / "README.md").write_text(table())
