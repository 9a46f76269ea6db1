#!/usr/bin/env python3
"""CDK entry point: one GameStage per selected stage (all of them without `-c stage=`).

Offline and deterministic: every stage carries its account, region and AZs, so
synth asks AWS nothing. cdk-nag (AwsSolutions) and CDK's CloudFormation validation
check every stage, each once for the whole app (docs/decisions.md, "Synth speed").
"""

from __future__ import annotations

import os
import sys

from tooling.assembly import use_pinned_node

use_pinned_node()  # before aws_cdk starts Node: the pinned Node, single-threaded GC, compile cache

from aws_cdk import App, CloudFormationValidatePlugin, Validations  # noqa: E402

from tooling.jsii_background import in_background  # noqa: E402

# CDK's CloudFormation validation engine takes Node about a second to start, with Python
# waiting: so Node starts it now, while Python imports the stacks' modules below (which
# send Node nothing; a request that did would wait for the engine). One engine per
# process, as CDK's default is: every app a test session builds shares it. The CLI's
# --no-validation (CDK_VALIDATION=false) turns validation off.
_VALIDATION = (
    None if os.environ.get("CDK_VALIDATION") == "false"
    else in_background(CloudFormationValidatePlugin, name="validation-engine")
)

from stacks.config import OVERRIDABLE_KEYS, PLACEHOLDER_ACCOUNT, StageConfig, StageConfigError, select_stages  # noqa: E402
from stacks.stage import GameStage  # noqa: E402

from cdk_nag import AwsSolutionsChecks  # noqa: E402  (loading it into Node waits for the engine)


def build_app(
    context: dict | None = None, outdir: str | None = None, configs: list[StageConfig] | None = None
) -> App:
    """The app; ``context``/``outdir`` for in-process synth (the CLI passes both by env).
    ``configs`` replaces the stages chosen from context (tests synthesize variants)."""
    # No CDK analytics metadata: templates stay free of version-specific blobs.
    app = App(context=context, outdir=outdir, analytics_reporting=False)
    # CDK's CloudFormation validation, its engine started at import (above) rather than
    # left to CDK's default, which starts it at synth: the engine's start-up runs hundreds
    # of full garbage collections, each slower the more constructs are in memory, so
    # starting it before any stage exists saves a second or more. Same rules, same report.
    if _VALIDATION is not None:
        Validations.of(app).add_plugins(_VALIDATION.result())
    if configs is None:
        ctx = {key: app.node.try_get_context(key) for key in ("stage", *sorted(OVERRIDABLE_KEYS))}
        configs = select_stages({k: v for k, v in ctx.items() if v is not None})
        _note_placeholder_account(configs)
    for config in configs:
        GameStage(app, config=config)
    # Once, on the app: a cdk-nag pack checks the whole construct tree whatever it is
    # registered on, so one pack per stage checked (and reported) everything twice.
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
    app.synth()


if __name__ == "__main__":
    main()
