"""The README's answer to "is it distributed?" is the report's own output: the block between
the markers in tooling.readme_blocks must equal

    python -m topology_report tests/snapshots --stage starter --stage scale-out --summary

(`make snapshots` rewrites it after recording new templates)."""

from tooling.readme_blocks import REPORT_BLOCK, REPORT_COMMAND, read_block, report_summary


def test_readme_block_is_the_reports_output():
    assert read_block(*REPORT_BLOCK) == report_summary().strip(), (
        "README.md's topology-report block is stale: run `make snapshots` "
        "(or `python -m topology_report " + " ".join(REPORT_COMMAND) + "` and paste its output)")
