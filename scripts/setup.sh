#!/usr/bin/env bash
# What synthesizing and deploying need, with no root: a Python virtualenv in .venv with the
# pinned requirements, the pinned CDK CLI from package.json (node_modules/), and the
# service's wheelhouses (build/wheelhouse-<platform>.zip: what hosts install from, with no
# PyPI). The Debian packages that only tests and local tools need: scripts/setup-system.sh.
# Idempotent and quick when nothing changed (a stamp of the inputs' hashes).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

inputs=$(cat requirements*.txt game_service/requirements.txt topology_report/requirements*.txt \
  tests/*/requirements*.txt package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if ! [[ -f .setup-stamp && "$(cat .setup-stamp)" == "$inputs" && -x .venv/bin/python && -d node_modules ]]; then
  if [[ ! -x .venv/bin/python ]]; then
    echo "setup: creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
  fi
  echo "setup: installing Python requirements into .venv"
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "setup: installing the pinned CDK CLI (npm ci)"
  npm ci --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null
  echo "$inputs" > .setup-stamp
fi

# Quick when game_service/requirements.lock is unchanged (a key file per wheelhouse).
# aarch64: what the instances install; x86_64: what tests and local hosts install.
.venv/bin/python -m host.wheelhouse --platform aarch64 --platform x86_64 >/dev/null
