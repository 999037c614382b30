# Sourced by start.sh and test.sh: make .venv and install ATS (plus extras) when needed.
# Usage: bootstrap [EXTRAS]   e.g. bootstrap test
bootstrap() {
    local extras="${1:-}"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "ATS needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
        return 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "Creating .venv …" >&2
        "$python" -m venv .venv
    fi
    # Reinstall only when pyproject.toml or the requested extras changed.
    local stamp=".venv/.ats-installed${extras:+-$extras}"
    local digest
    digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "Installing ATS${extras:+ with [$extras]} into .venv …" >&2
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
        echo "$digest" > "$stamp"
    fi
    # Bytecode for every module, written now: where Python may not write it itself
    # (PYTHONDONTWRITEBYTECODE, as in many container images and on this project's
    # machines) each ats process would compile the package again, ~0.05-0.1 s of its
    # start-up (bench/optimize_speed.py: per sweep, and once more per fork server).
    # Up to date, this takes ~0.1 s.
    .venv/bin/python -m compileall -q -j 0 ats
}
