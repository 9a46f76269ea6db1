#!/usr/bin/env bash
# Synthesize every stage offline (no AWS account, no credentials, no network) with
# the pinned CDK CLI, then print a summary per stage: templates, stacks, resource
# counts, cdk-nag and cfn-lint status. Extra args go to `cdk synth` (e.g. -c stage=starter).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export CDK_DISABLE_VERSION_CHECK=1
rm -rf cdk.out
cdk synth --quiet --no-notices "$@"
if [[ -f cdk.context.json && "$(tr -d '[:space:]' < cdk.context.json)" == "{}" ]]; then rm -f cdk.context.json; fi
python -m checks.summary cdk.out
