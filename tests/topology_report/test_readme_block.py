"""The README's answer to "is it distributed?" is the report's own output: the block between
the markers below must equal

    python -m topology_report tests/snapshots --stage starter --stage scale-out --summary

(re-run it and paste the output after `make snapshots` records new templates)."""

import pytest

from topology_report.cli import main

from .conftest import REPO

BEGIN = "<!-- topology-report:summary:begin -->"
END = "<!-- topology-report:summary:end -->"
COMMAND = ["tests/snapshots", "--stage", "starter", "--stage", "scale-out", "--summary"]


def test_readme_block_is_the_reports_output(capsys, monkeypatch):
    readme = (REPO / "README.md").read_text() if (REPO / "README.md").exists() else ""
    if BEGIN not in readme or END not in readme:
        pytest.skip("README.md has no topology-report summary block yet")
    block = readme.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    monkeypatch.chdir(REPO)
    assert main(COMMAND) == 0
    expected = capsys.readouterr().out.strip()
    assert block == expected, (
        "README.md's topology-report block is stale: replace it with the output of "
        "`python -m topology_report " + " ".join(COMMAND) + "`")
