"""The GitHub Actions example for a Terraform repository
(.github/workflows/topology-report-terraform.yml): actionlint and shellcheck pass, it plans
and shows the pull request's and the base branch's root module, and its report and diff
steps, run here on the committed plans, report the plan and fail on a new single point of
failure."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from .conftest import REPO
from .test_workflow import _actionlint

WORKFLOW = REPO / ".github" / "workflows" / "topology-report-terraform.yml"
PLANS = REPO / "examples" / "terraform" / "plans"


def _data():
    return yaml.safe_load(WORKFLOW.read_text())


def _steps():
    return {s["name"]: s for s in _data()["jobs"]["plan-and-report"]["steps"]}


def test_the_workflow_passes_actionlint():
    assert _actionlint()(WORKFLOW) == []


def test_its_shell_steps_pass_shellcheck(tmp_path):
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck is not installed (actionlint runs it when it is)")
    for i, step in enumerate(s for s in _steps().values() if "run" in s):
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/usr/bin/env bash\nset -e\n"
                          + re.sub(r"\$\{\{[^}]*\}\}", "placeholder", step["run"]))
        proc = subprocess.run([shellcheck, "-S", "warning", str(script)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{step['name']}: {proc.stdout}"


def test_it_plans_both_sides_without_the_wrapper():
    data, steps = _data(), _steps()
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    assert data["env"]["TF_ROOT"] == "examples/terraform/scale-out"
    assert (REPO / data["env"]["TF_ROOT"] / "main.tf").is_file()
    assert steps["Terraform"]["with"]["terraform_wrapper"] is False
    for name in ("Plan the pull request", "Plan the base branch"):
        run = steps[name]["run"]
        assert "terraform plan " in run and "terraform show -json " in run, name
    assert steps["Plan the base branch"]["if"] == "github.event_name == 'pull_request'"
    pin = re.search(r"^PyYAML==\S+$", (REPO / "requirements-dev.txt").read_text(), re.M)
    assert f'"{pin.group(0)}"' in steps["The report's dependencies"]["run"]


@pytest.mark.parametrize("after, status, verdict", [
    ("scale-out.plan.json", 0, "Result: ok"),
    ("changes/scale-out-one-nat-gateway.plan.json", 1, "Result: FAIL (pr)"),
])
def test_its_report_and_diff_steps_gate_on_the_plans(tmp_path, after, status, verdict):
    """The two steps' scripts, run as the runner would, on a base and a pull request plan."""
    shutil.copy(PLANS / "scale-out.plan.json", tmp_path / "base.plan.json")
    shutil.copy(PLANS / after, tmp_path / "pr.plan.json")
    summary = tmp_path / "summary.md"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(REPO / ".venv" / "bin" / "python")
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary),
           "TF_ROOT": "examples/terraform/scale-out", "PYTHONPATH": str(REPO),
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    steps = _steps()
    work = tmp_path / "work"
    work.mkdir()
    for name, expected in (("Report the pull request's plan", 0),
                           ("Topology diff against the base branch", status)):
        proc = subprocess.run(["bash", "-e", "-c", steps[name]["run"]], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == expected, (name, proc.stdout[-2000:], proc.stderr)
    text = summary.read_text()
    assert "## Is it distributed? (Terraform: examples/terraform/scale-out)" in text
    assert "Note: read as a Terraform plan" in text
    assert verdict in text
    if status:
        assert "FAIL: new single point of failure: module.network.aws_nat_gateway.this[0]" \
            in text
