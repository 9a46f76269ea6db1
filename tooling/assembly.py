"""Synthesize the app in-process and read a cloud assembly back."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "node_modules" / ".bin"


JSII_NODE = ROOT / "tooling" / "jsii-node"
JSII_RUNTIMES = ROOT / "build" / "jsii-runtime"


def use_pinned_node() -> None:
    """Put the Node from package.json (a supported release) first on PATH for jsii, and
    have jsii start it through ``tooling/jsii-node`` (single-threaded garbage collection and
    a compile cache: docs/decisions.md, "Synth speed") unless JSII_NODE is set already,
    from a runtime kept in build/jsii-runtime/ unless JSII_RUNTIME is. Takes effect for the
    jsii runtime this process starts: call it before the first ``import aws_cdk``."""
    if NODE_BIN.is_dir() and str(NODE_BIN) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    if os.name == "posix":
        os.environ.setdefault("JSII_NODE", str(JSII_NODE))
    if "JSII_RUNTIME" not in os.environ:
        runtime = _jsii_runtime()
        if runtime is not None:
            os.environ["JSII_RUNTIME"] = str(runtime)


def _jsii_runtime() -> Path | None:
    """jsii's runtime (the launcher and the program it starts), written once per jsii
    version to build/jsii-runtime/<version>/, where jsii itself writes it to a new temporary
    directory every run: Node's compile cache keys by file name, so that way its entry for
    the runtime would never be read again and a new one would be added every run. None
    where build/ cannot be written (jsii's own way then)."""
    import jsii
    from jsii._embedded import jsii as embedded

    target = JSII_RUNTIMES / jsii.__jsii_runtime_version__
    entrypoint = target / embedded.EMBEDDED_FILES[embedded.ENTRYPOINT]
    if entrypoint.is_file():
        return entrypoint
    try:
        JSII_RUNTIMES.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=JSII_RUNTIMES, prefix=".staging-"))
    except OSError:
        return None
    try:
        for resource, name in embedded.EMBEDDED_FILES.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes((files(embedded) / resource).read_bytes())
    except OSError:  # e.g. a full disk
        shutil.rmtree(staging, ignore_errors=True)
        return None
    try:
        staging.rename(target)  # all files at once: a concurrent synth sees none or all
    except OSError:  # another process was first: its copy is the same
        shutil.rmtree(staging, ignore_errors=True)
    return entrypoint


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


def synth(outdir: Path, context: dict | None = None) -> Path:
    """Synthesize every stage (or the one in ``context``) into ``outdir``, exactly
    as `cdk synth` would (same cdk.json context), in this process."""
    use_pinned_node()
    from app import build_app  # imports aws_cdk: slow, so only when needed

    if outdir.exists():
        shutil.rmtree(outdir)
    build_app({**cdk_json_context(), **(context or {})}, outdir=str(outdir)).synth()
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
