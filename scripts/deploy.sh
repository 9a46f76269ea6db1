#!/usr/bin/env bash
# Deploy, bootstrap or destroy one stage in a real AWS account, with the pinned CDK CLI.
#   scripts/deploy.sh bootstrap|deploy|diff|destroy STAGE [extra cdk args, e.g. -c alarm_emails=ops@example.com]
# The account is ACCOUNT=... (or -c account=... among the extra args), else the account of
# the AWS credentials in use. Never the placeholder account synth uses offline: with neither,
# this stops with one line saying how to set it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PWD/node_modules/.bin:$PATH"
export CDK_DISABLE_VERSION_CHECK=1

command=${1:-}; stage=${2:-}
case "$command" in bootstrap|deploy|diff|destroy) ;; *)
  echo "usage: scripts/deploy.sh bootstrap|deploy|diff|destroy STAGE [cdk args]" >&2; exit 2 ;;
esac
shift 2 || { echo "usage: scripts/deploy.sh $command STAGE [cdk args]" >&2; exit 2; }
region=$(python -c "import sys; from stacks.config import STAGES; print(STAGES[sys.argv[1]].region)" "$stage" 2>/dev/null) \
  || { echo "deploy: unknown stage '$stage'; allowed: $(python -c 'from stacks.config import STAGES; print(", ".join(STAGES))')" >&2; exit 2; }

account=${ACCOUNT:-}
for arg in "$@"; do [[ "$arg" == account=* ]] && account=${arg#account=}; done
if [[ -z "$account" ]]; then
  # In the stage's region: credentials without a default region (e.g. only
  # AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) still name their account.
  account=$(python - "$region" <<'EOF' 2>/dev/null || true
import sys
import boto3
print(boto3.client("sts", region_name=sys.argv[1]).get_caller_identity()["Account"])
EOF
)
fi
if [[ ! "$account" =~ ^[0-9]{12}$ || "$account" == 000000000000 ]]; then
  echo "deploy: no AWS account: configure AWS credentials (aws configure / AWS_PROFILE) or set ACCOUNT=<12-digit id>" >&2
  exit 1
fi

context=(-c "stage=$stage" -c "account=$account")
# Every stack lives inside the stage's CDK Stage: `--all` would select only top-level stacks
# (there are none), so the stage's own stacks are selected by path: "starter/*".
stacks="$stage/*"
case "$command" in
  # The bootstrap stack needs nothing from the app: --app '' keeps the CLI from synthesizing
  # it (which would ask for the stage's monitoring choice before anything is deployed).
  bootstrap) exec cdk bootstrap --no-notices --app '' "$@" "aws://$account/$region" ;;
  deploy)
    # A change that widens access (IAM, security groups) waits for a yes, unless the
    # arguments choose otherwise (the CLI takes the option once).
    approval=(--require-approval broadening)
    [[ " $* " == *" --require-approval"* ]] && approval=()
    exec cdk deploy --no-notices "${context[@]}" "${approval[@]}" "$@" "$stacks" ;;
  diff) exec cdk diff --no-notices "${context[@]}" "$@" "$stacks" ;;
  destroy)
    # Deleting needs only the stage's stack names, not its alarm subscribers: without a
    # monitoring choice among the arguments, the app is synthesized with none, so
    # `make destroy STAGE=...` works without repeating the deploy's ARGS.
    [[ " $* " == *"monitoring="* || " $* " == *"alarm_emails="* ]] || context+=(-c monitoring=none)
    # cdk destroy deletes the stateless stacks first and stops at the first protected one:
    # the game would be down with its data still there. A protected stage is refused up
    # front, with nothing deleted (README, "Tear down scale-out").
    protected=$(python - "$stage" "$region" <<'EOF'
import sys
import boto3
stage, region = sys.argv[1:]
pages = boto3.client("cloudformation", region_name=region).get_paginator("describe_stacks").paginate()
print(" ".join(sorted(
    s["StackName"] for page in pages for s in page["Stacks"]
    if s.get("EnableTerminationProtection") and {"Key": "stage", "Value": stage} in s.get("Tags", [])
)))
EOF
) || { echo "destroy: could not list the stacks of stage '$stage' in $region (above): nothing was deleted" >&2; exit 1; }
    if [[ -n "$protected" ]]; then
      echo "destroy: $protected of stage '$stage' have termination protection: nothing was deleted; to tear the stage down on purpose, follow README.md, \"Tear down scale-out\"" >&2
      exit 1
    fi
    exec cdk destroy --no-notices "${context[@]}" "$@" "$stacks" ;;
esac
