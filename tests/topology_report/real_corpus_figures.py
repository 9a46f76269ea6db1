"""How right the report is on real public templates (tests/topology_report/real_corpus/):
precision and recall of its single points of failure against the labels, and how often its
verdict kind is the labelled one.

`python -m tests.topology_report.real_corpus_figures` rewrites the block of
topology_report/README.md between `<!-- real-corpus:begin -->` and `<!-- real-corpus:end -->`
and the line of the project README between `<!-- real-corpus:line:begin -->` and
`<!-- real-corpus:line:end -->`; test_real_corpus.py checks both are current."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

REAL = Path(__file__).parent / "real_corpus"
TEMPLATES = REAL / "templates"
REPO = Path(__file__).resolve().parents[2]
REPORT_README = REPO / "topology_report" / "README.md"
PROJECT_README = REPO / "README.md"
BLOCK = "real-corpus"
LINE = "real-corpus:line"


def labels() -> dict:
    return yaml.safe_load((REAL / "labels.yaml").read_text())


@dataclass
class Case:
    name: str
    label_verdict: str
    verdict: str
    labelled: set[str]
    found: set[str]
    held_out: bool = False

    @property
    def missed(self) -> set[str]:
        return self.labelled - self.found

    @property
    def extra(self) -> set[str]:
        return self.found - self.labelled


@dataclass
class Figures:
    cases: list[Case]

    @property
    def labelled(self) -> int:
        return sum(len(c.labelled) for c in self.cases)

    @property
    def found(self) -> int:
        return sum(len(c.found) for c in self.cases)

    @property
    def agreed(self) -> int:
        return sum(len(c.labelled & c.found) for c in self.cases)

    @property
    def precision(self) -> float:
        return self.agreed / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.agreed / self.labelled if self.labelled else 1.0

    @property
    def verdicts_right(self) -> int:
        return sum(c.verdict == c.label_verdict for c in self.cases)

    @property
    def verdict_accuracy(self) -> float:
        return self.verdicts_right / len(self.cases)


@functools.lru_cache(maxsize=1)
def measure() -> Figures:
    from topology_report.capacity import Params
    from topology_report.cost import load_prices
    from topology_report.loader import load
    from topology_report.report import build

    prices = load_prices()
    cases = []
    for name, label in labels().items():
        (stage,) = load(str(TEMPLATES / label["file"]))
        r = build(stage, prices, Params(), None, {})
        found = {f"{s['logical_id']}:{s['rule']}" for s in r["single_points_of_failure"]
                 if not s["accepted"]}
        cases.append(Case(name, label["verdict"], r["verdict"]["kind"],
                          set(label.get("spofs") or []), found, bool(label.get("held_out"))))
    return Figures(cases)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _list(items) -> str:
    return ", ".join(f"`{i}`" for i in sorted(items)) or "none"


def block(f: Figures) -> str:
    repos = sorted({lab["source"]["repo"] for lab in labels().values()})
    out = [
        f"{len(f.cases)} templates from {len(repos)} repositories "
        f"({', '.join(repos)}); {f.labelled} single points of failure labelled, "
        f"{f.found} found by the report, {f.agreed} of them right.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| precision of single points of failure (right / found) | {_pct(f.precision)} "
        f"({f.agreed}/{f.found}) |",
        f"| recall of single points of failure (right / labelled) | {_pct(f.recall)} "
        f"({f.agreed}/{f.labelled}) |",
        f"| verdict kind as labelled | {_pct(f.verdict_accuracy)} "
        f"({f.verdicts_right}/{len(f.cases)}) |",
    ]
    held = Figures([c for c in f.cases if c.held_out])
    if held.cases:
        out.append(f"| held out only ({len(held.cases)} templates labelled before the report "
                   f"first ran on them, the report unchanged since): precision, recall, "
                   f"verdicts | {held.agreed}/{held.found}, {held.agreed}/{held.labelled}, "
                   f"{held.verdicts_right}/{len(held.cases)} |")
    out += [
        "",
        "Where the report and the labels disagree:",
        "",
        "| template | labelled verdict | report's verdict | missed | not labelled |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in f.cases:
        if c.verdict != c.label_verdict or c.missed or c.extra:
            out.append(f"| `{c.name}` | {c.label_verdict} | {c.verdict} | {_list(c.missed)} | "
                       f"{_list(c.extra)} |")
    return "\n".join(out)


def line(f: Figures) -> str:
    return (f"On {len(f.cases)} real public templates, each labelled by hand with what it implies "
            f"(`tests/topology_report/real_corpus/`; some of the report's rules were written "
            f"after reading them, so this is not a held-out measure), its single points of "
            f"failure have "
            f"{_pct(f.precision)} precision and {_pct(f.recall)} recall, and its verdict is "
            f"the labelled one for {f.verdicts_right} of {len(f.cases)}.")


def read_block(text: str, name: str) -> str | None:
    start, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def rewrite(text: str, name: str, content: str) -> str:
    start, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, _, rest = text.partition(start)
    if not rest:
        raise ValueError(f"no block {start} ... {end}")
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{content}\n{end}{tail}"


def main() -> int:
    f = measure()
    REPORT_README.write_text(rewrite(REPORT_README.read_text(), BLOCK, block(f)))
    PROJECT_README.write_text(rewrite(PROJECT_README.read_text(), LINE, line(f)))
    print(f"precision {_pct(f.precision)}, recall {_pct(f.recall)}, verdicts "
          f"{f.verdicts_right}/{len(f.cases)}: updated {REPORT_README} and {PROJECT_README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
