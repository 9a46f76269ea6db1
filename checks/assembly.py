"""Synthesize the app in-process and read a cloud assembly back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict:
    """The context the CDK CLI passes to the app: cdk.json's (feature flags) plus the
    CLI's own defaults, so an in-process synth writes the same templates as `cdk synth`."""
    cli_defaults = {
        "aws:cdk:enable-path-metadata": True,
        "aws:cdk:enable-asset-metadata": True,
        "aws:cdk:version-reporting": False,
        "aws:cdk:bundling-stacks": ["**"],
    }
    return {**cli_defaults, **json.loads((ROOT / "cdk.json").read_text()).get("context", {})}


def synth(outdir: Path, context: dict | None = None, *, checks: bool = True) -> Path:
    """Synthesize every stage (or the one in ``context``) into ``outdir``, exactly
    as `cdk synth` would (same cdk.json context), in this process; ``checks=False`` leaves
    out CDK's validation and cdk-nag (same templates, see ``app.build_app``)."""
    from app import build_app  # starts jsii's Node and loads aws-cdk-lib: slow, so only when needed

    if outdir.exists():
        shutil.rmtree(outdir)
    build_app({**cdk_json_context(), **(context or {})}, outdir=str(outdir), checks=checks).synth()
    return outdir


def stage_templates(outdir: Path) -> dict[str, dict[str, Path]]:
    """{stage: {stack name: template path}} from the assembly's manifests."""
    result: dict[str, dict[str, Path]] = {}
    top = json.loads((outdir / "manifest.json").read_text())
    for artifact_id, artifact in sorted(top.get("artifacts", {}).items()):
        if artifact.get("type") != "cdk:cloud-assembly":
            continue
        stage_dir = outdir / artifact["properties"]["directoryName"]
        stage = artifact_id.removeprefix("assembly-")
        manifest = json.loads((stage_dir / "manifest.json").read_text())
        stacks = {}
        for art in manifest.get("artifacts", {}).values():
            if art.get("type") == "aws:cloudformation:stack":
                props = art["properties"]
                stacks[props.get("stackName", art.get("displayName"))] = stage_dir / props["templateFile"]
        result[stage] = dict(sorted(stacks.items()))
    return result


def validation_findings(outdir: Path) -> list[dict]:
    """Findings CDK's validation (cdk-nag, annotations) wrote, one dict a finding."""
    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    findings = []
    for plugin in json.loads(report.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            constructs = violation.get("violatingConstructs") or violation.get("violatingResources") or []
            findings.append(
                {
                    "plugin": plugin.get("pluginName"),
                    "rule": violation.get("ruleName"),
                    "severity": violation.get("severity"),
                    "description": violation.get("description", ""),
                    "paths": [c.get("constructPath") or c.get("resourceLogicalId") for c in constructs],
                }
            )
    return findings
