#!/usr/bin/env bash
# Run every test: set up (idempotent), start local services, then pytest, ruff and mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/services.sh
.venv/bin/ruff check .
.venv/bin/mypy .
.venv/bin/python -m pytest "$@"
