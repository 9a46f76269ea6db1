"""Mermaid diagrams drawn from the templates."""

from topology_report.cli import main

from .conftest import ASSEMBLY


def test_diagram_draws_the_path_and_marks_single_points_of_failure(capsys):
    assert main(["diagram", str(ASSEMBLY), "--markdown"]) == 0
    out = capsys.readouterr().out
    starter, scale_out = out.split("### Stage `scale-out`")
    assert "### Stage `starter`" in starter and "```mermaid\nflowchart LR" in starter
    assert "cf_Distribution -->|VPC origin| ec2_AppInstance" in starter
    assert "class ec2_AppInstance,db_Database,nat_NatInstance spof" in starter
    assert "cf_Distribution -->|VPC origin| lb_Alb" in scale_out
    assert "lb_Alb --> asg_Asg" in scale_out and "asg_Asg --> db_Database" in scale_out
    assert " spof\n" not in scale_out.replace("classDef spof", "")
