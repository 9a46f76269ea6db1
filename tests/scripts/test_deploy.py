"""scripts/deploy.sh and the CDK CLI target the user's account, never the placeholder.

AWS is emulated by moto's server (STS answers GetCallerIdentity with moto's account,
123456789012), reached through AWS_ENDPOINT_URL like a real endpoint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.game_service.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
MOTO_ACCOUNT = "123456789012"


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path), **extra,
    )
    return env


def test_deploy_without_an_account_stops_with_one_line(tmp_path):
    result = subprocess.run(["bash", "scripts/deploy.sh", "deploy", "starter"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=_clean_env(tmp_path), stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "deploy: no AWS account: configure AWS credentials (aws configure / AWS_PROFILE) or set ACCOUNT=<12-digit id>"
    ]


def test_deploy_refuses_an_unknown_stage(tmp_path):
    result = subprocess.run(["bash", "scripts/deploy.sh", "deploy", "prod"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=_clean_env(tmp_path, ACCOUNT="111122223333"))
    assert result.returncode == 2 and "unknown stage 'prod'; allowed: starter, scale-out" in result.stderr


@pytest.fixture()
def moto_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://localhost:{port}"
    server.stop()


@pytest.mark.slow
def test_the_cli_with_credentials_synthesizes_for_their_account(tmp_path, moto_endpoint):
    """What `cdk deploy` and `cdk bootstrap` deploy: the CLI resolves the credentials'
    account (STS) and the app builds every stack for it, not for 000000000000."""
    env = _clean_env(tmp_path, AWS_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="testing",
                     AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                     PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "-o", str(out), "-c", "stage=starter", "-c", "monitoring=none"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no AWS account" not in result.stderr
    manifest = json.loads((out / "assembly-starter" / "manifest.json").read_text())
    environments = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert environments == {f"aws://{MOTO_ACCOUNT}/us-east-1"}
