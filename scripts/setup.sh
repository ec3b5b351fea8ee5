#!/usr/bin/env bash
# Sets up everything gate needs on a fresh Debian machine: the Debian packages
# (docker-registry, skopeo, umoci... for the demo and the tests) and a virtual
# environment in .venv with gate and its test tools installed. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: gate needs Python >= 3.11 ($python is $("$python" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
log=$(mktemp)
if ! .venv/bin/python -m pip install --quiet -e '.[test]' > "$log" 2>&1; then
  cat "$log" >&2
  echo "setup: pip install failed" >&2
  rm -f "$log"
  exit 2
fi
rm -f "$log"
.venv/bin/python -c 'import gate.cli' || { echo "setup: gate failed to install" >&2; exit 2; }
echo "setup: ready (.venv/bin/gate)" >&2
