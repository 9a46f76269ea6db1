"""scripts/report.sh (what `make report` runs): synthesizes when cdk.out/ is missing or
stale, then reports every stage."""

import os
import shutil
import subprocess
import sys
import time

from .conftest import ASSEMBLY, REPO


def _repo(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "report.sh", tmp_path / "scripts" / "report.sh")
    return tmp_path


def _run(root):
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(REPO))
    return subprocess.run(["bash", str(root / "scripts" / "report.sh")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_reports_every_stage_of_an_up_to_date_assembly(tmp_path):
    root = _repo(tmp_path)
    shutil.copytree(ASSEMBLY, root / "cdk.out")
    proc = _run(root)
    assert proc.returncode == 0, proc.stderr
    assert "=== Stage starter" in proc.stdout and "=== Stage scale-out" in proc.stdout
    assert "| verdict | functionally decomposed | distributed |" in proc.stdout


def test_synthesizes_first_when_sources_are_newer(tmp_path):
    root = _repo(tmp_path)
    shutil.copytree(ASSEMBLY, root / "cdk.out")
    old = time.time() - 3600
    os.utime(root / "cdk.out" / "manifest.json", (old, old))
    (root / "stacks").mkdir()
    (root / "stacks" / "network_stack.py").write_text("# changed\n")
    synth = root / "scripts" / "synth.sh"
    synth.write_text("#!/usr/bin/env bash\necho synthesized > synth-ran\n"
                     "touch cdk.out/manifest.json\n")
    synth.chmod(0o755)
    proc = _run(root)
    assert proc.returncode == 0, proc.stderr
    assert (root / "synth-ran").exists()
    assert "synthesizing" in proc.stderr


def test_nothing_to_report_is_a_clear_error(tmp_path):
    proc = _run(_repo(tmp_path))
    assert proc.returncode == 2
    assert "nothing to report" in proc.stderr
