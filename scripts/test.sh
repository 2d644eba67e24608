#!/usr/bin/env bash
# Run every test: system packages and set-up (both idempotent), local services, then ruff, mypy and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
scripts/setup.sh
scripts/services.sh
.venv/bin/ruff check .
.venv/bin/mypy .
.venv/bin/python -m pytest "$@"
