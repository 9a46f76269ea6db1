"""The report on a corpus of hand-written templates shaped like what teams deploy
(tests/topology_report/corpus/): for each, the verdict kind, the exact set of open single
points of failure, the resources with an unknown fact and the resources it does not
analyse, as labels.yaml says. A missing or an extra single point of failure fails."""

from pathlib import Path

import pytest
import yaml

from topology_report.cli import main
from topology_report.loader import load

from .conftest import report_of

CORPUS = Path(__file__).parent / "corpus"
LABELS = yaml.safe_load((CORPUS / "labels.yaml").read_text())


def _report(case: str, prices):
    label = LABELS[case]
    (stage,) = load(str(CORPUS / f"{label.get('template', case)}.yaml"))
    parameters = {k: str(v) for k, v in (label.get("parameters") or {}).items()}
    from topology_report.capacity import Params
    from topology_report.report import build
    return build(stage, prices, Params(), None, parameters)


def test_the_corpus_has_at_least_40_labelled_templates():
    templates = {label.get("template", case) for case, label in LABELS.items()}
    assert len(templates) >= 40
    on_disk = {p.stem for p in CORPUS.glob("*.yaml")} - {"labels"}
    assert templates == on_disk, "every corpus template has a label and every label a file"


@pytest.mark.parametrize("case", list(LABELS))
def test_corpus_case(case, prices):
    label = LABELS[case]
    r = _report(case, prices)
    spofs = sorted(f"{s['logical_id']}:{s['rule']}" for s in r["single_points_of_failure"]
                   if not s["accepted"])
    unknowns = sorted({u["logical_id"] for u in r["unknowns"] if u["logical_id"]})
    unanalysed = sorted(x["logical_id"] for x in r["unanalysed"])
    assert spofs == sorted(label.get("spofs", [])), r["verdict"]["headline"]
    assert unknowns == sorted(label.get("unknowns", [])), r["unknowns"]
    assert unanalysed == sorted(label.get("unanalysed", [])), r["unanalysed"]
    assert r["verdict"]["kind"] == label["verdict"], r["verdict"]["headline"]
    # Words that match the facts.
    headline = r["verdict"]["headline"]
    if spofs:
        assert "no single point of failure" not in headline
    if r["verdict"]["kind"] == "unknown":
        assert r["verdict"]["could_not_see"]
    if r["verdict"]["kind"] == "single machine":
        assert len(r["tiers"]["compute"]["components"]) == 1


@pytest.mark.parametrize("case", [c for c, lab in LABELS.items() if lab.get("unknowns")])
def test_unknowns_are_said_with_their_reason_in_text_and_json(case, capsys):
    label = LABELS[case]
    args = [str(CORPUS / f"{label.get('template', case)}.yaml")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Unknown (the templates do not say" in text
    assert main(args + ["--json"]) == 0
    import json
    (r,) = json.loads(capsys.readouterr().out)
    for u in r["unknowns"]:
        assert u["reason"] and u["reason"] in text


def test_parameter_override_on_the_command_line(capsys):
    path = str(CORPUS / "rds-multiaz-if-prod.yaml")
    assert main([path, "--json"]) == 0
    import json
    (prod,) = json.loads(capsys.readouterr().out)
    assert main([path, "--json", "--parameter", "Env=dev"]) == 0
    (dev,) = json.loads(capsys.readouterr().out)
    assert prod["single_points_of_failure"] == []
    assert [s["rule"] for s in dev["single_points_of_failure"]] == ["db-single-az"]
    prod_db = [x for x in prod["cost"]["lines"] if x["item"].startswith("RDS Db (")]
    dev_db = [x for x in dev["cost"]["lines"] if x["item"].startswith("RDS Db (")]
    assert "Multi-AZ" in prod_db[0]["item"] and "Single-AZ" in dev_db[0]["item"]
    assert main([path, "--parameter", "Env"]) == 2


def test_a_bastion_adds_nothing_to_the_fleet_and_is_not_drawn_behind_the_load_balancer(
        capsys):
    path = str(CORPUS / "bastion-beside-good-app.yaml")
    assert main(["diagram", path]) == 0
    diagram = capsys.readouterr().out
    assert "Bastion" not in diagram
    assert "lb_Alb --> asg_Group" in diagram


def test_foreign_templates_get_no_connection_budget_from_our_defaults(prices):
    r = _report("asg-alb-rds-multiaz", prices)
    assert r["capacity"]["applicable"] is False
    assert "GameService metadata" in r["capacity"]["reason"]


def test_a_multi_az_db_cluster_is_listed_and_priced(prices):
    r = _report("multi-az-db-cluster", prices)
    (line,) = [x for x in r["tiers"]["data"]["summary"] if "Multi-AZ DB cluster" in x]
    assert "3 instances" in line
    assert any("Db" in n and "not in the price table" in n for n in r["cost"]["not_priced"]) \
        or any(x["item"].startswith("RDS Db (") for x in r["cost"]["lines"])


def test_nested_stack_and_sam_are_never_an_empty_silent_report(prices, capsys):
    for case in ("nested-stack-remote", "sam-nested-application"):
        assert main([str(CORPUS / f"{case}.yaml")]) == 0
        out = capsys.readouterr().out
        assert "Not analysed" in out and "UNKNOWN" in out


def test_the_corpus_note_table_is_current():
    from .corpus_table import table
    assert (CORPUS / "README.md").read_text() == table(), \
        "run python -m tests.topology_report.corpus_table"


@pytest.mark.parametrize("name", sorted({lab.get("template", c) for c, lab in LABELS.items()}))
def test_every_corpus_template_gives_text_json_and_a_diagram(name, capsys):
    path = str(CORPUS / f"{name}.yaml")
    for args in ([path], [path, "--json"], ["diagram", path]):
        assert main(args) == 0, args
    out = capsys.readouterr().out
    assert "flowchart LR" in out


def test_the_gate_lets_no_new_single_point_of_failure_through_between_any_two_templates(
        prices):
    """Every ordered pair of corpus templates as a before -> after change: a single point
    of failure in `after` that `before` lacks fails the gate, unless it is the same rule on
    a logical ID that `before` did not have, paired with one that `after` no longer has."""
    from topology_report.diff import compare
    reports = {case: _report(case, prices) for case in LABELS}
    for b_case, before in reports.items():
        b_ids = {lid for _, lid in before["_logical_ids"]}
        for a_case, after in reports.items():
            result = compare(before, after, "scale-out")
            a_ids = {lid for _, lid in after["_logical_ids"]}
            b_keys = {(s["logical_id"], s["rule"]) for s in before["single_points_of_failure"]}
            added = [s for s in after["single_points_of_failure"]
                     if (s["logical_id"], s["rule"]) not in b_keys]
            renamed = {r["after"] for r in result["renamed_single_points_of_failure"]}
            for s in added:
                if s["logical_id"] in renamed:
                    assert s["logical_id"] not in b_ids
                    pair = next(r for r in result["renamed_single_points_of_failure"]
                                if r["after"] == s["logical_id"])
                    assert pair["before"] not in a_ids
                else:
                    assert result["failures"], (b_case, a_case, s)
            if b_case == a_case:
                assert result["failures"] == [], b_case


def test_words_that_match_the_facts(prices):
    """The contradictions the tracker quoted, each on the shape that produced it."""
    r = _report("classic-elb-two-azs", prices)
    assert "0 single point" not in r["verdict"]["headline"]
    assert r["verdict"]["headline"].startswith("PARTLY DISTRIBUTED: the app tier is replicated "
                                               "across AZs with no single point of failure")
    r = _report("three-instances-three-azs-no-lb", prices)
    assert "one machine" not in r["verdict"]["headline"]
    r = _report("literal-subnet-ids", prices)
    assert "2 subnets" in r["tiers"]["load balancing"]["summary"][0]
    assert "0 subnets" not in " ".join(r["tiers"]["load balancing"]["summary"])


def test_growth_never_says_a_third_az_for_a_group_in_one_az(prices):
    import copy
    from .conftest import ASSEMBLY
    (stage,) = load(str(ASSEMBLY / "assembly-scale-out"))
    app = next(s for s in stage.stacks if s.name.endswith("App"))
    group = next(r for r in app.template["Resources"].values()
                 if r["Type"] == "AWS::AutoScaling::AutoScalingGroup")
    group["Properties"]["VPCZoneIdentifier"] = copy.deepcopy(
        group["Properties"]["VPCZoneIdentifier"][:1])
    r = report_of(stage, prices)
    needs = " ".join(n for g in r["capacity"]["growth"] for n in g["needs"])
    assert "a third AZ" not in needs
    assert "spread it over >= 2 more AZs (it is in one)" in needs


def test_zero_dollars_never_means_nothing_here(prices):
    """Every resource the estimate does not price is named (SAM, nested stacks, managed)."""
    for case in ("sam-api-table", "lambda-url-sqs-sns"):
        r = _report(case, prices)
        notes = " ".join(r["cost"]["not_priced"])
        assert "not priced (no rates in the price table)" in notes, case
    notes = " ".join(_report("nested-stack-remote", prices)["cost"]["not_priced"])
    assert "not analysed, so not priced: Network (AWS::CloudFormation::Stack), App " \
           "(AWS::CloudFormation::Stack)" in notes


def test_every_verdict_kind_is_documented_with_its_rule():
    from topology_report.analyze import VERDICT_KINDS
    readme = (Path(__file__).resolve().parents[2] / "topology_report" / "README.md").read_text()
    for kind in VERDICT_KINDS:
        assert f"| `{kind}` |" in readme, kind
    assert {lab["verdict"] for lab in LABELS.values()} <= set(VERDICT_KINDS)
    assert {lab["verdict"] for lab in LABELS.values()} == set(VERDICT_KINDS), \
        "the corpus has an example of every verdict kind"


def test_every_rule_has_a_label_and_is_documented():
    import re

    from topology_report.render import RULE_LABELS
    readme = (Path(__file__).resolve().parents[2] / "topology_report" / "README.md").read_text()
    source = "".join(p.read_text() for p in (Path(__file__).resolve().parents[2]
                                              / "topology_report").glob("*.py"))
    rules = set(re.findall(r'spof\([^,]+, [^,]+, "([a-z0-9-]+)"', source))
    assert rules and rules <= set(RULE_LABELS)
    for rule in rules:
        assert f"`{rule}`" in readme, rule
