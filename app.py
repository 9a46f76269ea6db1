#!/usr/bin/env python3
"""CDK entry point: one GameStage per selected stage (all of them without `-c stage=`).

Offline and deterministic: every stage carries its account, region and AZs, so
synth asks AWS nothing. cdk-nag (AwsSolutions) and CDK's CloudFormation validation
check every stage, each once for the whole app (docs/decisions.md, "Synth speed").
"""

from __future__ import annotations

import os
import sys

from node_runtime import UnsupportedNode, use_supported_node

try:
    use_supported_node()  # before aws_cdk starts Node: a supported release, single-threaded GC
except UnsupportedNode as error:
    sys.exit(f"error: {error}")

from aws_cdk import App, CloudFormationValidatePlugin, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from host.wheelhouse import WheelhouseError  # noqa: E402
from stacks.config import OVERRIDABLE_KEYS, PLACEHOLDER_ACCOUNT, StageConfig, StageConfigError, select_stages  # noqa: E402
from stacks.stage import GameStage  # noqa: E402


def build_app(
    context: dict | None = None,
    outdir: str | None = None,
    configs: list[StageConfig] | None = None,
    *,
    checks: bool = True,
) -> App:
    """The app; ``context``/``outdir`` for in-process synth (the CLI passes both by env).
    ``configs`` replaces the stages chosen from context (tests synthesize variants).
    ``checks=False`` leaves out CDK's CloudFormation validation and cdk-nag, which only read
    the assembly (same templates): for tests that read templates of a variant."""
    # No CDK analytics metadata: templates stay free of version-specific blobs.
    app = App(context=context, outdir=outdir, analytics_reporting=False, builtin_cloud_formation_validation=checks)
    # CDK's CloudFormation validation, its engine started here rather than left to CDK's
    # default, which starts it at synth: the engine's start-up runs hundreds of full garbage
    # collections, each slower the more constructs are in memory, so starting it before any
    # stage exists saves a second. Same rules, same report. The CLI's --no-validation
    # (CDK_VALIDATION=false) turns it off.
    if checks and os.environ.get("CDK_VALIDATION") != "false":
        Validations.of(app).add_plugins(CloudFormationValidatePlugin())
    if configs is None:
        ctx = {key: app.node.try_get_context(key) for key in ("stage", *sorted(OVERRIDABLE_KEYS))}
        configs = select_stages({k: v for k, v in ctx.items() if v is not None})
        _note_placeholder_account(configs)
    for config in configs:
        GameStage(app, config=config)
    # Once, on the app: a cdk-nag pack checks the whole construct tree whatever it is
    # registered on, so one pack per stage checked (and reported) everything twice.
    if checks:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def _note_placeholder_account(configs: list[StageConfig]) -> None:
    placeholder = [c.name for c in configs if c.is_placeholder_account]
    if placeholder:
        print(
            f"note: {', '.join(placeholder)}: no AWS account (neither -c account=... nor AWS credentials), "
            f"synthesized for the placeholder {PLACEHOLDER_ACCOUNT}, which is never deployed; "
            "to deploy, configure AWS credentials or pass -c account=<12 digits>",
            file=sys.stderr,
        )


def main() -> None:
    try:
        app = build_app()
    except StageConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        sys.exit(1)
    except WheelhouseError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
