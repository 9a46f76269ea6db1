#!/usr/bin/env bash
# "Is it distributed?" report of every stage: synthesizes first when cdk.out/ is missing
# or older than the app's sources, then reports each stage of the cloud assembly and ends
# with the stages side by side. Extra arguments go to the report (e.g. --json).
# Without a synth script and without cdk.out/, it reports the committed snapshots.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

stale() {
  [[ ! -f cdk.out/manifest.json ]] && return 0
  local src
  for src in app.py cdk.json stacks patterns game_service; do
    [[ -e "$src" ]] || continue
    if [[ -n "$(find "$src" -newer cdk.out/manifest.json -not -path '*/__pycache__/*' -print -quit)" ]]; then
      return 0
    fi
  done
  return 1
}

input=cdk.out
if stale; then
  if [[ -x scripts/synth.sh ]]; then
    echo "report: cdk.out/ is missing or stale; synthesizing (scripts/synth.sh)" >&2
    scripts/synth.sh >&2
  elif [[ -f cdk.out/manifest.json ]]; then
    echo "report: cdk.out/ may be stale and there is no scripts/synth.sh; reporting it as it is" >&2
  elif [[ -d tests/snapshots ]] && compgen -G "tests/snapshots/*/*.json" >/dev/null; then
    echo "report: no cdk.out/ and no scripts/synth.sh; reporting the committed snapshots" >&2
    input=tests/snapshots
  else
    echo "report: nothing to report: no cdk.out/, no scripts/synth.sh, no tests/snapshots/" >&2
    exit 2
  fi
fi
exec "$PY" -m topology_report report "$input" --side-by-side "$@"
