"""The tables of topology_report/README.md that the code holds are the code's own."""

from topology_report import docs


def test_the_readmes_generated_tables_are_current():
    text = docs.README.read_text()
    for name, content in docs.blocks().items():
        assert docs.read_block(text, name) == content, (
            f"topology_report/README.md's {name} table is stale: run "
            f"`python -m topology_report.docs`")
