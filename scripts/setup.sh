#!/usr/bin/env bash
# Set up platestream on a fresh machine: a virtual environment in .venv with the package and its tools.
# Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first and pinned: a bare `torch` requirement would pull a multi-GB CUDA build from the index.
.venv/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install --quiet -e '.[dev]'
.venv/bin/platestream --version
