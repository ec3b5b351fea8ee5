#!/usr/bin/env bash
# Sets up everything gate needs on a fresh Debian machine: the Debian packages
# (docker-registry, skopeo, umoci... for the demo and the tests) and a virtual
# environment in .venv with gate and its test tools installed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: gate needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    echo "setup: installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$python" -m venv .venv
  fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -m pip install --quiet -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import gate.cli' || { echo "setup: gate failed to install" >&2; exit 2; }
echo "setup: ready (.venv/bin/gate)" >&2
