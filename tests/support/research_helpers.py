"""Running ``ats optimize`` in this process and reading what it wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ats.cli import main


def optimize(out: Path, *args: str) -> dict[str, Any]:
    """``ats optimize ARGS --json OUT --quiet``; the parsed JSON (exit code must be 0)."""
    code = main(["optimize", *args, "--json", str(out), "--quiet"])
    assert code == 0
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def sma_grid(data: Path) -> list[str]:
    return [
        "--strategy",
        "sma_cross",
        "--data",
        str(data),
        "--param",
        "fast=5:20:5",
        "--param",
        "slow=30,60",
    ]
