#!/usr/bin/env bash
# The local topology (a stage's shape on one machine): up [--stage NAME] [--hosts N] [--port P]
# [--no-netns], down, status. State in ./var/local (override with LOCAL_STATE=...). Network namespaces need root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]]; then
  echo "local: run make setup first (no .venv)" >&2
  exit 1
fi
exec .venv/bin/python -m local_topology --state "${LOCAL_STATE:-var/local}" "$@"
