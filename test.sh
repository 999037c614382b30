#!/usr/bin/env bash
# Install ATS with its test extras into .venv if needed, then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh
bootstrap test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy ats
.venv/bin/pytest "$@"
