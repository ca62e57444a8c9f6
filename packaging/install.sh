#!/usr/bin/env bash
# Installs hapair's apt packages and its Python environment in .venv.
# Run as root on Debian 12 or Ubuntu. Safe to run again: it only adds what is missing.
#   install.sh                 everything: the lab, the demo, the tests
#   install.sh --control-only  the hapair command alone, to deploy real servers
set -euo pipefail
cd "$(dirname "$0")/.."

list=packaging/apt-packages.txt
extras=(-e '.[dev]' -e './apps/roombook[serve]')
if [ "${1:-}" = "--control-only" ]; then
  list=packaging/apt-control.txt
  extras=(-e .)
fi
pkgs=$(grep -v '^\s*#' "$list" | tr -s ' \n' ' ')
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their daemons on the host: hapair starts every
  # service it needs itself (in lab machines or test sandboxes).
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "==> apt: all packages present"
fi

py=${PYTHON:-/usr/bin/python3}
[ -x "$py" ] || py=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> python: creating .venv with $py"
  "$py" -m venv .venv
fi
echo "==> python: installing hapair and its dependencies into .venv"
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q "${extras[@]}"
echo "==> install done"
