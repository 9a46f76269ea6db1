"""The same labelled cases in both forms: each corpus template (corpus/) that has a
Terraform twin (terraform/corpus/<case>/main.tf, planned offline into
terraform/corpus/plans/<case>.plan.json.gz by scripts/terraform-plans.py) gets the same
verdict and the same single points of failure from its plan as from its template, and
both are what labels.yaml says. Twins name their resources as the templates name theirs
(`module.app.aws_autoscaling_group.Group` is the template's `Group`)."""

import gzip
from pathlib import Path

import pytest
import yaml

from topology_report.loader import load
from topology_report.terraform import parse_steps

from .conftest import report_of

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
TWINS = HERE / "terraform" / "corpus"
PLANS = TWINS / "plans"
LABELS = yaml.safe_load((CORPUS / "labels.yaml").read_text())
CASES = sorted(p.name.removesuffix(".plan.json.gz") for p in PLANS.glob("*.plan.json.gz"))


def _name(address: str) -> str:
    """The resource's own name in its module: what the template calls it."""
    steps = parse_steps(address)
    while steps and steps[0] == "module":
        steps = steps[2:] if len(steps) < 3 or isinstance(steps[2], str) else steps[3:]
    return str(steps[1])


def _spofs(r, plan=False):
    return sorted(f"{_name(s['logical_id']) if plan else s['logical_id']}:{s['rule']}"
                  for s in r["single_points_of_failure"] if not s["accepted"])


def test_every_twin_has_its_case_and_its_plan():
    folders = sorted(p.parent.name for p in TWINS.glob("*/main.tf")
                     if p.parent.parent == TWINS and p.parent.name != "modules")
    assert folders == CASES and len(CASES) >= 15
    assert set(CASES) <= set(LABELS)


@pytest.mark.parametrize("case", CASES)
def test_the_twin_agrees_with_the_template(case, prices, tmp_path):
    plan = tmp_path / f"{case}.plan.json"
    plan.write_bytes(gzip.decompress((PLANS / f"{case}.plan.json.gz").read_bytes()))
    (tf_stage,) = load(str(plan))
    (cfn_stage,) = load(str(CORPUS / f"{case}.yaml"))
    tf, cfn = report_of(tf_stage, prices), report_of(cfn_stage, prices)
    label = LABELS[case]
    assert cfn["verdict"]["kind"] == label["verdict"]
    assert _spofs(cfn) == sorted(label.get("spofs", []))
    assert tf["verdict"]["kind"] == cfn["verdict"]["kind"], tf["verdict"]["headline"]
    assert _spofs(tf, plan=True) == _spofs(cfn)
    assert tf["verdict"]["lacks"] == cfn["verdict"]["lacks"]
    assert tf["unknowns"] == [] and tf["unanalysed"] == [], (tf["unknowns"], tf["unanalysed"])
