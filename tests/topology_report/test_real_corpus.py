"""The report on real public templates (tests/topology_report/real_corpus/), labelled by hand
with what each one really implies: the labels are well formed, and precision and recall of
single points of failure and the verdict accuracy do not fall below what was measured (a
regression gate; raise the floors when the report gets better)."""

import re

import pytest

from topology_report.analyze import VERDICT_KINDS
from topology_report.loader import parse_template_text
from topology_report.rules import BY_ID

from . import real_corpus_figures as rc

# Measured on this corpus (python -m tests.topology_report.real_corpus_figures prints them).
PRECISION_FLOOR = 29 / 33
RECALL_FLOOR = 29 / 30
VERDICTS_RIGHT_FLOOR = 63

LABELS = rc.labels()


def test_the_real_corpus_has_at_least_40_labelled_templates_and_nothing_unlabelled():
    assert len(LABELS) >= 40
    on_disk = {p.name for p in rc.TEMPLATES.iterdir()}
    assert on_disk == {lab["file"] for lab in LABELS.values()}


@pytest.mark.parametrize("case", list(LABELS))
def test_each_label_names_its_source_a_real_rule_and_real_logical_ids(case):
    label = LABELS[case]
    src = label["source"]
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", src["repo"]) and src["path"]
    assert re.fullmatch(r"[0-9a-f]{40}", src["commit"])
    assert label["verdict"] in VERDICT_KINDS
    assert label["reason"].strip()
    path = rc.TEMPLATES / label["file"]
    resources = parse_template_text(path.read_text(), str(path))["Resources"]
    for spof in label.get("spofs") or []:
        logical_id, rule = spof.split(":")
        assert rule in BY_ID, spof
        assert logical_id in resources, spof


def test_every_source_repository_is_named_in_the_notice():
    notice = (rc.REAL / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice
    for repo in {lab["source"]["repo"] for lab in LABELS.values()}:
        assert repo in notice, repo


def test_precision_recall_and_verdicts_do_not_fall_below_what_was_measured():
    f = rc.measure()
    misses = {c.name: (sorted(c.missed), sorted(c.extra), c.label_verdict, c.verdict)
              for c in f.cases if c.missed or c.extra or c.verdict != c.label_verdict}
    assert f.precision >= PRECISION_FLOOR, misses
    assert f.recall >= RECALL_FLOOR, misses
    assert f.verdicts_right >= VERDICTS_RIGHT_FLOOR, misses


def test_the_readmes_real_corpus_figures_are_current():
    f = rc.measure()
    hint = "run python -m tests.topology_report.real_corpus_figures"
    assert rc.read_block(rc.REPORT_README.read_text(), rc.BLOCK) == rc.block(f), hint
    assert rc.read_block(rc.PROJECT_README.read_text(), rc.LINE) == rc.line(f), hint


def test_a_nat_gateway_for_subnets_of_unfixed_azs_is_unknown_not_fine(capsys):
    """startup-kit-vpc: one NAT gateway (SingleNatGateway defaults to true) is the default
    route of two private subnets whose AZs are parameters without default."""
    import json

    from topology_report.cli import main
    assert main([str(rc.TEMPLATES / "startup-kit-vpc.yaml"), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    (u,) = r["unknowns"]
    assert u["logical_id"] == "NatGateway1" and u["what"] == "AZs it serves"
    assert "PrivateSubnet1, PrivateSubnet2 do not fix their AZ" in u["reason"]
    assert main([str(rc.TEMPLATES / "startup-kit-vpc.yaml"), "--json",
                 "--parameter", "AvailabilityZone1=us-east-1a",
                 "--parameter", "AvailabilityZone2=us-east-1b"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert [(s["logical_id"], s["rule"]) for s in r["single_points_of_failure"]] == [
        ("NatGateway1", "nat-gateway-shared")]


def test_a_parked_auto_scaling_group_runs_nothing_and_is_no_single_point_of_failure(capsys):
    """quickstart-hashicorp-vault: the client group's size is VaultClientNodes, 0 by default."""
    import json

    from topology_report.cli import main
    path = str(rc.TEMPLATES / "quickstart-hashicorp-vault.template")
    assert main([path, "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["single_points_of_failure"] == []
    assert any("VaultClientAutoScalingGroup: max 0: runs no instance" in x
               for x in r["tiers"]["compute"]["summary"])
    assert main([path, "--json", "--parameter", "VaultClientNodes=1"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert [(s["logical_id"], s["rule"]) for s in r["single_points_of_failure"]] == [
        ("VaultClientAutoScalingGroup", "asg-min-one")]
