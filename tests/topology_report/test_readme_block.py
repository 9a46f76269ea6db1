"""The README's answer to "is it distributed?" is the report's own output: the block between
the markers in checks.readme_blocks must equal

    python -m topology_report tests/snapshots --stage starter --stage small --stage scale-out --summary

(`make snapshots` rewrites it after recording new templates)."""

from checks.readme_blocks import COSTS_BLOCK, REPORT_BLOCK, REPORT_COMMAND, deploy_costs, read_block, report_summary


def test_readme_block_is_the_reports_output():
    assert read_block(*REPORT_BLOCK) == report_summary().strip(), (
        "README.md's topology-report block is stale: run `make snapshots` "
        "(or `python -m topology_report " + " ".join(REPORT_COMMAND) + "` and paste its output)")


def test_the_deploy_guides_costs_are_the_reports():
    costs = read_block(*COSTS_BLOCK)
    assert costs == deploy_costs().strip(), "README.md's deploy costs are stale: run `make snapshots`"
    assert "| `starter` | $" in costs and "| `small` | $" in costs and "| `scale-out` | $" in costs
