#!/usr/bin/env bash
# Install ATS into .venv if needed, then open the console (or pass any ats arguments).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/bootstrap.sh
bootstrap
exec .venv/bin/ats "$@"
