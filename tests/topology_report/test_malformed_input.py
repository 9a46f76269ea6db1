"""Bad input gives one clear line on stderr and exit code 2, never a traceback."""

import subprocess
import sys

import pytest

from topology_report.cli import main

from .conftest import REPO


@pytest.mark.parametrize("content,message", [
    ("", "the file is empty"),
    ('{"Resources": {', "invalid JSON at line 1"),
    ("Resources:\n  A: [unclosed\n", "invalid YAML at line"),
    ("- just\n- a list\n", "the top level is a list"),
    ('{"AWSTemplateFormatVersion": "2010-09-09"}', "no Resources section"),
    ('{"Resources": {"Db": {"Properties": {}}}}', "resource 'Db' has no Type"),
    ('{"Resources": ["x"]}', "Resources must be a mapping"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ("\x00\x01binary", "invalid YAML"),
])
def test_malformed_templates(tmp_path, capsys, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("topology_report: error: ")
    assert message in err and "bad.json" in err


def test_missing_path_unknown_stage_and_empty_folder(tmp_path, capsys):
    assert main([str(tmp_path / "nope.json")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2
    assert "no CloudFormation templates found" in capsys.readouterr().err
    good = tmp_path / "t.yaml"
    good.write_text("Resources:\n  B: {Type: AWS::S3::Bucket}\n")
    assert main([str(good), "--stage", "prod"]) == 2
    assert "no stage named prod (found: t)" in capsys.readouterr().err


def test_broken_assembly_manifest(tmp_path, capsys):
    (tmp_path / "manifest.json").write_text('{"artifacts": {"S": {"type": '
                                            '"aws:cloudformation:stack", "properties": '
                                            '{"templateFile": "S.template.json"}}}}')
    assert main([str(tmp_path)]) == 2
    assert "S.template.json: cannot read" in capsys.readouterr().err


def test_bad_options_exit_2(capsys):
    assert main(["report", "x.json", "--growth", "ten"]) == 2
    assert "--growth: expected comma-separated integers" in capsys.readouterr().err
    assert main(["report", "x.json", "--rps-per-instance", "0"]) == 2
    assert "--rps-per-instance must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["diff"])
    assert exc.value.code == 2
    assert main(["diff", "only-one"]) == 2  # one input: a Terraform plan, read with its prior_state
    assert "only-one: no such file or folder" in capsys.readouterr().err


def test_no_traceback_from_the_command_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("Resources: !Ref\n  - [\n")
    proc = subprocess.run([sys.executable, "-m", "topology_report", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "invalid YAML" in proc.stderr


ODD_SHAPES = """\
Resources:
  Lt:
    Type: AWS::EC2::LaunchTemplate
    Metadata: 5
    Properties: {LaunchTemplateData: [not, a, mapping]}
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    UpdatePolicy: yes
    Metadata: {GameService: {WorkersPerInstance: two, DbPoolSizePerWorker: 0}}
    Properties:
      MinSize: {Ref: NoSuchParameter}
      MaxSize: '4'
      VPCZoneIdentifier: subnet-123
      LaunchTemplate: {LaunchTemplateId: !Ref Lt}
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties: {DistributionConfig: {Origins: not-a-list, OriginGroups: 3}}
  Db:
    Type: AWS::RDS::DBInstance
    Properties: {DBInstanceClass: db.unknown.size, MultiAZ: maybe}
"""


def test_odd_property_shapes_give_a_report_not_a_crash(tmp_path, capsys):
    path = tmp_path / "odd.yaml"
    path.write_text(ODD_SHAPES)
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "min ? / desired - / max 4" in out
    assert ("not applicable: GameService metadata WorkersPerInstance='two' on Group is not a "
            "whole number >= 1: no connection budget or growth figures until it is fixed") in out
    assert "- [data] Db: Multi-AZ: MultiAZ 'maybe' is not true or false" in out
    assert "DB class db.unknown.size is not in the price table: not priced" in out
