#!/usr/bin/env bash
# Installs everything this repository needs on a fresh machine: Debian packages
# (scripts/system-packages.txt), a Python virtualenv in .venv with the pinned
# requirements, the pinned CDK CLI from package.json (node_modules/), and the service's
# wheelhouses (build/wheelhouse-<platform>.zip: what hosts install from, with no PyPI).
# Idempotent and quick when nothing changed (a stamp of the inputs' hashes).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/system-packages.txt
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "setup: need root (or passwordless sudo) to apt-get install ${missing[*]}; or install them yourself" >&2
      exit 1
    fi
  fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$inputs" > .setup-stamp
fi

# Quick when game_service/requirements.lock is unchanged (a key file per wheelhouse).
# aarch64: what the instances install; x86_64: what tests and local hosts install.
.venv/bin/python -m tooling.wheelhouse --platform aarch64 --platform x86_64 >/dev/null
