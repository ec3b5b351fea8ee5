#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the whole test suite: ruff, mypy --strict,
# then pytest (unit, conformance against ../shared/fixtures/real, and
# integration tests that start real servers on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict" >&2
.venv/bin/mypy
echo "== pytest" >&2
.venv/bin/pytest "$@"
