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

pytestmark = pytest.mark.slow(seconds=20)  # the whole file, idle 2-core machine (the corpus
# twins' plans, deselected by default, take about 65 s more: CI runs them in a step of their own)

SCRIPT = REPO / "scripts" / "terraform-plans.py"
SETS = {"examples": REPO / "examples" / "terraform" / "plans",
        "corpus": REPO / "tests" / "topology_report" / "terraform" / "corpus" / "plans"}


def committed(which: str) -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in [*SETS[which].rglob("*.plan.json"),
                                                     *SETS[which].rglob("*.plan.json.gz")])


@pytest.fixture(scope="session")
def regenerate(tmp_path_factory):
    """regenerate("examples" | "corpus"): the folder the generator wrote that set into (once)."""
    done: dict[str, object] = {}

    def run(which: str):
        if which not in done:
            out = tmp_path_factory.mktemp(f"terraform-plans-{which}")
            result = subprocess.run([sys.executable, str(SCRIPT), "--only", which, "--out", str(out)],
                                    capture_output=True, text=True, timeout=900, check=False)
            if result.returncode == 3:  # no terraform, or no provider mirror: the message says which
                pytest.skip(result.stderr.strip())
            assert result.returncode == 0, result.stderr
            done[which] = out
        return done[which]

    return run


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


@pytest.mark.parametrize("which", ["examples", pytest.param("corpus", marks=pytest.mark.corpus_plans)])
def test_the_generator_writes_every_committed_plan(regenerate, which):
    out = regenerate(which)
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.plan.json*"))
    assert written == committed(which)


def _same_plan(out, capsys, tmp_path, name):
    fresh, kept = out / name, REPO / name
    assert _resources(fresh) == _resources(kept)
    (tmp_path / "fresh").mkdir()
    (tmp_path / "committed").mkdir()
    assert _report(fresh, capsys, tmp_path / "fresh") == _report(kept, capsys, tmp_path / "committed")


@pytest.mark.parametrize("name", committed("examples"))
def test_a_committed_plan_of_our_stages_is_what_terraform_plans(regenerate, capsys, tmp_path, name):
    _same_plan(regenerate("examples"), capsys, tmp_path, name)


@pytest.mark.corpus_plans
@pytest.mark.parametrize("name", committed("corpus"))
def test_a_committed_corpus_plan_is_what_terraform_plans(regenerate, capsys, tmp_path, name):
    _same_plan(regenerate("corpus"), capsys, tmp_path, name)
