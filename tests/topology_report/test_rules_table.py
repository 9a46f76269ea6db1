"""One table of single-point-of-failure rules: each rule fires on a template made for it and
stays quiet on the same resources made right; the code raises no rule the table lacks; the
CLI lists the table."""

import ast
import json
import re
from pathlib import Path

import pytest

import topology_report
from topology_report.cli import main
from topology_report.rules import BY_ID, RULES

from .conftest import FIXTURES, analysis_of

RULE_FIXTURES = FIXTURES / "rules"
RULE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")


@pytest.mark.parametrize("rule", [r.id for r in RULES])
def test_each_rule_fires_on_its_fixture_and_not_on_the_fixed_one(rule):
    fires = analysis_of(RULE_FIXTURES / f"{rule}.fires.yaml")
    clean = analysis_of(RULE_FIXTURES / f"{rule}.clean.yaml")
    # a rule that is not a single point of failure fires a finding, and no single point of
    # failure (the verdict and the diff gate do not count it)
    fired = [s for s in (fires.spofs if BY_ID[rule].spof else fires.findings) if s.rule == rule]
    assert fired, f"{rule} did not fire on {rule}.fires.yaml"
    assert all(s.tier == BY_ID[rule].tier for s in fired)
    assert not [s for s in fires.spofs + fires.findings if s.rule == rule and s not in fired]
    assert not [s for s in clean.spofs + clean.findings if s.rule == rule], \
        f"{rule} fired on the fixed template"
    # the fixed template has the tier too, so the silence means something
    assert clean.tiers[BY_ID[rule].tier].present and not clean.unknowns


def test_every_fixture_belongs_to_a_rule():
    names = {p.name.split(".")[0] for p in RULE_FIXTURES.glob("*.yaml")}
    assert names == set(BY_ID)


def _rule_literals() -> set[str]:
    """The rule ids the tier modules pass to ctx.spof / ctx.confined / ctx.finding."""
    found = set()
    for path in Path(topology_report.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            name = getattr(getattr(node, "func", None), "attr", None) or \
                getattr(getattr(node, "func", None), "id", None)
            if isinstance(node, ast.Call) and name in ("spof", "confined", "finding"):
                found.update(a.value for a in node.args if isinstance(a, ast.Constant)
                             and isinstance(a.value, str) and RULE_ID.fullmatch(a.value))
    return found


def test_the_code_raises_only_rules_of_the_table_and_every_rule_is_raised():
    used = _rule_literals()
    assert used == set(BY_ID), (used ^ set(BY_ID))


def test_the_cli_lists_the_rules_and_a_finding_names_its_fix(capsys):
    assert main(["rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [r.id for r in RULES]
    assert all(r["fix"] and r["checks"] for r in listed)
    assert main([str(RULE_FIXTURES / "nat-instance.fires.yaml")]) == 0
    out = capsys.readouterr().out
    assert "(nat-instance)" in out and f"fix: {BY_ID['nat-instance'].fix}" in out
