#!/usr/bin/env bash
# The Debian packages the tests, the local topology and the benchmarks need
# (scripts/system-packages.txt): PostgreSQL's server binaries, Chromium, HAProxy, nginx,
# wrk, shellcheck... Installs only what is missing, with apt-get (root, or passwordless
# sudo). Synthesizing and deploying need none of them (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/system-packages.txt
((${#missing[@]})) || exit 0

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
