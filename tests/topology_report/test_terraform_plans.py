"""The committed plans of examples/terraform/ are what Terraform plans today: the generator
(scripts/terraform-plans.py) runs once for the session where the Terraform CLI and the AWS
provider's filesystem mirror are on the machine (TF_PLUGIN_MIRROR, else /opt/tf-plugins),
and the parts that matter are compared: the resources planned and their actions, and the
report on each (verdict, single points of failure, unknowns, tiers, capacity, cost). Not
compared: the Terraform and provider versions' own fields (a newer provider adds
attributes nobody reads).
"""

import json
import subprocess
import sys

import pytest

from topology_report.cli import main

from .conftest import REPO

pytestmark = pytest.mark.slow(seconds=35)  # the whole file, idle 2-core machine (20 with
# the plugin cache warm: a second run)

SCRIPT = REPO / "scripts" / "terraform-plans.py"
PLANS = REPO / "examples" / "terraform" / "plans"
COMMITTED = sorted(p.relative_to(PLANS) for p in PLANS.rglob("*.plan.json"))


@pytest.fixture(scope="session")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("terraform-plans")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode == 3:  # no terraform, or no provider mirror: the message says which
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return out


def _resources(path):
    plan = json.loads(path.read_text())
    return sorted((rc["address"], rc["type"], tuple(rc["change"]["actions"]))
                  for rc in plan["resource_changes"])


def _report(path, capsys):
    assert main([str(path), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    for key in ("source", "notes", "input"):
        r.pop(key)
    return r


def test_the_generator_writes_every_committed_plan(regenerated):
    assert sorted(p.relative_to(regenerated) for p in regenerated.rglob("*.plan.json")) \
        == COMMITTED


@pytest.mark.parametrize("name", [str(p) for p in COMMITTED])
def test_a_committed_plan_is_what_terraform_plans(regenerated, capsys, name):
    fresh, committed = regenerated / name, PLANS / name
    assert _resources(fresh) == _resources(committed)
    assert _report(fresh, capsys) == _report(committed, capsys)
