"""The committed plans (examples/terraform/plans/, and the corpus twins'
tests/topology_report/terraform/corpus/plans/) are what Terraform plans today: the generator
(scripts/terraform-plans.py) runs once for the session where the Terraform CLI and the AWS
provider's filesystem mirror are on the machine (TF_PLUGIN_MIRROR, else /opt/tf-plugins),
and the parts that matter are compared: the resources planned and their actions, and the
report on each (verdict, single points of failure, unknowns, tiers, capacity, cost). Not
compared: the Terraform and provider versions' own fields (a newer provider adds
attributes nobody reads).
"""

import gzip
import json
import subprocess
import sys

import pytest

from topology_report.cli import main

from .conftest import REPO

pytestmark = pytest.mark.slow(seconds=80)  # the whole file, idle 2-core machine (75 with
# the plugin cache warm: a second run)

SCRIPT = REPO / "scripts" / "terraform-plans.py"
FOLDERS = (REPO / "examples" / "terraform" / "plans",
           REPO / "tests" / "topology_report" / "terraform" / "corpus" / "plans")
COMMITTED = sorted(str(p.relative_to(REPO)) for folder in FOLDERS
                   for p in [*folder.rglob("*.plan.json"), *folder.rglob("*.plan.json.gz")])


@pytest.fixture(scope="session")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("terraform-plans")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    if done.returncode == 3:  # no terraform, or no provider mirror: the message says which
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr
    return out


def _text(path):
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode()


def _resources(path):
    plan = json.loads(_text(path))
    return sorted((rc["address"], rc["type"], tuple(rc["change"]["actions"]))
                  for rc in plan["resource_changes"])


def _report(path, capsys, tmp_path):
    plain = tmp_path / path.name.removesuffix(".gz")
    plain.write_text(_text(path))
    assert main([str(plain), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    for key in ("source", "notes", "input"):
        r.pop(key)
    return r


def test_the_generator_writes_every_committed_plan(regenerated):
    written = sorted(str(p.relative_to(regenerated)) for p in regenerated.rglob("*.plan.json*"))
    assert written == COMMITTED


@pytest.mark.parametrize("name", COMMITTED)
def test_a_committed_plan_is_what_terraform_plans(regenerated, capsys, tmp_path, name):
    fresh, committed = regenerated / name, REPO / name
    assert _resources(fresh) == _resources(committed)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "committed").mkdir()
    assert _report(fresh, capsys, tmp_path / "fresh") == \
        _report(committed, capsys, tmp_path / "committed")
