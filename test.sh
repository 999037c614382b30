#!/usr/bin/env bash
# Install ATS with its test extras into .venv if needed, then lint, type-check and test.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh
bootstrap test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy ats
# In parallel, one worker per core (at most 4); -n 0 in the arguments runs in one process.
# Tests that truly share a resource carry @pytest.mark.xdist_group (--dist loadgroup).
.venv/bin/pytest -n auto --maxprocesses=4 --dist loadgroup "$@"
