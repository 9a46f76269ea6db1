"""`make deploy`, `make bootstrap`, `make diff` and `make destroy` as a user runs them: the
user's account, never the placeholder; the stage's own stacks.

AWS is emulated by the deploy rehearsal's emulator (moto's server with checks/rehearsal's
fixes; STS answers GetCallerIdentity with moto's account, 123456789012), reached through
AWS_ENDPOINT_URL like a real endpoint. The whole deploy path runs in `make rehearse`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "123456789012"


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path), **extra,
    )
    return env


def test_make_deploy_without_an_account_stops_with_one_line(tmp_path):
    """As a user runs it: through make (a script without its run bit fails here, not in bash)."""
    result = subprocess.run(["make", "--no-print-directory", "deploy", "STAGE=starter"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env=_clean_env(tmp_path), stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    # make's own "make: *** [Makefile:NN: deploy] Error 1" (make[1] when run under make) aside
    lines = [line for line in result.stderr.strip().splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert lines == [
        "deploy: no AWS account: configure AWS credentials (aws configure / AWS_PROFILE) or set ACCOUNT=<12-digit id>"
    ]


def test_the_deploy_scripts_are_committed_executable():
    listed = subprocess.run(["git", "ls-files", "-s", "scripts"], cwd=ROOT, capture_output=True, text=True, check=True)
    modes = {line.split()[-1]: line.split()[0] for line in listed.stdout.splitlines()}
    assert {name: mode for name, mode in modes.items() if name.endswith(".sh") and mode != "100755"} == {}


def test_deploy_refuses_an_unknown_stage(tmp_path):
    result = subprocess.run(["bash", "scripts/deploy.sh", "deploy", "prod"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=_clean_env(tmp_path, ACCOUNT="111122223333"))
    assert result.returncode == 2 and "unknown stage 'prod'; allowed: starter, small, scale-out" in result.stderr


@pytest.fixture()
def emulator_env(tmp_path):
    """The deploy rehearsal's emulator, and the environment of a user whose credentials name
    no region (only the two keys)."""
    from checks.rehearsal import emulator

    with emulator.running() as endpoint:
        yield endpoint, _clean_env(tmp_path, AWS_ENDPOINT_URL=endpoint.url, AWS_ACCESS_KEY_ID="testing",
                                   AWS_SECRET_ACCESS_KEY="testing")


def _make(target: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", target, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env, stdin=subprocess.DEVNULL)


def _aws(endpoint, service: str):
    import boto3

    return boto3.client(service, endpoint_url=endpoint.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.mark.slow(seconds=45)  # the whole file, idle 2-core machine
def test_make_bootstrap_needs_no_region_and_no_stage_arguments(emulator_env):
    """Credentials without a default region still name their account, and bootstrapping does
    not synthesize the app (which would ask for the stage's monitoring choice first)."""
    endpoint, env = emulator_env
    result = _make("bootstrap", env, "STAGE=starter")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "config error" not in result.stderr
    stack = _aws(endpoint, "cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.slow(seconds=45)  # the whole file, idle 2-core machine
def test_make_diff_of_a_stage_compares_its_stacks_for_the_credentials_account(tmp_path, emulator_env):
    """Every stack lives in the stage's CDK Stage: `--all` selected none ("0 differences").
    And what `make diff` and `make deploy` synthesize is built for the account the CLI resolves
    from the credentials (STS), not for 000000000000."""
    endpoint, env = emulator_env
    out = tmp_path / "cdk.out"
    result = _make("diff", env, "STAGE=starter", f"ARGS=-c monitoring=none -o {out}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "Number of stacks with differences: 6" in output
    for stack in ("Foundation", "Network", "Data", "Storage", "App", "Observability"):
        assert f"Stack starter/{stack} (starter-{stack.lower()})" in output
    assert "no AWS account" not in output
    manifest = json.loads((out / "assembly-starter" / "manifest.json").read_text())
    environments = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert environments == {f"aws://{MOTO_ACCOUNT}/us-east-1"}


def _stack_tags(assembly_dir: Path, stage: str) -> dict[str, list[dict[str, str]]]:
    """The tags the CLI gives each of the stage's stacks: the assembly's stack tags."""
    manifest = json.loads((assembly_dir / f"assembly-{stage}" / "manifest.json").read_text())
    return {
        artifact["properties"]["stackName"]: [{"Key": k, "Value": v} for k, v in artifact["properties"].get("tags", {}).items()]
        for artifact in manifest["artifacts"].values() if artifact["type"] == "aws:cloudformation:stack"
    }


def test_make_destroy_refuses_a_protected_stage_and_deletes_nothing(emulator_env, assembly_dir):
    """The stacks as the CLI creates them (with the assembly's stack tags, by which destroy
    finds the stage's stacks); the whole deploy-then-destroy runs in `make rehearse`."""
    endpoint, env = emulator_env
    cloudformation = _aws(endpoint, "cloudformation")
    template = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    tags = _stack_tags(assembly_dir, "scale-out")
    for name in ("scale-out-app", "scale-out-data"):
        cloudformation.create_stack(StackName=name, TemplateBody=template, Tags=tags[name])
    cloudformation.update_termination_protection(StackName="scale-out-data", EnableTerminationProtection=True)
    result = _make("destroy", env, "STAGE=scale-out", "ARGS=--force")
    assert result.returncode != 0
    assert ("destroy: scale-out-data of stage 'scale-out' have termination protection: nothing was deleted"
            in result.stderr)
    assert {s["StackName"] for s in cloudformation.describe_stacks()["Stacks"]} == {"scale-out-app", "scale-out-data"}


def test_the_deployer_policy_lets_the_cli_assume_every_role_the_assembly_names(assembly_dir):
    """docs/deployer-policy.json is what a deployer needs after the bootstrap: each role the
    cloud assembly asks the CLI to assume (deploy, asset publishing, lookup) matches it."""
    from fnmatch import fnmatch

    policy = json.loads((ROOT / "docs" / "deployer-policy.json").read_text())
    allowed = [s["Resource"] for s in policy["Statement"] if "sts:AssumeRole" in s["Action"]]
    roles = set()
    for manifest in assembly_dir.glob("assembly-*/*.json"):
        roles |= {r.replace("${AWS::Partition}", "aws") for r in _role_arns(json.loads(manifest.read_text()))}
    assert roles, "no role in the cloud assembly?"
    assert sorted(r for r in roles if not any(fnmatch(r, pattern) for pattern in allowed)) == []


def _role_arns(value) -> list[str]:
    """The roles the CLI itself assumes (not CloudFormation's execution role, which it passes)."""
    if isinstance(value, dict):
        own = [value["assumeRoleArn"]] if isinstance(value.get("assumeRoleArn"), str) else []
        own += [value["lookupRole"]["arn"]] if isinstance(value.get("lookupRole"), dict) else []
        return own + [arn for v in value.values() for arn in _role_arns(v)]
    if isinstance(value, list):
        return [arn for v in value for arn in _role_arns(v)]
    return []
