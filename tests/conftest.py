"""Shared fixtures. Synthesizing is slow (aws-cdk-lib loads through jsii), so the
cloud assembly of every stage is synthesized once per test session, lazily: test
folders that never ask for it (the game service's) never pay for it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tooling.assembly import cdk_json_context, stage_templates, synth, use_pinned_node

STACKS = ("foundation", "network", "data", "storage", "app", "observability")
STAGES = ("starter", "scale-out")


def _load(outdir: Path) -> dict[str, dict[str, dict]]:
    loaded: dict[str, dict[str, dict]] = {}
    for stage, stacks in stage_templates(outdir).items():
        loaded[stage] = {name.removeprefix(f"{stage}-"): json.loads(path.read_text()) for name, path in stacks.items()}
    return loaded


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cloud assembly of every stage on embedded defaults (no account, no network)."""
    return synth(tmp_path_factory.mktemp("synth") / "cdk.out")


@pytest.fixture(scope="session")
def templates(assembly_dir: Path) -> dict[str, dict[str, dict]]:
    """{stage: {"network"|"data"|"storage"|"app"|"observability": template}}."""
    return _load(assembly_dir)


@pytest.fixture(scope="session")
def synth_config(tmp_path_factory: pytest.TempPathFactory):
    """Synthesize one custom StageConfig (a variant of a shipped stage) and load it."""
    use_pinned_node()

    def _synth(base: str, **changes) -> dict[str, dict]:
        from app import build_app
        from stacks.config import STAGES as CONFIGS

        outdir = tmp_path_factory.mktemp("variant") / "cdk.out"
        build_app(cdk_json_context(), str(outdir), configs=[replace(CONFIGS[base], **changes)]).synth()
        return _load(outdir)[base]

    return _synth


@pytest.fixture(scope="session")
def template(templates):
    """template(stage, stack) -> aws_cdk.assertions.Template of a synthesized stack."""
    from aws_cdk.assertions import Template

    cache: dict[tuple[str, str], Template] = {}

    def _get(stage: str, stack: str) -> Template:
        if (stage, stack) not in cache:
            cache[(stage, stack)] = Template.from_json(templates[stage][stack])
        return cache[(stage, stack)]

    return _get
