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
  account=$(python - <<'EOF' 2>/dev/null || true
import boto3
print(boto3.client("sts").get_caller_identity()["Account"])
EOF
)
fi
if [[ ! "$account" =~ ^[0-9]{12}$ || "$account" == 000000000000 ]]; then
  echo "deploy: no AWS account: configure AWS credentials (aws configure / AWS_PROFILE) or set ACCOUNT=<12-digit id>" >&2
  exit 1
fi

context=(-c "stage=$stage" -c "account=$account")
case "$command" in
  bootstrap) exec cdk bootstrap --no-notices "${context[@]}" "$@" "aws://$account/$region" ;;
  deploy) exec cdk deploy --no-notices "${context[@]}" --all --require-approval broadening "$@" ;;
  diff) exec cdk diff --no-notices "${context[@]}" --all "$@" ;;
  destroy) exec cdk destroy --no-notices "${context[@]}" --all "$@" ;;
esac
