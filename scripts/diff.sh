#!/usr/bin/env bash
# Offline infra diff for reviewers: a fresh synth of every stack against the
# committed snapshot (tests/snapshots/), with `cdk diff --template`. No AWS access.
# Asset hashes (service code, web page) are masked on both sides, as in the
# snapshots: what shows is a change of infrastructure.
# Usage: scripts/diff.sh [stage]   (exit 0 either way; the tests fail on a stale snapshot)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export CDK_DISABLE_VERSION_CHECK=1
rm -rf cdk.out
cdk synth --quiet --no-notices >/dev/null 2>&1
python -m tooling.snapshots mask cdk.out cdk.out.masked >/dev/null
stages=("${1:-}")
[[ -z "${stages[0]}" ]] && stages=(starter scale-out)
for stage in "${stages[@]}"; do
  for snapshot in tests/snapshots/"$stage"/*.template.json; do
    stack_name=$(basename "$snapshot" .template.json)
    stack_id="$stage/$(python -c "import sys; s=sys.argv[1].removeprefix(sys.argv[2] + '-'); print(s.capitalize())" "$stack_name" "$stage")"
    { cdk diff --no-notices --exclusively --app cdk.out.masked --template "$snapshot" "$stack_id" 2>&1 || true; } | sed "/^$/d" | { grep -v "Number of stacks with differences" || true; }
  done
done
