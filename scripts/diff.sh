#!/usr/bin/env bash
# Offline infra diff for reviewers: a fresh synth of every stack against the
# committed snapshot (tests/snapshots/). No AWS access.
#   1. First, flagged: every replacement and deletion (python -m checks.changes),
#      stateful ones (database, secrets, buckets, keys...) marked STATEFUL.
#   2. Then each stack's `cdk diff --template` in full.
# Asset hashes (service code, web page) are masked on both sides, as in the
# snapshots: what shows is a change of infrastructure (a code change still shows
# where it changes a logical ID, e.g. the starter instance's).
# Usage: scripts/diff.sh [stage]
# Exit 1 when a stateful resource would be replaced or deleted, else 0 (the tests
# fail on a stale snapshot).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export CDK_DISABLE_VERSION_CHECK=1
rm -rf cdk.out
cdk synth --quiet --no-notices >/dev/null 2>&1
python -m checks.snapshots mask cdk.out cdk.out.masked >/dev/null
stages=("${1:-}")
[[ -z "${stages[0]}" ]] && stages=(starter small scale-out)

summary_status=0
for stage in "${stages[@]}"; do
  python -m checks.changes tests/snapshots cdk.out.masked "$stage" || summary_status=$?
done
echo
echo "== cdk diff per stack (asset hashes masked: a code or static file change shows only through a changed logical ID)"
for stage in "${stages[@]}"; do
  for snapshot in tests/snapshots/"$stage"/*.template.json; do
    stack_name=$(basename "$snapshot" .template.json)
    stack_id="$stage/$(python -c "import sys; s=sys.argv[1].removeprefix(sys.argv[2] + '-'); print(s.capitalize())" "$stack_name" "$stage")"
    { cdk diff --no-notices --exclusively --app cdk.out.masked --template "$snapshot" "$stack_id" 2>&1 || true; } | sed "/^$/d" | { grep -v "Number of stacks with differences" || true; }
  done
done
if [[ $summary_status -ne 0 ]]; then
  echo
  echo "!! make diff: a STATEFUL resource would be replaced or deleted (see the top of this output)"
fi
exit "$summary_status"
