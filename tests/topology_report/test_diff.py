"""Diff mode: what changed in distribution terms, and the exit code CI relies on."""

import json
import shutil
import subprocess
import sys

import pytest

from topology_report.cli import main

from .conftest import ASSEMBLY, REPO

BEFORE_YAML = """\
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, DBInstanceClass: db.t4g.medium, MultiAZ: true}
  Media:
    Type: AWS::S3::Bucket
"""


@pytest.fixture
def scale_out_copy(tmp_path):
    """A copy of the fixture's scale-out stage to change, and a way to edit a stack."""
    after = tmp_path / "after"
    shutil.copytree(ASSEMBLY / "assembly-scale-out", after)

    def edit(stack: str, fn):
        path = after / f"scale-out-{stack}.template.json"
        template = json.loads(path.read_text())
        fn(template["Resources"])
        path.write_text(json.dumps(template))

    return after, edit


def run(capsys, *args):
    code = main(["diff", *map(str, args)])
    return code, capsys.readouterr().out


def test_unchanged_stage_passes(capsys):
    code, out = run(capsys, ASSEMBLY, ASSEMBLY)
    assert code == 0
    assert "no change in distribution terms" in out and "Result: ok" in out


def test_db_losing_multi_az_is_a_new_single_point_of_failure_and_fails(capsys, scale_out_copy):
    after, edit = scale_out_copy
    edit("Data", lambda r: r["Database"]["Properties"].update(MultiAZ=False))
    code, out = run(capsys, ASSEMBLY / "assembly-scale-out", after)
    assert code == 1
    assert "DB Database Multi-AZ: true -> false: new single point of failure" in out
    assert "FAIL: new single point of failure: Database (scale-out-Data)" in out


def test_more_instances_than_the_budget_fails(capsys, scale_out_copy):
    after, edit = scale_out_copy
    edit("App", lambda r: r["Asg"]["Properties"].update(MaxSize="30"))
    code, out = run(capsys, ASSEMBLY / "assembly-scale-out", after)
    assert code == 1
    assert "ASG Asg max instances: 6 -> 30: connection budget now exceeded" in out
    assert "connection budget: 120 of 447 usable -> 600 of 447 usable" in out
    assert "FAIL: connection budget exceeded: 600 connections at max size > 447 usable" in out


def test_a_change_that_helps_passes_and_says_what_was_resolved(capsys, scale_out_copy, tmp_path):
    after, edit = scale_out_copy
    edit("Data", lambda r: r["Database"]["Properties"].update(MultiAZ=False))
    code, out = run(capsys, after, ASSEMBLY / "assembly-scale-out")
    assert code == 0
    assert "resolved single point of failure: Database" in out


def test_starter_rules_report_without_failing(capsys, scale_out_copy):
    after, edit = scale_out_copy
    edit("Data", lambda r: r["Database"]["Properties"].update(MultiAZ=False))
    code, out = run(capsys, ASSEMBLY / "assembly-scale-out", after, "--stage-kind", "starter")
    assert code == 0
    assert "NEW single point of failure: Database" in out


def test_two_hand_written_templates_on_the_command_line(tmp_path):
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(BEFORE_YAML)
    after.write_text(BEFORE_YAML.replace("MultiAZ: true", "MultiAZ: false"))
    cmd = [sys.executable, "-m", "topology_report", "diff", str(before), str(after),
           "--stage-kind", "scale-out", "--markdown"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "## Is it distributed? Topology diff" in proc.stdout
    assert "DB Db Multi-AZ: true -> false: new single point of failure" in proc.stdout
    proc = subprocess.run(cmd[:4] + [str(before), str(before)], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0


def test_whole_assemblies_pair_stages_by_name_and_gate_only_scale_out(capsys, tmp_path):
    after = tmp_path / "assembly"
    shutil.copytree(ASSEMBLY, after)
    for stage in ("starter", "scale-out"):
        path = after / f"assembly-{stage}" / f"{stage}-App.template.json"
        template = json.loads(path.read_text())
        # A single-AZ database (an instance that serves no traffic is no app-tier SPOF).
        template["Resources"]["Extra"] = {"Type": "AWS::RDS::DBInstance", "Properties": {
            "Engine": "postgres", "DBInstanceClass": "db.t4g.micro"}}
        path.write_text(json.dumps(template))
    code, out = run(capsys, ASSEMBLY, after, "--json")
    assert code == 1
    results = {r["stage"]: r for r in json.loads(out)}
    assert results["starter"]["failures"] == []
    assert [s["logical_id"] for s in results["starter"]["new_single_points_of_failure"]] == \
        ["Extra"]
    assert len(results["scale-out"]["failures"]) == 1


def test_diff_bad_input_exits_2(capsys, tmp_path):
    assert main(["diff", str(ASSEMBLY), str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_a_renamed_single_point_of_failure_is_not_new(capsys, tmp_path):
    before = tmp_path / "before"
    shutil.copytree(ASSEMBLY / "assembly-starter", before)
    after = tmp_path / "after"
    shutil.copytree(ASSEMBLY / "assembly-starter", after)
    for stack in ("App", "Edge"):  # CDK renames the instance and every reference to it
        path = after / f"starter-{stack}.template.json"
        path.write_text(path.read_text().replace("AppInstance", "AppInstanceB2C4"))
    code, out = run(capsys, before, after, "--stage-kind", "scale-out")
    assert code == 0, out
    assert "same single point of failure (lone-instance) under a new logical ID: " \
           "AppInstance -> AppInstanceB2C4" in out


CORPUS = REPO / "tests" / "topology_report" / "corpus"
TWO_DBS = """\
Resources:
  GameDb:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, DBInstanceClass: db.t4g.medium, MultiAZ: %s}
%s"""
ANALYTICS = """\
  AnalyticsDb:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, DBInstanceClass: db.t4g.medium}
"""


def test_a_new_single_point_of_failure_fails_even_when_another_one_goes(capsys, tmp_path):
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(TWO_DBS % ("false", ""))
    after.write_text(TWO_DBS % ("true", ANALYTICS))  # GameDb made Multi-AZ, AnalyticsDb new
    code, out = run(capsys, before, after, "--stage-kind", "scale-out")
    assert code == 1, out
    assert "under a new logical ID" not in out
    assert "NEW single point of failure: AnalyticsDb" in out
    assert "resolved single point of failure: GameDb" in out


def test_only_removing_a_single_point_of_failure_passes(capsys, tmp_path):
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(TWO_DBS % ("false", ""))
    after.write_text(TWO_DBS % ("true", ""))
    code, out = run(capsys, before, after, "--stage-kind", "scale-out")
    assert code == 0, out


@pytest.mark.parametrize("name", sorted(p.stem for p in CORPUS.glob("*.yaml")
                                        if p.stem != "labels"))
def test_a_template_against_itself_passes(capsys, name):
    path = CORPUS / f"{name}.yaml"
    code, out = run(capsys, path, path, "--stage-kind", "scale-out")
    assert code == 0, out
    assert "Result: ok" in out


@pytest.mark.parametrize("after", ["subnets-parameter-no-default", "minsize-parameter"])
def test_a_known_value_turned_unknown_fails_with_the_reason(capsys, after):
    code, out = run(capsys, CORPUS / "asg-alb-rds-multiaz.yaml", CORPUS / f"{after}.yaml",
                    "--stage-kind", "scale-out")
    assert code == 1, out
    assert "was known and is now unknown" in out and "has no default" in out
    assert "Result: FAIL" in out


def test_the_gate_never_fails_on_a_budget_from_our_defaults(capsys, tmp_path):
    # Someone else's template: a big fleet and a tiny database, no GameService metadata.
    text = (CORPUS / "asg-alb-rds-multiaz.yaml").read_text()
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    before.write_text(text)
    after.write_text(text.replace("MaxSize: 6", "MaxSize: 600").replace(
        "db.t4g.medium", "db.t4g.micro"))
    code, out = run(capsys, before, after, "--stage-kind", "scale-out")
    assert code == 0, out
    assert "connection budget" not in out
