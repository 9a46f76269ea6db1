"""The contract between the service and the infrastructure (game_service/contract.py):
what the app stack writes to the hosts' environment file is what the service reads, and
the paths, port and prefixes both sides use are the same."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from game_service import contract
from game_service.core.config import Settings
from stacks.config import STAGES
from tests.stacks.helpers import props, resources

REPO = Path(__file__).resolve().parents[2]


def _env_file_keys(templates, stage: str) -> set[str]:
    """The GAME_* keys of the environment files in the stage's synthesized user data: the
    hosts', the migration's and (a stage with a worker tier) the worker hosts'."""
    app = templates[stage]["app"]
    raws = [r["Properties"]["UserData"] for r in resources(app, "AWS::EC2::Instance").values()]
    raws += [d["LaunchTemplateData"]["UserData"] for d in props(app, "AWS::EC2::LaunchTemplate")
             if "UserData" in d["LaunchTemplateData"]]
    # the app tier (an instance or a launch template), the migration, the worker tier's
    assert len(raws) == 2 + STAGES[stage].has_worker_tier
    return set(re.findall(r"(?<![A-Z0-9_])(GAME_[A-Z0-9_]+)=", json.dumps(raws)))


def _settings_variables() -> set[str]:
    return {contract.ENV_PREFIX + name.upper() for name in Settings.model_fields}


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_every_game_variable_the_app_stack_writes_is_a_setting_of_the_service(templates, stage):
    keys = _env_file_keys(templates, stage)
    assert len(keys) >= 10, keys  # the environment file was found
    unknown = sorted(keys - _settings_variables())
    assert not unknown, f"the app stack writes variables the service does not read: {unknown}"
    declared = {v for k, v in vars(contract.Env).items() if not k.startswith("_")}
    assert keys <= declared, f"written but not in game_service.contract.Env: {sorted(keys - declared)}"


def test_the_contract_names_only_settings_of_the_service():
    declared = {k: v for k, v in vars(contract.Env).items() if not k.startswith("_")}
    assert all(v == contract.ENV_PREFIX + k for k, v in declared.items()), declared
    assert set(declared.values()) <= _settings_variables()
    s = Settings(session_secret="x")
    assert s.port == contract.PORT and s.db_user == contract.APP_DB_USER


def test_the_service_serves_the_contract_paths_and_the_infrastructure_checks_them(templates):
    from game_service.main import create_app

    paths = create_app(Settings(session_secret="x", serve_static=False)).openapi()["paths"]
    assert "get" in paths[contract.LIVENESS_PATH] and "get" in paths[contract.READINESS_PATH]
    (group,) = resources(templates["scale-out"]["app"], "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert group["Properties"]["HealthCheckPath"] == contract.LIVENESS_PATH
    assert group["Properties"]["Port"] == contract.PORT
    # the host bootstrap is shell: it repeats the default port and the health paths
    script = (REPO / "host" / "bootstrap.sh").read_text()
    assert f"PORT=${{PORT:-{contract.PORT}}}" in script
    assert f"$BASE{contract.LIVENESS_PATH}" in script and f"$BASE{contract.READINESS_PATH}" in script


@pytest.mark.parametrize("stage", ["starter", "small", "scale-out"])
def test_the_instance_role_reaches_exactly_the_contract_prefixes_of_the_media_bucket(templates, stage):
    from game_service.core.storage import avatar_key_for, new_incoming_key

    policies = json.dumps([p for p in resources(templates[stage]["app"], "AWS::IAM::Policy").values()])
    for prefix in (contract.UPLOAD_PREFIX, contract.MEDIA_PREFIX):
        assert f"-media-bucket-arn/{prefix}*" in policies or f"/{prefix}*" in policies, prefix
    assert new_incoming_key(7, "image/png").startswith(contract.UPLOAD_PREFIX)
    assert avatar_key_for(7, "image/png").startswith(contract.MEDIA_PREFIX)
