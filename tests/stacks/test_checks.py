"""What CI and reviewers rely on: offline, deterministic synth; cdk-nag and CDK's own
validation clean; cfn-lint clean; snapshots up to date; recommended feature flags."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from checks.assembly import ROOT, cdk_json_context, stage_templates, synth, validation_findings
from tests.conftest import STACKS, STAGES
from checks.lint import lint
from checks.snapshots import differences


def test_synth_asks_aws_nothing(assembly_dir: Path):
    for stage_dir in assembly_dir.glob("assembly-*"):
        manifest = json.loads((stage_dir / "manifest.json").read_text())
        assert not manifest.get("missing"), f"context lookups need AWS credentials: {manifest['missing']}"
    assert not (ROOT / "cdk.context.json").exists() or json.loads((ROOT / "cdk.context.json").read_text()) == {}


def test_every_stage_synthesizes_six_stacks(assembly_dir: Path):
    stages = stage_templates(assembly_dir)
    assert set(stages) == {"starter", "small", "scale-out"}
    for stage, stacks in stages.items():
        assert set(stacks) == {f"{stage}-{s}" for s in STACKS}


def test_cdk_nag_and_synth_validation_clean(assembly_dir: Path):
    findings = validation_findings(assembly_dir)
    assert findings == [], "\n".join(f"{f['rule']}: {f['paths'][:2]}" for f in findings)


def test_cfn_lint_clean(assembly_dir: Path):
    paths = [p for stacks in stage_templates(assembly_dir).values() for p in stacks.values()]
    findings = lint(paths)
    assert findings == [], [f"{f['Rule']['Id']} {f['Message']}" for f in findings]


def test_cfn_lint_exceptions_do_not_hide_real_problems(tmp_path: Path):
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"Nope": 1}}}}))
    assert [f["Rule"]["Id"] for f in lint([broken])] == ["E3002"]


def test_synth_is_deterministic(assembly_dir: Path, tmp_path: Path):
    # templates only: the checks read the assembly and write no template
    again = synth(tmp_path / "cdk.out", checks=False)
    first, second = stage_templates(assembly_dir), stage_templates(again)
    for stage, stacks in first.items():
        for name, path in stacks.items():
            assert path.read_bytes() == second[stage][name].read_bytes(), f"{name} differs between two synths"


def test_snapshots_match_a_fresh_synth(assembly_dir: Path):
    problems = differences(assembly_dir)
    assert problems == [], "\n".join(problems) + "\nreview with `make diff`; record with `make snapshots`"


@pytest.mark.skipif(shutil.which("node") is None and not (ROOT / "node_modules/.bin/node").exists(), reason="no Node")
def test_feature_flags_are_the_recommended_ones(assembly_dir: Path):
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("the pinned CDK CLI is not installed: run scripts/setup.sh")
    env = {**os.environ, "PATH": f"{ROOT / 'node_modules/.bin'}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
           "CDK_DISABLE_VERSION_CHECK": "1"}
    # The flags are the app's (cdk.json's context), as the cloud assembly reports them: the CLI
    # reads the run's assembly (--app takes an assembly directory) instead of synthesizing again.
    # Every flag, not only the unconfigured ones: a flag set against its recommendation counts.
    result = subprocess.run([str(cdk), "flags", "--all", "--unstable=flags", "--no-notices", "--app", str(assembly_dir)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]
    flags = {name: (recommended, user, effective) for name, recommended, user, effective in rows if name.startswith("@")}
    assert result.returncode == 0 and len(flags) > 50, output[-2000:]
    off = {name: values for name, values in flags.items() if values[2] != values[0]}
    assert not off, "(recommended, set in cdk.json, effective): " + repr(off)


def test_readme_lists_every_acknowledged_finding_with_its_reason(assembly_dir: Path):
    from checks.acknowledgements import END, START, table
    from checks.readme_blocks import read_block

    assert read_block(START, END) == table(assembly_dir), "run: make snapshots (python -m checks.readme_blocks)"


def test_a_finding_in_any_stage_fails_synth_and_is_reported_once(tmp_path: Path):
    """cdk-nag and CDK's CloudFormation validation check every stage's stacks, and each
    finding is reported once with every place it occurs (not once per stage)."""
    from app import build_app  # first: it picks the Node that jsii starts
    from aws_cdk import CfnResource
    from aws_cdk import aws_sns as sns

    outdir = tmp_path / "cdk.out"
    app = build_app(cdk_json_context(), str(outdir))
    for stage in STAGES:
        foundation = app.node.find_child(stage).foundation
        sns.Topic(foundation, "PlainTopic")  # AwsSolutions-SNS3: publishers not held to TLS
        CfnResource(foundation, "BadBucket", type="AWS::S3::Bucket", properties={"NoSuchProperty": 1})
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    found = {(f["plugin"], f["rule"]): f["paths"] for f in validation_findings(outdir)}
    assert len(found) == len(validation_findings(outdir)), "a finding is reported more than once"
    assert sorted(found[("AwsSolutions", "AwsSolutions-SNS3")]) == sorted(
        f"{stage}/Foundation/PlainTopic/Resource" for stage in STAGES
    )
    assert sorted(found[("CloudFormation Validate", "F3002")]) == sorted(f"{stage}/Foundation/BadBucket" for stage in STAGES)


def test_cli_no_validation_still_turns_cloudformation_validation_off(assembly_dir: Path, tmp_path: Path):
    """The app registers the validation plugin itself; the CLI's --no-validation still wins.
    (With validation, as by default: the session's assembly, synthesized as `cdk synth` does.)"""
    env = {**os.environ, "PATH": f"{ROOT / 'node_modules/.bin'}:{ROOT / '.venv/bin'}:{os.environ['PATH']}",
           "CDK_DISABLE_VERSION_CHECK": "1"}

    def plugins(outdir: Path) -> set[str]:
        report = outdir / "validation-report.json"
        return {p["pluginName"] for p in json.loads(report.read_text()).get("pluginReports", [])} if report.exists() else set()

    outdir = tmp_path / "no-validation"
    result = subprocess.run(
        [str(ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "--no-notices", "--no-validation", "-c", "stage=starter",
         "--output", str(outdir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "CloudFormation Validate" in plugins(assembly_dir)
    assert "CloudFormation Validate" not in plugins(outdir)


def test_every_stack_carries_its_stage_as_a_stack_tag(assembly_dir: Path):
    """Stack tags (not only resource tags): `make destroy` finds a stage's protected stacks
    by the stack tag "stage", and CloudFormation gives stack tags to what it creates."""
    for stage in STAGES:
        manifest = json.loads((assembly_dir / f"assembly-{stage}" / "manifest.json").read_text())
        stacks = [a["properties"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
        assert len(stacks) == 6
        for props in stacks:
            assert props.get("tags") == {"project": "game", "stage": stage}, props["stackName"]
